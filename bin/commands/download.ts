import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { parseDuration } from '../../constructs/duration.js';
import { KIND, type MustGatherReport } from '../../constructs/report-api.js';
import { KubeApiError, KubeClient } from '../../kube/client.js';
import {
  type ClientCredentials, DownloadError, type DownloadReportOptions, type DownloadResult, downloadReport, formatProgress, kubeConfigCredentials,
  type PublishedReport, waitForReady,
} from '../../datapath/download.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather download REPORT [-n NAMESPACE] [-o FILE] [--timeout D] [--delete] [--token TOKEN] [--certificate-authority FILE]
         [--insecure-skip-tls-verify]

Waits for the MustGatherReport REPORT to be Ready, then downloads its archive with the current context's own
credentials (bearer token, client certificate, exec plugin or auth provider; the report's server admits cluster admins
only), resuming an interrupted download, and verifies it against status.archive.sha256. The archive comes from
status.report_url when that is reachable from here, else through a port-forward via the API server to the report
pod. The server's certificate is checked against status.caBundle (when the operator issued it) and the system's CAs.
  -n, --namespace NS               the report's namespace (default: the context's)
  -o, --output FILE                default must-gather-NAMESPACE-REPORT.tar.gz
      --timeout D                  how long to wait for Ready (default 30m)
      --delete                     delete the report once its archive is downloaded and verified against
                                   status.archive.sha256 (the operator then removes everything it created)
      --token TOKEN                present this bearer token to the report's server instead of the context's credentials
      --certificate-authority FILE also trust this CA for the report URL (a route's or ingress's, e.g. the ingress CA)
      --insecure-skip-tls-verify   do not verify the report URL's certificate
Gather failures do not stop the wait: the archive holds whatever the gathers collected.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    namespace: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
    timeout: { type: 'string', default: '30m' },
    token: { type: 'string' },
    'certificate-authority': { type: 'string' },
    'insecure-skip-tls-verify': { type: 'boolean', default: false },
    delete: { type: 'boolean', default: false },
  }, HELP, true);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('expected exactly one report name');
  const name = positionals[0]!;
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs === undefined) throw new UsageError(`--timeout must be a duration such as 30m, not "${values.timeout}"`);
  const ca = values['certificate-authority'] === undefined ? undefined : readCa(values['certificate-authority']);

  const kc = new KubeConfig();
  kc.loadFromDefault();
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const credentials = await downloadCredentials(kc, values.token);
  const client = new KubeClient(kc);
  const reportRef = `${namespace}/${name}`;

  const status = new StatusLine(process.stderr);
  try {
    const report = await waitForReady({
      reportRef,
      timeoutMs,
      readReport: reportReader(client, kc, { namespace, name }),
      onStatus: (line) => status.show(`${reportRef}: ${line}`),
    });
    status.done(`${reportRef}: Ready, ${report.status.report_url}`);

    const output = values.output ?? `must-gather-${namespace}-${name}.tar.gz`;
    // A download that fails verification throws here: the report is kept.
    await saveArchive(report, {
      output, credentials, kubeConfig: kc, ca: ca ? [ca] : [], insecure: values['insecure-skip-tls-verify'],
    }, status);
    if (values.delete) {
      if (!report.status.archive?.sha256) throw new DownloadError(`${reportRef}: not deleted: it publishes no status.archive.sha256 to verify the download against`);
      try {
        await deleteReport(client, report);
      } catch (err) {
        throw new DownloadError(`${reportRef}: downloaded, but not deleted: ${(err as Error).message}`, { cause: err });
      }
      status.done(`${reportRef}: deleted`);
    }
  } finally {
    client.close();
  }
  return 0;
}

/**
 * Deletes the report a command read, and only that one: the uid precondition never deletes a namesake created since.
 * Already gone is fine.
 */
export async function deleteReport(client: KubeClient, report: MustGatherReport): Promise<void> {
  const { namespace, name, uid } = report.metadata;
  await client.delete({ kind: KIND, namespace, name }, { ...(uid ? { uid } : {}) });
}

function readCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`--certificate-authority ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Reads the report for {@link waitForReady}, turning the API server's refusals into what the user should do: they
 * are final, unlike a blip.
 */
export function reportReader(client: KubeClient, kc: KubeConfig, ref: { namespace: string; name: string }): () => Promise<MustGatherReport | undefined> {
  return async () => {
    try {
      return await client.get<MustGatherReport>({ kind: KIND, ...ref });
    } catch (err) {
      const code = err instanceof KubeApiError ? err.statusCode : undefined;
      if (code === 401) throw new DownloadError(`the Kubernetes API rejected the credentials of context "${kc.getCurrentContext()}" (HTTP 401): the token is wrong or expired; log in again ("oc login")`, { cause: err });
      if (code === 403) throw new DownloadError(`the user of context "${kc.getCurrentContext()}" may not read MustGatherReports in ${ref.namespace} (HTTP 403): downloading a report takes a cluster admin`, { cause: err });
      throw err;
    }
  };
}

/** Downloads a Ready report's archive to `options.output`, showing the route and the progress on `status`. */
export async function saveArchive(report: PublishedReport, options: DownloadReportOptions, status: StatusLine): Promise<DownloadResult> {
  const started = Date.now();
  let firstByte: number | undefined;
  const result = await downloadReport(report, {
    ...options,
    onRoute: (line) => status.done(line),
    onProgress: ({ received, total, resumedFrom }) => {
      firstByte ??= resumedFrom;
      const seconds = (Date.now() - started) / 1000;
      status.show(formatProgress(received, total, seconds > 0 ? (received - firstByte) / seconds : 0), 'progress');
    },
  });
  status.done(`saved ${result.path} (${result.bytes} bytes, sha256 ${result.sha256}${report.status.archive?.sha256 ? ' verified' : ''})`);
  return result;
}

/** What the report's server is shown: `--token`, else the context's own credentials (never its API server CA). */
export async function downloadCredentials(kc: KubeConfig, token: string | undefined): Promise<ClientCredentials> {
  if (token !== undefined) return { authorization: `Bearer ${token}` };
  const credentials = await kubeConfigCredentials(kc);
  if (!credentials.authorization && !(credentials.cert && credentials.key)) {
    throw new UsageError(`the context "${kc.getCurrentContext()}" has no token or client certificate: log in (e.g. "oc login") as a cluster admin, or pass --token`);
  }
  return credentials;
}

/**
 * One live status line on stderr: rewritten in place on a terminal (at most 10 times a second), printed only when it
 * changes otherwise (progress at most every 5 s) so logs stay readable.
 */
export class StatusLine {
  #last = '';
  #lastAt = 0;
  #silenced = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  /** Writes nothing more: the work it reports on was abandoned (Ctrl-C), and a late line would follow the goodbye. */
  silence(): void {
    this.#silenced = true;
  }

  show(line: string, kind: 'status' | 'progress' = 'status'): void {
    if (this.#silenced) return;
    const now = Date.now();
    if (this.out.isTTY) {
      if (now - this.#lastAt < 100 && kind === 'progress') return;
      this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns || 120) - 1)}`);
    } else {
      if (line === this.#last || (kind === 'progress' && now - this.#lastAt < 5000)) return;
      this.out.write(`${line}\n`);
    }
    this.#last = line;
    this.#lastAt = now;
  }

  done(line: string): void {
    if (this.#silenced) return;
    this.out.write(this.out.isTTY ? `\r\x1b[K${line}\n` : `${line}\n`);
    this.#last = '';
    this.#lastAt = 0;
  }
}
