import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['synth-tests/**/*.test.ts', 'datapath/**/*.test.ts', 'reconciler/**/*.test.ts', 'bin/**/*.test.ts', 'constructs/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
