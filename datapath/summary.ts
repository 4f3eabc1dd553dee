/**
 * The archive's `must-gather/summary`: the file a person (or a support engineer) reads first. What the operator saw
 * of the cluster when the report started (handed over in the archive step's environment, see
 * `constructs/pod-contract.ts`), and each image that ran with its result (from the gathers' `gather-result.json`,
 * which the archive step reads anyway). Plain text, in `oc adm must-gather`'s words where it has some.
 */
import type { GatherResult, SummaryInput } from '../constructs/pod-contract.js';

const indent = (lines: readonly string[]) => lines.map((l) => `  ${l}`);

/** One gather's result in one line (and its message on the next, when it has one). */
function gatherLines(index: number, image: string, result: GatherResult | undefined): string[] {
  if (!result) return [`${index}. ${image}`, '   no result recorded: the gather did not run, or was killed before it wrote one'];
  const exit = result.state === 'Succeeded' ? '' : ` (exit code ${result.exitCode})`;
  return [
    `${index}. ${image}`,
    `   ${result.state}${exit}, ${result.startedAt} to ${result.finishedAt}`,
    ...(result.state !== 'Succeeded' && result.message ? [`   ${result.message.replace(/\s+/g, ' ').slice(0, 500)}`] : []),
  ];
}

/** The summary's text, from the operator's facts and the gathers' results (by index). */
export function formatSummary(input: SummaryInput, results: ReadonlyMap<number, GatherResult>): string {
  const cluster = input.cluster;
  const lines = ['must-gather summary', '', `Report: ${input.report || '<unknown>'}`, ''];
  if (cluster) {
    lines.push(
      'Cluster',
      ...indent([
        `ClusterID: ${cluster.id}`,
        `ClusterVersion: ${cluster.versionState ?? cluster.version}`,
        `Platform: ${cluster.platform}`,
        `Kubernetes: ${cluster.kubernetesVersion}`,
        `Observed at: ${cluster.observedAt}`,
      ]),
      '',
    );
    if (cluster.clusterOperators) {
      const { total, notHealthy } = cluster.clusterOperators;
      lines.push(`ClusterOperators (${total}):`, ...indent(notHealthy.length > 0 ? notHealthy : [total > 0 ? 'All healthy and stable' : 'clusteroperators are missing']), '');
    }
    if (cluster.nodes) {
      const { total, notReady } = cluster.nodes;
      lines.push(`Nodes (${total}):`, ...indent(notReady.length > 0 ? notReady : ['All Ready']), '');
    }
    if (cluster.unreadable?.length) lines.push('Could not be read:', ...indent(cluster.unreadable), '');
  } else {
    lines.push('Cluster: not known (rendered without a cluster)', '');
  }
  lines.push(`Images (${input.images.length}, in the order they ran):`);
  input.images.forEach((image, i) => lines.push(...indent(gatherLines(i + 1, image, results.get(i + 1)))));
  return `${lines.join('\n')}\n`;
}
