/**
 * The whole operator loop against a real kube-apiserver: watches, queue and reconcile together, a crash and restart
 * of the real `mustgather run` process, and two replicas of which only the leader works.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LABELS, reportObjectNames } from '../../constructs/report-identity.js';
import { Controller } from '../../reconciler/controller.js';
import type { KubeClient } from '../../kube/client.js';
import { LeaderElector } from '../../reconciler/leader-election.js';
import { createMetrics } from '../../reconciler/metrics.js';
import { RESOURCES } from '../../kube/resources.js';
import { mintUserFromDir } from '../../controlplane/index.js';
import { podStatus } from '../kubelet-states.js';
import {
  adminClient, admitRoute, createReport, eventually, getReport, LOCAL_CLUSTER, localOnly, OPERATOR_USER, operatorClient, ownedObjects, setPodStatus, testNamespace,
} from './helpers.js';

let admin: KubeClient;
let operator: KubeClient;

beforeAll(async () => {
  admin = adminClient();
  if (LOCAL_CLUSTER) operator = await operatorClient(admin);
});

/** The tests that run the operator as its least-privilege user (minted from the local CA). */
const asOperator = (title: string) => localOnly(title, 'its CA, for the operator\'s least-privilege user');

const readyOf = (report: Awaited<ReturnType<typeof getReport>>) => report?.status?.conditions?.find((c) => c.type === 'Ready');

