import { defineConfig } from 'vitest/config';

/**
 * One run for everything, in two projects:
 * - `default`: unit and snapshot tests, and integration tests against the real control plane that
 *   `controlplane/vitest-global-setup.ts` starts once per run (building its binaries the first time); they play the
 *   kubelet by writing pod status.
 * - `node`: the end-to-end suites on a real node (test/node/), each file with its cluster, one file at a time (one
 *   node per machine), after the default project (groupOrder), so they do not compete with it for the two cores.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['synth-tests/**/*.test.ts', 'datapath/**/*.test.ts', 'reconciler/**/*.test.ts', 'kube/**/*.test.ts', 'bin/**/*.test.ts', 'constructs/**/*.test.ts', 'controlplane/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/node/**'],
          globalSetup: ['controlplane/vitest-global-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
