import { hostname } from 'node:os';
import v8 from 'node:v8';
import { loadClusterAccess } from '../../kube/cluster-access.js';
import { DEFAULT_OPERATOR_NAMESPACE, OPERATOR_HTTP_PORT, OPERATOR_NAME, RELEASE_VERSION_ENV } from '../../constructs/install-chart.js';
import { parseDuration } from '../../constructs/duration.js';
import { DEFAULT_MAX_GATHERING, DEFAULT_STORAGE_BUDGET, OPERATOR_HEAP } from '../../constructs/operator-config.js';
import { parseMaxGathering, parseStorageBudget } from '../../reconciler/admission.js';
import { DEFAULT_DOWNLOAD_ACCESS, formatDownloadAccess, parseDownloadAccess, type Platform, PLATFORMS } from '../../constructs/pod-contract.js';
import { detectPlatform } from '../../reconciler/platform.js';
import { ClusterOperatorReporter } from '../../reconciler/cluster-operator.js';
import { IMAGE_FLAGS, imagesFromFlags } from '../image-flags.js';
import { Controller } from '../../reconciler/controller.js';
import { startHealthServer } from '../../reconciler/health-server.js';
import { KubeClient } from '../../kube/client.js';
import { LeaderElector } from '../../reconciler/leader-election.js';
import { jsonLogger } from '../../reconciler/log.js';
import { apiRequestObserver, createMetrics } from '../../reconciler/metrics.js';
import { DEFAULT_START_TIMEOUT_MS } from '../../reconciler/reconcile.js';
import { formatDuration } from '../../reconciler/status.js';
import { DEFAULT_GATHER_IMAGE, DEFAULT_GATHER_IMAGE_STREAM } from '../../constructs/operator-config.js';
import { isImageReference } from '../../constructs/image-reference.js';
import { isAllowedImage, parseAllowedRegistries } from '../../reconciler/image-resolution.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather run [options]

Runs the operator. Out of a cluster it uses the current kube context (or --kubeconfig); in a pod, its service account.
  --kubeconfig FILE          kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespaces A,B           reconcile reports in these namespaces only ($WATCH_NAMESPACES; default: all)
  --concurrency N            reports reconciled at once ($CONCURRENCY; default 4)
  --listen HOST:PORT         /healthz, /readyz and /metrics (default :${OPERATOR_HTTP_PORT})
  --leader-elect             elect a leader on Lease ${OPERATOR_NAME} in $POD_NAMESPACE (default ${DEFAULT_OPERATOR_NAMESPACE})
  --operator-image IMAGE     image of the report pod's archive and file server ($OPERATOR_IMAGE)
  --oauth-proxy-image IMAGE  image of oauth-proxy ($OAUTH_PROXY_IMAGE)
  --platform P               ${PLATFORMS.join(' or ')} ($PLATFORM; default: openshift when the cluster serves
                             config.openshift.io/v1 clusterversions, else kubernetes)
  --ingress-host-suffix S    kubernetes: an Ingress per report at <report namespace>.S ($INGRESS_HOST_SUFFIX; default none:
                             report_url is the Service's in-cluster URL)
  --ingress-class C          IngressClass of those Ingresses ($INGRESS_CLASS; default: the cluster's default)
  --download-access A        who may download: the SubjectAccessReview the file server asks for ($DOWNLOAD_ACCESS;
                             default ${formatDownloadAccess(DEFAULT_DOWNLOAD_ACCESS)}: cluster admins)
  --default-gather-image I   the must-gather image of reports that name none, where the cluster has no image stream
                             tag ${DEFAULT_GATHER_IMAGE_STREAM} ($DEFAULT_GATHER_IMAGE; default ${DEFAULT_GATHER_IMAGE})
  --allowed-registries R,..  every image a report runs (with cluster-admin) must come from one of these registries or
                             repository prefixes, e.g. registry.redhat.io,quay.io/openshift; a report resolving any
                             other ends ImageNotAllowed before anything runs ($ALLOWED_REGISTRIES; default: any)
  --start-timeout D          a report that cannot start (image pull, scheduling, volume, container config) and makes
                             no progress for D ends Ready=False StartTimedOut ($START_TIMEOUT; default
                             ${formatDuration(DEFAULT_START_TIMEOUT_MS)}; 0: never)
  --max-gathering N          at most N reports gather at once ($MAX_GATHERING; default ${DEFAULT_MAX_GATHERING}; 0: no limit); the others
                             wait in line, Ready=False Queued, in creation order
  --storage-budget Q         the volumes (spec.storage.size) of live reports, gathering or finished until deleted,
                             stay within Q ($STORAGE_BUDGET; default ${DEFAULT_STORAGE_BUDGET}; 0: no limit); a report that does not fit
                             waits Queued, one larger than Q is refused (ExceedsStorageBudget)
The operator's own CA for report certificates (kubernetes) is Secret must-gather-serving-ca in $POD_NAMESPACE
(default ${DEFAULT_OPERATOR_NAMESPACE}, created when missing).
  -v, --verbose              debug logs
Logs are JSON lines on stderr. SIGTERM finishes in-flight reconciles, releases the lease and exits.`;

/** How often the ClusterOperator status is refreshed (it is written only when it changed). */
const CLUSTER_OPERATOR_SYNC_MS = 30_000;
/** How soon after reports were created or deleted the ClusterOperator status follows (one write for a burst). */
const CLUSTER_OPERATOR_FOLLOW_MS = 2_000;

function parseListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--listen: "${listen}" is not HOST:PORT`);
  return { host: listen.slice(0, colon) || '0.0.0.0', port };
}

