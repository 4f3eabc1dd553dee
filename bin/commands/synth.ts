import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { imagesFromEnv } from '../../constructs/operator-config.js';
import { type Platform, PLATFORMS } from '../../constructs/pod-contract.js';
import { reportObjectNames, serviceHostnames } from '../../constructs/report-identity.js';
import { createServingCa, issueServingCertificate } from '../../reconciler/serving-ca.js';
import { ReportValidationError, validateReport } from '../../constructs/report-api.js';
import { type Manifest, renderReport } from '../../constructs/render.js';
import { parseDocuments, readText } from '../read-input.js';
import { parseCommandArgs, UsageError } from '../usage.js';

const HELP = `Usage: mustgather synth [-f FILE|-] [-o DIR] [-n NAMESPACE]

Prints the manifests a MustGatherReport would create, as multi-document YAML, without a cluster.
  -f, --filename FILE   the report (YAML or JSON); "-" or omitted: standard input
  -o, --output DIR      write one file per object into DIR instead of printing
  -n, --namespace NS    namespace of a report that names none (default "default")
      --platform P      ${PLATFORMS.join(' or ')} (default openshift); kubernetes renders a throwaway serving
                        certificate from a throwaway CA where the operator would issue one from its own
      --cookie-secret S oauth-proxy cookie secret to render (default: random, as the operator does)
Images: OPERATOR_IMAGE and OAUTH_PROXY_IMAGE override the defaults.
An invalid report is reported in one line naming the field; exit code 2.`;

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
    'cookie-secret': { type: 'string' },
    platform: { type: 'string', default: 'openshift' },
  }, HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  const source = values.filename;
  const documents = parseDocuments(readText(source), source === '-' ? '<stdin>' : source);
  if (documents.length === 0) throw new UsageError(`${source === '-' ? 'standard input' : source}: no report found`);
  if (!(PLATFORMS as readonly string[]).includes(values.platform)) throw new UsageError(`--platform: "${values.platform}" is not one of ${PLATFORMS.join(', ')}`);
  const platform = values.platform as Platform;
  const ca = platform === 'kubernetes' ? await createServingCa() : undefined;
  const manifests = (await Promise.all(documents.map(async (document, i) => {
    try {
      const report = validateReport(document, values.namespace);
      const servingCertificate = ca ? await issueServingCertificate(ca, serviceHostnames(reportObjectNames(report.metadata))) : undefined;
      return renderReport(report, {
        platform, images: imagesFromEnv(),
        ...(values['cookie-secret'] ? { cookieSecret: values['cookie-secret'] } : {}),
        ...(servingCertificate ? { servingCertificate } : {}),
      });
    } catch (err) {
      if (err instanceof ReportValidationError) {
        throw new UsageError(`invalid report${documents.length > 1 ? ` (document ${i + 1})` : ''}: ${err.message}`);
      }
      throw err;
    }
  }))).flat();
  if (values.output) {
    mkdirSync(values.output, { recursive: true });
    manifests.forEach((manifest, i) => writeFileSync(join(values.output!, fileName(manifest, i + 1)), stringify(manifest)));
    console.error(`wrote ${manifests.length} manifests to ${values.output}`);
  } else {
    process.stdout.write(manifests.map((manifest) => stringify(manifest)).join('---\n'));
  }
  return 0;
}