describe('controller', () => {
  let controller: Controller;
  afterAll(async () => controller?.stop());

  it.runIf(LOCAL_CLUSTER)(asOperator('drives a report to Ready from watch events alone, and measures creation-to-pod latency'), async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    // Its own namespace only: other test files' reports on this API server (hundreds, in fleet.test.ts) are not its work.
    const namespace = await testNamespace(admin);
    controller = new Controller({ client: operator, metrics, watchTimeoutSeconds: 30, namespaces: [namespace] });
    await controller.start();
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const report = await createReport(admin, namespace, `latency-${i}`, { images: ['quay.io/a/must-gather:v1'] });
      const names = reportObjectNames(report.metadata);
      await eventually(() => admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' }), 'the pod', 30_000, 20);
      latencies.push(Date.now() - started);
    }
    latencies.sort((a, b) => a - b);
    console.log(`report created -> pod created: median ${latencies[2]} ms (min ${latencies[0]}, max ${latencies[4]})`);

    const report = (await getReport(admin, namespace, 'latency-0'))!;
    const names = reportObjectNames(report.metadata);
    await setPodStatus(admin, names.namespace, podStatus(['quay.io/a/must-gather:v1'], { ended: ['Succeeded'], archive: 'done', serving: true }));
    await admitRoute(admin, names.namespace, 'loop.apps.example.com');
    const ready = await eventually(async () => {
      const now = await getReport(admin, namespace, 'latency-0');
      return readyOf(now)?.status === 'True' ? now : undefined;
    }, 'Ready from watch events');
    expect(ready?.status?.report_url).toBe('https://loop.apps.example.com/must-gather.tar.gz');
    // A report waiting for its pod or its expiry asks to be requeued at that deadline: both are successful reconciles.
    expect(await metrics.registry.getSingleMetricAsString('mustgather_reconcile_total')).toMatch(/result="(success|requeue)"/);
    const events = await eventually(async () => {
      const list = await admin.list(RESOURCES.Event, { namespace, fieldSelector: `involvedObject.name=latency-0` });
      const reasons = list.items.map((e) => (e as unknown as { reason: string }).reason);
      return reasons.includes('Ready') ? reasons : undefined;
    }, 'the Ready event');
    expect(events).toEqual(expect.arrayContaining(['Created', 'AccessRevoked', 'Ready']));
    await controller.stop();
  });

  it.runIf(LOCAL_CLUSTER)(asOperator('converges after the operator process is killed mid-apply and restarted, leaking nothing'), async () => {
    const user = await mintUserFromDir(inject('controlPlaneDir'), OPERATOR_USER, []);
    // The platform is given: another test file may be installing OpenShift's ClusterVersion API meanwhile. No fleet
    // limits: other test files' reports on this API server would hold the gathering slots (fleet.test.ts tests them).
    const start = () => spawn(process.execPath, [
      '--import', 'tsx', 'bin/mustgather.ts', 'run', '--kubeconfig', user.kubeconfigPath, '--listen', '127.0.0.1:0', '--platform', 'kubernetes',
      '--max-gathering', '0', '--storage-budget', '0', '--namespaces', namespace,
    ], { stdio: 'ignore' });
    const namespace = await testNamespace(admin);
    // The kill comes from a watch of the report's namespace, in the event's callback: the moment the first stage
    // (namespace and cluster-scoped bindings) lands. The pod (last stage) cannot come first however late the kill:
    // an admission policy refuses it until the operator is dead.
    const policy = `${namespace}-no-pods-yet`;
    const vap = 'admissionregistration.k8s.io/v1';
    await admin.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', { body: {
      apiVersion: vap, kind: 'ValidatingAdmissionPolicy', metadata: { name: policy },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
        validations: [{ expression: 'false', message: 'the test holds the pod back until the operator is killed' }],
      },
    } });
    await admin.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', { body: {
      apiVersion: vap, kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy },
      spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { [LABELS.reportNamespace]: namespace } } } },
    } });
    const releasePods = async () => {
      await admin.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${policy}`).catch(() => undefined);
      await admin.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${policy}`).catch(() => undefined);
    };
    const stopWatch = new AbortController();
    let killedAt: number | undefined;
    const selector = `${LABELS.reportNamespace}=${namespace}`;
    const { resourceVersion } = await admin.list(RESOURCES.Namespace, { labelSelector: selector });
    let child: ChildProcess = start();
    const firstWrite = admin.watch(RESOURCES.Namespace, { labelSelector: selector, resourceVersion, signal: stopWatch.signal }, (event) => {
      if (event.type !== 'ADDED' || killedAt !== undefined) return;
      child.kill('SIGKILL');
      killedAt = Date.now();
    });
    try {
      const report = await createReport(admin, namespace, 'crash', { images: ['quay.io/a/must-gather:v1', 'quay.io/b/must-gather:v2'] });
      const names = reportObjectNames(report.metadata);
      await eventually(async () => killedAt !== undefined, 'the first write (the report namespace)', 60_000, 5);
      if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
      // Requests the operator had sent before it died may still land: look once they have.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The premise: the kill interrupted the apply. Some of the report's objects exist, not all, and no pod.
      const before = await ownedObjects(admin, report.metadata.uid!);
      expect(before).toContain(`Namespace/${names.namespace}`);
      expect(before).not.toContain('Pod/must-gather');
      // (12 besides the pod; the token's and certificate's Secrets are two round trips after the account.)
      expect(before.length).toBeLessThan(12);

      await releasePods();
      child = start();
      await eventually(async () => readyOf(await getReport(admin, namespace, 'crash')) && (await admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' })), 'convergence after restart', 60_000);
      const objects = await ownedObjects(admin, report.metadata.uid!);
      expect(objects.filter((o) => o.startsWith('Namespace/'))).toEqual([`Namespace/${names.namespace}`]);
      expect(objects.filter((o) => o.startsWith('ClusterRoleBinding/'))).toHaveLength(2);
      // kubernetes profile: namespace, 2 cluster role bindings, the role binding beside the report, 2 service
      // accounts, gather token and serving certificate, client CA, claim, pod, service, network policy.
      expect(objects).toHaveLength(13);
      // Everything there before the kill is still there, once: the restart finished the interrupted apply.
      expect(objects).toEqual(expect.arrayContaining(before));
      expect(objects).toContain('Pod/must-gather');
    } finally {
      stopWatch.abort();
      await firstWrite.catch(() => undefined);
      child.kill('SIGKILL');
      await releasePods();
    }
  });

  it.runIf(LOCAL_CLUSTER)(asOperator('`mustgather run --start-timeout 10s` ends a report whose image cannot be pulled on time, with no event to wake it'), async () => {
    const user = await mintUserFromDir(inject('controlPlaneDir'), OPERATOR_USER, []);
    const namespace = await testNamespace(admin);
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'bin/mustgather.ts', 'run', '--kubeconfig', user.kubeconfigPath, '--listen', '127.0.0.1:0', '--platform', 'kubernetes',
      '--namespaces', namespace, '--start-timeout', '10s',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // The clock runs from the report's creation: create it once the operator watches (its start takes seconds on a
      // loaded machine, which would count against the 10 s).
      let logged = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          logged += chunk.toString();
          if (logged.includes('"controller started"')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`the operator exited (${code}): ${logged}`)));
      });
      child.stderr!.resume();
      const images = ['quay.io/a/must-gather:v1'];
      const report = await createReport(admin, namespace, 'stuck', { images });
      const names = reportObjectNames(report.metadata);
      await eventually(() => admin.get({ kind: 'Pod', namespace: names.namespace, name: 'must-gather' }), 'the pod', 60_000, 20);
      // The clock runs from the report's admission, when its objects began to exist (its namespace), not from its
      // creation: the operator may have been starting, or the report waiting in line, before that.
      const admitted = Date.parse((await admin.get({ kind: 'Namespace', name: names.namespace }))!.metadata.creationTimestamp!);
      await setPodStatus(admin, names.namespace, podStatus(images, { waitingGather: { index: 1, reason: 'ErrImagePull', message: 'manifest unknown' }, platform: 'kubernetes' }));
      // After ImagePullFailed nothing changes: only the requeue at the deadline can end the report.
      const ended = await eventually(async () => {
        const now = await getReport(admin, namespace, 'stuck');
        return readyOf(now)?.reason === 'StartTimedOut' ? now : undefined;
      }, 'StartTimedOut', 30_000, 100);
      expect(readyOf(ended)?.message).toMatch(/^Gave up after 10s: cannot pull image quay\.io\/a\/must-gather:v1 for the gather with .*: ErrImagePull: manifest unknown\.$/);
      const finishedAt = Date.parse(ended!.status!.finishedAt!);
      expect(finishedAt - admitted).toBeGreaterThanOrEqual(9_000); // whole seconds: creation and finishedAt are truncated
      expect(finishedAt - admitted).toBeLessThan(13_000);
      expect(await ownedObjects(admin, report.metadata.uid!)).not.toContain(`ClusterRoleBinding/${names.gatherBinding}`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits cleanly on SIGTERM, handing the lease over', async () => {
    const leaseNamespace = await testNamespace(admin, 'term');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/mustgather.ts', 'run', '--kubeconfig', inject('kubeconfig'), '--listen', '127.0.0.1:0', '--leader-elect'], {
      stdio: 'ignore', env: { ...process.env, POD_NAME: 'replica-term', POD_NAMESPACE: leaseNamespace },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const holder = async () => ((await admin.get({ kind: 'Lease', namespace: leaseNamespace, name: 'must-gather-operator' })) as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity;
    await eventually(async () => (await holder()) === 'replica-term', 'the replica to lead', 60_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await holder()).toBe('');
  });

  it.runIf(LOCAL_CLUSTER)(asOperator('lets only the leader of two replicas reconcile'), async () => {
    const leaseNamespace = await testNamespace(admin, 'lease');
    const replicas = ['replica-a', 'replica-b'].map((identity) => {
      const metrics = createMetrics({ defaultMetrics: false });
      const replicaController = new Controller({ client: operator, metrics, watchTimeoutSeconds: 30 });
      const elector = new LeaderElector(admin, {
        lease: { namespace: leaseNamespace, name: 'must-gather-operator' }, identity,
        leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500,
        onStartedLeading: async (signal) => {
          await replicaController.start();
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
          await replicaController.stop();
        },
        onError: () => undefined,
      });
      void elector.run();
      return { identity, elector, metrics };
    });
    const reconciles = async (m: ReturnType<typeof createMetrics>) => ((await m.registry.getMetricsAsJSON()).find((x) => x.name === 'mustgather_reconcile_total')?.values ?? []).reduce((sum, v) => sum + v.value, 0);
    try {
      const leader = await eventually(async () => replicas.find((r) => r.elector.isLeader()), 'a leader', 15_000, 100);
      const follower = replicas.find((r) => r !== leader)!;
      const namespace = await testNamespace(admin);
      await createReport(admin, namespace, 'leader', { images: ['quay.io/a/must-gather:v1'] });
      await eventually(async () => (await reconciles(leader.metrics)) > 0, 'the leader to reconcile');
      expect(follower.elector.isLeader()).toBe(false);
      expect(await reconciles(follower.metrics)).toBe(0);

      await leader.elector.release();
      await eventually(async () => follower.elector.isLeader(), 'the follower to take over', 15_000, 100);
      await createReport(admin, namespace, 'after-handover', { images: ['quay.io/a/must-gather:v1'] });
      await eventually(async () => (await reconciles(follower.metrics)) > 0, 'the new leader to reconcile');
    } finally {
      await Promise.all(replicas.map((r) => r.elector.release()));
    }
  });
});