export async function run(args: string[]): Promise<number> {
  // Read by V8 at every full collection, so it applies from here on (see OPERATOR_HEAP for why and what was measured);
  // unless node's command line sets it.
  if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) v8.setFlagsFromString(`--heap-growing-percent=${OPERATOR_HEAP.growingPercent}`);
  const parsed = parseCommandArgs(args, {
    kubeconfig: { type: 'string' },
    namespaces: { type: 'string', default: process.env.WATCH_NAMESPACES ?? '' },
    concurrency: { type: 'string', default: process.env.CONCURRENCY ?? '4' },
    listen: { type: 'string', default: `:${OPERATOR_HTTP_PORT}` },
    'leader-elect': { type: 'boolean' },
    ...IMAGE_FLAGS,
    platform: { type: 'string', default: process.env.PLATFORM ?? '' },
    'ingress-host-suffix': { type: 'string', default: process.env.INGRESS_HOST_SUFFIX ?? '' },
    'ingress-class': { type: 'string', default: process.env.INGRESS_CLASS ?? '' },
    'download-access': { type: 'string', default: process.env.DOWNLOAD_ACCESS || formatDownloadAccess(DEFAULT_DOWNLOAD_ACCESS) },
    'start-timeout': { type: 'string', default: process.env.START_TIMEOUT || formatDuration(DEFAULT_START_TIMEOUT_MS) },
    'default-gather-image': { type: 'string', default: process.env.DEFAULT_GATHER_IMAGE || DEFAULT_GATHER_IMAGE },
    'allowed-registries': { type: 'string', default: process.env.ALLOWED_REGISTRIES ?? '' },
    'max-gathering': { type: 'string', default: process.env.MAX_GATHERING || String(DEFAULT_MAX_GATHERING) },
    'storage-budget': { type: 'string', default: process.env.STORAGE_BUDGET || DEFAULT_STORAGE_BUDGET },
    verbose: { type: 'boolean', short: 'v' },
  }, HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency: "${values.concurrency}" is not a positive whole number`);
  const listen = parseListen(values.listen);
  if (values.platform && !(PLATFORMS as readonly string[]).includes(values.platform)) {
    throw new UsageError(`--platform: "${values.platform}" is not one of ${PLATFORMS.join(', ')}`);
  }
  /** A flag's value through `parse`, whose refusal becomes a UsageError naming the flag. */
  const flag = <T>(name: 'download-access' | 'max-gathering' | 'storage-budget', parse: (text: string) => T): T => {
    try {
      return parse(values[name]);
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  const downloadAccess = flag('download-access', parseDownloadAccess);
  // Go's time.ParseDuration takes a bare "0" too.
  const startTimeoutMs = values['start-timeout'] === '0' ? 0 : parseDuration(values['start-timeout']);
  if (startTimeoutMs === undefined) throw new UsageError(`--start-timeout: "${values['start-timeout']}" is not a duration such as 10m or 1h30m (0: never)`);
  const defaultGatherImage = values['default-gather-image'];
  if (!isImageReference(defaultGatherImage)) throw new UsageError(`--default-gather-image: "${defaultGatherImage}" is not an image reference`);
  let allowedRegistries: string[];
  try {
    allowedRegistries = parseAllowedRegistries(values['allowed-registries']);
  } catch (err) {
    throw new UsageError(`--allowed-registries: ${(err as Error).message}`);
  }
  if (allowedRegistries.length > 0 && !isAllowedImage(defaultGatherImage, allowedRegistries)) {
    throw new UsageError(`--default-gather-image: ${defaultGatherImage} is not from an --allowed-registries entry (${allowedRegistries.join(', ')})`);
  }
  const limits = { maxGathering: flag('max-gathering', parseMaxGathering), storageBudgetBytes: flag('storage-budget', parseStorageBudget) };
  const hostSuffix = values['ingress-host-suffix'];
  if (values['ingress-class'] && !hostSuffix) throw new UsageError('--ingress-class needs --ingress-host-suffix');
  const ingress = hostSuffix ? { hostSuffix, ...(values['ingress-class'] ? { className: values['ingress-class'] } : {}) } : undefined;
  const log = jsonLogger({ verbose: values.verbose ?? false });
  const images = imagesFromFlags(values);

  const client = new KubeClient(await loadClusterAccess(values.kubeconfig));
  const metrics = createMetrics();
  client.observe(apiRequestObserver(metrics));
  const namespaces = values.namespaces.split(',').map((n) => n.trim()).filter(Boolean);
  const platform = (values.platform || (await detectPlatform(client))) as Platform;
  if (ingress && platform !== 'kubernetes') throw new UsageError(`--ingress-host-suffix: only for the kubernetes platform; this is ${platform}`);
  log.info('platform', { platform, detected: !values.platform });
  const operatorNamespace = process.env.POD_NAMESPACE ?? DEFAULT_OPERATOR_NAMESPACE;
  let reportsChanged = () => {};
  const controller = new Controller({
    client, images, namespaces, concurrency, limits, metrics, log, platform, operatorNamespace, downloadAccess, startTimeoutMs, ...(ingress ? { ingress } : {}),
    defaultGatherImage, ...(allowedRegistries.length > 0 ? { allowedRegistries } : {}),
    onReportsChanged: () => reportsChanged(),
  });

  // The ClusterOperator, on OpenShift (where the payload created it) or wherever its API exists.
  const reporter = new ClusterOperatorReporter(client, {
    name: OPERATOR_NAME, version: process.env[RELEASE_VERSION_ENV] ?? 'unknown',
    operatorNamespace, health: () => controller.health(),
  });
  const reportStatus = () => {
    const sync = () => reporter.sync().catch((error) => log.error('ClusterOperator status', { error }));
    void sync();
    const timer = setInterval(sync, CLUSTER_OPERATOR_SYNC_MS);
    timer.unref();
    // Reports coming and going change what the ClusterOperator lists: it follows them shortly, not 30 s later.
    let soon: NodeJS.Timeout | undefined;
    reportsChanged = () => {
      soon ??= setTimeout(() => {
        soon = undefined;
        void sync();
      }, CLUSTER_OPERATOR_FOLLOW_MS);
    };
    return {
      stop: () => {
        clearInterval(timer);
        clearTimeout(soon);
        reportsChanged = () => {};
      },
    };
  };

  let elector: LeaderElector | undefined;
  let shuttingDown = false;
  const health = await startHealthServer({
    ...listen,
    registry: metrics.registry,
    // A standby replica is ready: it is healthy and waiting for the lease.
    isReady: () => (elector && !elector.isLeader() ? { ready: true } : controller.isReady()),
  });
  log.info('serving health and metrics', { url: health.url });

  const done = new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      log.info('shutting down', { signal });
      try {
        if (elector) await elector.release();
        else await controller.stop();
        await health.close();
        client.close();
        resolve(0);
      } catch (error) {
        log.error('shutdown failed', { error });
        resolve(1);
      }
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));

    if (values['leader-elect']) {
      const identity = process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
      elector = new LeaderElector(client, {
        lease: { namespace: operatorNamespace, name: OPERATOR_NAME },
        identity,
        onStartedLeading: async (signal) => {
          log.info('became leader', { identity });
          await controller.start();
          const reporting = reportStatus();
          // Leadership may already be over (a SIGTERM while starting): an aborted signal fires no more events.
          if (!signal.aborted) await new Promise((resolveLeading) => signal.addEventListener('abort', resolveLeading, { once: true }));
          reporting.stop();
          await controller.stop();
        },
        onError: (error) => log.error('leader election', { error }),
      });
      void elector.run().then(() => {
        // Like controller-runtime: a replica that lost the lease exits and starts again from a clean slate.
        if (!shuttingDown) {
          log.error('lost the lease; exiting');
          resolve(1);
        }
      });
    } else {
      controller.start().then(() => reportStatus(), (error) => {
        log.error('controller failed to start', { error });
        resolve(1);
      });
    }
  });
  return done;
}
