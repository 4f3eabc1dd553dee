/**
 * Renders the checked-in manifests from their charts: `deploy/crds/` (what a plain kube-apiserver needs) and
 * `manifests/` (the OpenShift release payload's manifests, cluster-version operator conventions).
 * `npm run render` rewrites them; `synth-tests/rendered.test.ts` fails when they are stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderedFiles } from './rendered-files.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [path, content] of Object.entries(renderedFiles())) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  console.log(`wrote ${path}`);
}
