import { stringify } from 'yaml';
import { DEFAULT_OPERATOR_NAMESPACE } from '../../constructs/install-chart.js';
import { IMAGE_FLAGS, imagesFromFlags } from '../image-flags.js';
import { renderInstall } from '../../constructs/render.js';
import { parseCommandArgs } from '../usage.js';

const HELP = `Usage: mustgather install [--namespace NS] [--operator-image IMAGE] [--oauth-proxy-image IMAGE]

Prints the operator's install manifests (CRD, namespace, RBAC, Deployment, metrics Service) as YAML:
  mustgather install | kubectl apply --server-side -f -`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    namespace: { type: 'string', default: DEFAULT_OPERATOR_NAMESPACE },
    ...IMAGE_FLAGS,
  }, HELP);
  if (!parsed) return 0;
  const { values } = parsed;
  const images = imagesFromFlags(values);
  process.stdout.write(renderInstall({ operatorNamespace: values.namespace, images }).map((m) => stringify(m)).join('---\n'));
  return 0;
}
