import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Storage suites open PGlite instances (WASM, ~300 MB each): keep parallelism bounded on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
