#!/usr/bin/env node
/**
 * `npm run mustgather -- ...` in a checkout: every command of the shipped `mustgather`, plus `controlplane` (the local
 * development cluster), which needs the repository's hack/ scripts and dev dependencies and is never in the image.
 */
import { main } from '../../bin/cli.js';

process.exitCode = await main(process.argv.slice(2), {
  controlplane: { summary: '(checkout only) a local cluster for development: control plane, node, images', load: () => import('./controlplane.js') },
});
