/**
 * `mustgather gather`, the operator's `oc adm must-gather`: creates a MustGatherReport from flags, shows each change
 * of its gathers and of its Ready condition, downloads and verifies the archive when Ready (the download command's
 * code), unpacks it into a local directory and deletes the report. Ctrl-C deletes the report it made.
 */
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { isDnsLabel, isDnsSubdomain } from '../../constructs/kube-names.js';
import {
  API_GROUP, API_VERSION, type GatherStatus, KIND, type MustGatherReport, type MustGatherReportSpec, ReportValidationError, SINCE_EXCLUSIVE_MESSAGE,
  validateSpec,
} from '../../constructs/report-api.js';
import { parseRedactKinds, REDACT_KINDS, type RedactKind } from '../../constructs/pod-contract.js';
import { waitForReady } from '../../datapath/download.js';
import { extractArchive } from '../../datapath/extract.js';
import { KubeClient, type KubeObject } from '../../kube/client.js';
import { parseCommandArgs, UsageError } from '../usage.js';
import { deleteReport, downloadCredentials, reportReader, saveArchive, StatusLine } from './download.js';

const HELP = `Usage: mustgather gather [--image I]... [--all-images] [--image-stream NS/NAME:TAG]... [--since D | --since-time T]
         [--timeout D] [--node-name N] [--node-selector K=V,...] [--volume-percentage P] [--delete-after D] [--dest-dir DIR] [--keep] [-n NAMESPACE] [--name NAME]
         [--redact KINDS] [--kubeconfig FILE] [-- CMD ARGS...]

Creates a MustGatherReport, shows its progress, downloads and verifies its archive when it is Ready, unpacks it into
DIR and deletes the report. Ctrl-C deletes the report too (exit code 130); a report that fails for good is reported
in one line (exit code 1).
      --image I                    gather with this image (repeatable; default: the operator's must-gather image)
      --all-images                 also gather with every operator's must-gather image
      --image-stream NS/NAME:TAG   also gather with this image stream tag's image (repeatable)
      --since D                    only logs newer than this duration, such as 2h
      --since-time T               only logs after this RFC 3339 time, such as 2025-01-31T08:00:00Z
      --timeout D                  how long one image may gather (default 10m)
      --node-name N                run the gather on this node
      --node-selector K=V,...      run the gather on a node with these labels (one pod on one node, not one per node)
      --volume-percentage P        stop gathering when the volume is P% full (default 70)
      --delete-after D             the operator deletes the finished report after this long (default 30m)
      --redact KINDS               replace these in the archive before it leaves the cluster, comma-separated:
                                   ${REDACT_KINDS.join(', ')}
      --dest-dir DIR               where must-gather.tar.gz is saved and unpacked (default ./must-gather.local.<random>)
      --keep                       keep the report afterwards (and on Ctrl-C)
  -n, --namespace NS               the report's namespace (default: the context's, else "default")
      --name NAME                  the report's name (default: must-gather-<random>)
      --kubeconfig FILE            default $KUBECONFIG or ~/.kube/config
  -- CMD ARGS...                   run this instead of /usr/bin/gather in each image`;

const OPTIONS = {
  image: { type: 'string', multiple: true },
  'all-images': { type: 'boolean' },
  'image-stream': { type: 'string', multiple: true },
  since: { type: 'string' },
  'since-time': { type: 'string' },
  timeout: { type: 'string' },
  'node-name': { type: 'string' },
  'node-selector': { type: 'string' },
  'volume-percentage': { type: 'string' },
  'delete-after': { type: 'string' },
  redact: { type: 'string' },
  'dest-dir': { type: 'string' },
  keep: { type: 'boolean', default: false },
  namespace: { type: 'string', short: 'n' },
  name: { type: 'string' },
  kubeconfig: { type: 'string' },
} as const;

/** The flags that make the spec. */
export interface SpecFlags {
  image?: string[];
  'all-images'?: boolean;
  'image-stream'?: string[];
  since?: string;
  'since-time'?: string;
  timeout?: string;
  'node-name'?: string;
  'node-selector'?: string;
  'volume-percentage'?: string;
  'delete-after'?: string;
  redact?: string;
}

/** Each spec field's flag, so a refusal names what the user typed. */
const FLAG_OF_FIELD: Record<string, { flag: string; values?: (flags: SpecFlags, command: readonly string[]) => readonly string[] | undefined }> = {
  images: { flag: '--image', values: (f) => f.image },
  allImages: { flag: '--all-images' },
  imageStreams: { flag: '--image-stream', values: (f) => f['image-stream'] },
  command: { flag: '-- CMD', values: (_, command) => command },
  deleteAfter: { flag: '--delete-after' },
  timeout: { flag: '--timeout' },
  since: { flag: '--since' },
  sinceTime: { flag: '--since-time' },
  nodeName: { flag: '--node-name' },
  nodeSelector: { flag: '--node-selector' },
  volumePercentage: { flag: '--volume-percentage' },
  redact: { flag: '--redact' },
};

