import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { imagesFromEnv } from '../../constructs/operator-config.js';
import { type Platform, PLATFORMS } from '../../constructs/pod-contract.js';
import { type MustGatherReport, ReportValidationError, validateReport } from '../../constructs/report-api.js';
import { type RuntimeObject, runtimeObjects } from '../../constructs/report-chart.js';
import { type Manifest, renderReport } from '../../constructs/render.js';
import { parseDocuments, readText } from '../read-input.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather synth [-f FILE|-] [-o DIR] [-n NAMESPACE]

Prints the manifests a MustGatherReport would create, as multi-document YAML, without a cluster: the same bytes
for the same report every time. Objects only the operator may make when it creates the report (oauth-proxy's
random cookie secret; on kubernetes the file server's private key and certificate) are left out, and a comment
names them.
  -f, --filename FILE   the report (YAML or JSON); "-" or omitted: standard input
  -o, --output DIR      write one file per object into DIR instead of printing
  -n, --namespace NS    namespace of a report that names none (default "default")
      --platform P      ${PLATFORMS.join(' or ')} (default openshift)
Images: OPERATOR_IMAGE and OAUTH_PROXY_IMAGE override the defaults.
An invalid report is reported in one line naming the field; exit code 2.`;

/** YAML comment lines naming what was left out, and why. */
function omittedComment(omitted: readonly RuntimeObject[]): string {
  return [
    '# Left out: made by the operator when it creates the report, never by hand (applying these manifests alone gives',
    '# a pod that waits for them):',
    ...omitted.map((o) => `#   ${o.kind} ${o.namespace}/${o.name}: ${o.reason}`),
  ].map((line) => `${line}\n`).join('');
}

/**
 * A YAML comment for a report whose images the operator resolves on the cluster: offline, the pod shows spec.images
 * (or the default image) only, and the archive's summary holds no cluster facts.
 */
function resolvedOnClusterComment(report: MustGatherReport): string {
  const what = [report.spec.imageStreams?.length ? 'imageStreams' : '', report.spec.allImages ? 'allImages' : ''].filter(Boolean);
  return what.length === 0 ? '' : `# ${what.join(' and ')}: resolved by the operator when the report starts; offline the pod runs spec.images or the default image only\n`;
}

/** File name for one manifest in `-o DIR`: ordered as rendered, readable. */
function fileName(manifest: Manifest, index: number): string {
  const scope = manifest.metadata.namespace ? `${manifest.metadata.namespace}-` : '';
  return `${String(index).padStart(2, '0')}-${manifest.kind.toLowerCase()}-${scope}${manifest.metadata.name}.yaml`.replace(/[^A-Za-z0-9._-]/g, '_');
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    filename: { type: 'string', short: 'f', default: '-' },
    output: { type: 'string', short: 'o' },
    namespace: { type: 'string', short: 'n', default: 'default' },
    platform: { type: 'string', default: 'openshift' },
  }, HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  const source = values.filename;
  const documents = parseDocuments(readText(source), source === '-' ? '<stdin>' : source);
  if (documents.length === 0) throw new UsageError(`${source === '-' ? 'standard input' : source}: no report found`);
  if (!(PLATFORMS as readonly string[]).includes(values.platform)) throw new UsageError(`--platform: "${values.platform}" is not one of ${PLATFORMS.join(', ')}`);
  const platform = values.platform as Platform;
  const rendered = documents.map((document, i) => {
    try {
      const report = validateReport(document, values.namespace);
      return {
        manifests: renderReport(report, { platform, images: imagesFromEnv(), runtimeObjects: 'omit' }),
        omitted: runtimeObjects(report, platform),
        note: resolvedOnClusterComment(report),
      };
    } catch (err) {
      if (err instanceof ReportValidationError) {
        throw new UsageError(`invalid report${documents.length > 1 ? ` (document ${i + 1})` : ''}: ${err.message}`);
      }
      throw err;
    }
  });
  if (values.output) {
    const manifests = rendered.flatMap((r) => r.manifests);
    mkdirSync(values.output, { recursive: true });
    manifests.forEach((manifest, i) => writeFileSync(join(values.output!, fileName(manifest, i + 1)), stringify(manifest)));
    process.stderr.write(`wrote ${manifests.length} manifests to ${values.output}\n${rendered.map((r) => r.note).join('')}${omittedComment(rendered.flatMap((r) => r.omitted))}`);
  } else {
    // Each report's documents, the first led by the comment naming what that report's render left out.
    process.stdout.write(rendered.map((r) => r.note + omittedComment(r.omitted) + r.manifests.map((m) => stringify(m)).join('---\n')).join('---\n'));
  }
  return 0;
}
