import { once } from 'node:events';
import { type ClusterAccess, inClusterAccess, loadClusterAccess } from '../../kube/cluster-access.js';
import { parseDuration } from '../../constructs/duration.js';
import { DEFAULT_DOWNLOAD_ACCESS, formatDownloadAccess, parseDownloadAccess, PATHS, PORTS } from '../../constructs/pod-contract.js';
import { describeAccess, DelegatedAuth } from '../../datapath/delegated-auth.js';
import { createFileServer, downloadRecorder } from '../../datapath/serve.js';
import { KubeClient } from '../../kube/client.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather serve --dir DIR --report NAMESPACE/NAME --report-uid UID [options]

In the report pod: serves DIR/must-gather.tar.gz and its .sha256 read-only over HTTPS (GET and HEAD, byte ranges,
ETag/Last-Modified), an index page at / and /healthz (200 once the archive exists; the only route open to anyone).
Every other request must carry a bearer token the API server accepts (TokenReview) or a client certificate of the
cluster's client CA, and its user must pass a SubjectAccessReview for --download-access: 401 / 403 otherwise. Each
archive download is logged as a JSON line and recorded as an Event on the report.
  --dir DIR                     directory holding the archive
  --report NAMESPACE/NAME       the report: Events go there; shown on the index page and in the download's file name
  --report-uid UID              the report's uid (the Events' involvedObject)
  --address ADDR                listen address (default 0.0.0.0)
  --port N                      listen port (default ${PORTS.fileServer}; 0 picks a free one)
  --tls-cert-file FILE          serving certificate, PEM (default ${PATHS.serverTls}/tls.crt); re-read when it changes
  --tls-private-key-file FILE   its key, PEM (default ${PATHS.serverTls}/tls.key)
  --client-ca-file FILE         CA bundle client certificates must chain to (default ${PATHS.clientCa}/ca.crt; "": bearer tokens only)
  --download-access ACCESS      what a caller must be allowed to do (default ${formatDownloadAccess(DEFAULT_DOWNLOAD_ACCESS)}: cluster admins)
  --kubeconfig FILE             reach the API server with this kubeconfig (default: in-cluster service account)
  --shutdown-timeout D          on SIGTERM/SIGINT, how long running downloads may finish (default 25s)`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    dir: { type: 'string' },
    report: { type: 'string' },
    'report-uid': { type: 'string' },
    address: { type: 'string', default: '0.0.0.0' },
    port: { type: 'string', default: String(PORTS.fileServer) },
    'tls-cert-file': { type: 'string', default: `${PATHS.serverTls}/tls.crt` },
    'tls-private-key-file': { type: 'string', default: `${PATHS.serverTls}/tls.key` },
    'client-ca-file': { type: 'string', default: `${PATHS.clientCa}/ca.crt` },
    'download-access': { type: 'string', default: formatDownloadAccess(DEFAULT_DOWNLOAD_ACCESS) },
    kubeconfig: { type: 'string' },
    'shutdown-timeout': { type: 'string', default: '25s' },
  }, HELP);
  if (!parsed) return 0;
  const { dir, report, address, port } = parsed.values;
  if (!dir) throw new UsageError('--dir is required');
  const reportParts = /^([^/]+)\/([^/]+)$/.exec(report ?? '');
  if (!reportParts) throw new UsageError(`--report must be NAMESPACE/NAME, not "${report ?? ''}"`);
  const reportUid = parsed.values['report-uid'];
  if (!reportUid) throw new UsageError('--report-uid is required');
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError(`--port must be 0-65535, not "${port}"`);
  const deadline = parseDuration(parsed.values['shutdown-timeout']);
  if (deadline === undefined) throw new UsageError(`--shutdown-timeout must be a duration such as 25s, not "${parsed.values['shutdown-timeout']}"`);
  let access;
  try {
    access = parseDownloadAccess(parsed.values['download-access']);
  } catch (err) {
    throw new UsageError(`--download-access: ${(err as Error).message}`);
  }

  const client = new KubeClient(parsed.values.kubeconfig ? await loadClusterAccess(parsed.values.kubeconfig) : inPod());
  const auth = new DelegatedAuth({ client, access, onError: (err) => console.error(`credential check failed: ${err.message}`) });
  const { server, shutdown } = createFileServer({
    dir,
    report,
    tls: { certFile: parsed.values['tls-cert-file'], keyFile: parsed.values['tls-private-key-file'], clientCaFile: parsed.values['client-ca-file'] || undefined },
    authorize: auth.check,
    onDownload: downloadRecorder({ client, report: { namespace: reportParts[1]!, name: reportParts[2]!, uid: reportUid } }),
  });
  server.listen(Number(port), address);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(new Error(`listen on ${address}:${port}: ${(err as Error).message}`, { cause: err })))]);
  const bound = server.address();
  console.log(`serving ${dir} on https://${typeof bound === 'object' && bound ? `${bound.address}:${bound.port}` : `${address}:${port}`}/ to callers who may ${describeAccess(access)}`);

  const [signal] = await Promise.race([once(process, 'SIGTERM').then(() => ['SIGTERM']), once(process, 'SIGINT').then(() => ['SIGINT'])]);
  console.log(`${signal}: finishing running downloads (up to ${parsed.values['shutdown-timeout']})`);
  await shutdown(deadline);
  client.close();
  console.log('stopped');
  return 0;
}

/** The pod's service account: the file server runs in the report pod. */
function inPod(): ClusterAccess {
  const access = inClusterAccess();
  if (!access) throw new UsageError('not in a pod (no KUBERNETES_SERVICE_HOST or service account token): give --kubeconfig');
  return access;
}