/** `secrets,ipAddresses` as `spec.redact` (`{secrets: true, ipAddresses: true}`); an unknown kind is named. */
function parseRedactFlag(text: string): Record<string, boolean> {
  let kinds: RedactKind[];
  try {
    kinds = parseRedactKinds(text);
  } catch (err) {
    throw new UsageError(`--redact: ${(err as Error).message}`, { cause: err });
  }
  if (kinds.length === 0) throw new UsageError(`--redact: name at least one of ${REDACT_KINDS.join(', ')}`);
  return Object.fromEntries(kinds.map((k) => [k, true]));
}

/** `key=value,key2=value2` as oc's --node-selector takes it (a label selector of equalities); a value may be empty. */
function parseNodeSelector(text: string): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--node-selector: "${part}" is not key=value`);
    selector[part.slice(0, eq).trim()] = part.slice(eq + 1).replace(/^=/, '').trim();
  }
  return selector;
}

/**
 * The report spec the flags ask for, checked as the API server would; a refusal is a UsageError naming the flag
 * (and the value, for a repeated one).
 */
export function specFromFlags(flags: SpecFlags, command: readonly string[]): MustGatherReportSpec {
  // The API's words name fields; with flags the pair is what the user must untangle.
  if (flags.since !== undefined && flags['since-time'] !== undefined) {
    throw new UsageError(`--since and --since-time: ${SINCE_EXCLUSIVE_MESSAGE.replace(/^since and sinceTime are /, 'are ')}`);
  }
  const spec = {
    ...(flags.image?.length ? { images: flags.image } : {}),
    ...(flags['all-images'] ? { allImages: true } : {}),
    ...(flags['image-stream']?.length ? { imageStreams: flags['image-stream'] } : {}),
    ...(command.length ? { command } : {}),
    ...(flags['delete-after'] !== undefined ? { deleteAfter: flags['delete-after'] } : {}),
    ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}),
    ...(flags.since !== undefined ? { since: flags.since } : {}),
    ...(flags['since-time'] !== undefined ? { sinceTime: flags['since-time'] } : {}),
    ...(flags['node-name'] !== undefined ? { nodeName: flags['node-name'] } : {}),
    ...(flags['node-selector'] !== undefined ? { nodeSelector: parseNodeSelector(flags['node-selector']) } : {}),
    ...(flags['volume-percentage'] !== undefined ? { volumePercentage: /^\d+$/.test(flags['volume-percentage']) ? Number(flags['volume-percentage']) : flags['volume-percentage'] } : {}),
    ...(flags.redact !== undefined ? { redact: parseRedactFlag(flags.redact) } : {}),
  };
  try {
    return validateSpec(spec);
  } catch (err) {
    if (!(err instanceof ReportValidationError)) throw err;
    const [, field, index] = /^spec\.(\w+)(?:\[(\d+)\])?/.exec(err.field) ?? [];
    const known = field === undefined ? undefined : FLAG_OF_FIELD[field];
    if (!known) throw new UsageError(err.message, { cause: err });
    const value = index === undefined ? undefined : known.values?.(flags, command)?.[Number(index)];
    const subject = value !== undefined ? `${known.flag} ${JSON.stringify(value)}` : known.flag;
    throw new UsageError(`${subject}: ${err.reason}`, { cause: err });
  }
}

/**
 * One line per change of an image's gather state, for a report read again and again (the first read shows every
 * image). An image is named by its place and reference: the same image may come from `--image` and an image stream.
 */
export class GatherProgress {
  readonly #seen = new Map<number, string>();

  lines(report: MustGatherReport): string[] {
    const gathers = report.status?.gathers ?? [];
    const lines: string[] = [];
    for (const gather of gathers) {
      // status.gathers[].index counts from 1, as the pod's gather-N containers do.
      const line = `image ${gather.index}/${gathers.length} ${gather.image}: ${describeGather(gather)}`;
      if (this.#seen.get(gather.index) === line) continue;
      this.#seen.set(gather.index, line);
      lines.push(line);
    }
    return lines;
  }
}

function describeGather(gather: GatherStatus): string {
  const exit = gather.exitCode !== undefined && gather.state !== 'Succeeded' ? ` (exit code ${gather.exitCode})` : '';
  return `${gather.state}${exit}${gather.message ? `: ${gather.message}` : ''}`;
}

/** Splits `[flags...] -- CMD ARGS...` at the first `--`: everything after it is the gather command, verbatim. */
export function splitCommand(args: readonly string[]): { flags: string[]; command: string[] } {
  const at = args.indexOf('--');
  return at < 0 ? { flags: [...args], command: [] } : { flags: args.slice(0, at), command: args.slice(at + 1) };
}

export async function run(args: string[]): Promise<number> {
  const { flags, command } = splitCommand(args);
  const parsed = parseCommandArgs(flags, OPTIONS, HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  const spec = specFromFlags(values, command);
  if (values.name !== undefined && !isDnsSubdomain(values.name)) {
    throw new UsageError(`--name ${JSON.stringify(values.name)}: must be a DNS subdomain: lowercase letters, digits, "-" and ".", at most 253 characters`);
  }
  if (values.namespace !== undefined && !isDnsLabel(values.namespace)) {
    throw new UsageError(`--namespace ${JSON.stringify(values.namespace)}: must be a DNS label: lowercase letters, digits and "-", at most 63 characters`);
  }

  const kc = new KubeConfig();
  if (values.kubeconfig !== undefined) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  // Before anything is created: a context that cannot download would leave a report nobody fetches.
  const credentials = await downloadCredentials(kc, undefined);
  // oc's default: a new directory per run, so runs never mix.
  const dir = resolve(values['dest-dir'] ?? `must-gather.local.${randomInt(1e12)}`);
  await mkdir(dir, { recursive: true }).catch((err: Error) => {
    throw new Error(`--dest-dir ${dir}: ${err.message}`, { cause: err });
  });

  const client = new KubeClient(kc);
  /** The clean-up's lines (the interruption's, the report's deletion). */
  const cleanUpLine = new StatusLine(process.stderr);
  /** The run's progress (the report's, the download's), silenced when Ctrl-C abandons the run. */
  const progressLine = new StatusLine(process.stderr);
  const creating = client.create<MustGatherReport>({
    apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND,
    metadata: { namespace, ...(values.name !== undefined ? { name: values.name } : { name: '', generateName: 'must-gather-' }) },
    spec,
  } as unknown as KubeObject);
  let ref = `${namespace}/${values.name ?? 'must-gather-*'}`;

  /** Deletes the report this run made (the uid precondition: never a namesake made since), unless --keep. */
  const cleanUp = async (): Promise<void> => {
    const created = await creating.catch(() => undefined);
    if (!created) return;
    if (values.keep) {
      cleanUpLine.done(`${ref}: kept (--keep); delete it with: kubectl delete ${KIND.toLowerCase()} -n ${namespace} ${created.metadata.name}`);
      return;
    }
    try {
      await deleteReport(client, created);
      cleanUpLine.done(`${ref}: deleted`);
    } catch (err) {
      cleanUpLine.done(`${ref}: could not delete the report: ${(err as Error).message}`);
    }
  };
  // Once: Ctrl-C may come while the normal end is already cleaning up.
  let finishing: Promise<void> | undefined;
  const finish = () => (finishing ??= cleanUp());
  const interrupted = (signal: NodeJS.Signals) => {
    progressLine.silence();
    cleanUpLine.done(`${ref}: ${signal}: stopping`);
    // Exit even though a wait or a download is still pending: those are abandoned with the report.
    void finish().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const report = await creating;
    ref = `${namespace}/${report.metadata.name}`;
    progressLine.done(`${KIND} ${ref} created`);

    const progress = new GatherProgress();
    let lastStatus = '';
    const read = reportReader(client, kc, { namespace, name: report.metadata.name });
    const ready = await waitForReady({
      reportRef: ref,
      // The operator bounds the wait (the per-image timeout, its start timeout): both end in a terminal reason.
      timeoutMs: Number.POSITIVE_INFINITY,
      readReport: async () => {
        const current = await read();
        if (current) for (const line of progress.lines(current)) progressLine.done(`${ref}: ${line}`);
        return current;
      },
      // Every read reports; only a change is a line.
      onStatus: (line) => {
        if (line === lastStatus) return;
        lastStatus = line;
        progressLine.done(`${ref}: ${line}`);
      },
    });
    progressLine.done(`${ref}: Ready`);

    const output = join(dir, 'must-gather.tar.gz');
    await saveArchive(ready, { output, credentials, kubeConfig: kc }, progressLine);
    const { skipped } = await extractArchive({ archive: output, dir, onSkip: (line) => progressLine.done(`${ref}: ${line}`) });
    progressLine.done(`${ref}: extracted into ${dir}${skipped ? ` (${skipped} unsafe entries left out)` : ''}`);
  } catch (err) {
    // The report's name leads every error, so the user can find it (with --keep) or its events.
    const message = (err as Error).message;
    throw message.includes(ref) ? err : new Error(`${ref}: ${message}`, { cause: err });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await finish();
    client.close();
  }
  return 0;
}
