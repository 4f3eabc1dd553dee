import { defineConfig } from 'vitest/config';

/**
 * One run for everything: unit and snapshot tests, and integration tests against the real control plane that
 * `controlplane/vitest-global-setup.ts` starts once per run (building its binaries the first time).
 */
export default defineConfig({
  test: {
    include: ['synth-tests/**/*.test.ts', 'datapath/**/*.test.ts', 'reconciler/**/*.test.ts', 'bin/**/*.test.ts', 'constructs/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['controlplane/vitest-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
