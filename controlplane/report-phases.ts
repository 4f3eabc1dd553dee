/**
 * Follows one report through its phases on a real node, with the time each was first seen: applied (its pod
 * exists), scheduled, the first container started, gathered (the compress step began), archived, and serving (Ready).
 * Used by `npm start` to show progress and by the node benchmark to split create -> Ready by phase. It polls every
 * 100 ms (a watch's events are per object; the phases come from two objects, the report and its pod).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MustGatherReport } from '../constructs/report-api.js';
import { reportObjectNames } from '../constructs/report-identity.js';
import type { KubeClient } from '../kube/client.js';
import { CONTAINERS } from '../constructs/pod-contract.js';

export const PHASES = ['applied', 'scheduled', 'started', 'gathered', 'archived', 'serving'] as const;
export type Phase = (typeof PHASES)[number];

interface PodLike {
  spec?: { nodeName?: string };
  status?: { initContainerStatuses?: { name: string; state?: { running?: unknown; terminated?: unknown } }[] };
}

/** Milliseconds from `createdAt` to each phase, in phase order. */
export type PhaseTimes = Record<Phase, number>;

/**
 * Resolves with each phase's time once the report is Ready; rejects when it ends without being Ready (a terminal
 * reason) or after `timeoutMs`. `onPhase` hears each phase as it is first seen, `onReason` each new Ready reason.
 */
export async function followReport(
  client: KubeClient,
  ref: { namespace: string; name: string },
  createdAt: number,
  opts: { timeoutMs?: number; onPhase?: (phase: Phase, ms: number) => void; onReason?: (reason: string, message: string) => void } = {},
): Promise<{ report: MustGatherReport; times: PhaseTimes }> {
  const times: Partial<PhaseTimes> = {};
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let lastReason = '';
  const mark = (phase: Phase, reached: boolean) => {
    if (!reached || times[phase] !== undefined) return;
    // A phase seen implies the ones before it (a poll can miss a short one): they get the same time.
    for (const p of PHASES.slice(0, PHASES.indexOf(phase) + 1)) {
      if (times[p] === undefined) {
        times[p] = Date.now() - createdAt;
        opts.onPhase?.(p, times[p]!);
      }
    }
  };
  for (;;) {
    const report = await client.get<MustGatherReport>({ kind: 'MustGatherReport', ...ref });
    if (!report) throw new Error(`MustGatherReport/${ref.namespace}/${ref.name}: gone`);
    const ready = report.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready && ready.reason !== lastReason) {
      lastReason = ready.reason;
      opts.onReason?.(ready.reason, ready.message ?? '');
    }
    const names = reportObjectNames(report.metadata);
    const pod = await client.get<PodLike>({ kind: 'Pod', namespace: names.namespace, name: names.main });
    const init = pod?.status?.initContainerStatuses ?? [];
    const archive = init.find((c) => c.name === CONTAINERS.archive);
    mark('applied', pod !== undefined);
    mark('scheduled', !!pod?.spec?.nodeName);
    mark('started', init.some((c) => c.state?.running || c.state?.terminated));
    mark('gathered', !!(archive?.state?.running || archive?.state?.terminated));
    mark('archived', !!archive?.state?.terminated);
    if (ready?.status === 'True') {
      mark('serving', true);
      return { report, times: times as PhaseTimes };
    }
    if (report.status?.expiresAt) throw new Error(`MustGatherReport/${ref.namespace}/${ref.name} ended without an archive: ${ready?.reason}: ${ready?.message}`);
    if (Date.now() > deadline) throw new Error(`MustGatherReport/${ref.namespace}/${ref.name}: not Ready after ${opts.timeoutMs} ms (${ready?.reason}: ${ready?.message})`);
    await sleep(100);
  }
}
