import { configDefaults, defineConfig } from 'vitest/config';
import { WASM_CODE_GC_OFF } from './src/runtime.ts';

/**
 * Files that measure the receiver's event-loop stalls from outside, which
 * another test file running beside them on a 2-core machine would inflate
 * (a stall is any delay of the receiver's timers, the CPU taken by another
 * process included): they run after all the others, alone.
 */
const ALONE = ['test/faults/hostile.test.ts'];

// Each file starts its own receivers and databases on ephemeral ports; two at a time suits a 2-core machine.
const shared = {
  pool: 'forks' as const,
  // Test processes open and close embedded databases (WebAssembly) in worker threads: src/runtime.ts says why.
  execArgv: [WASM_CODE_GC_OFF],
  testTimeout: 30_000,
  // Hooks start receivers on the embedded database (about 5 s alone, 7 s for two at once). Beside another
  // file's receivers and child processes on 2 cores that has taken over a minute; this bound is for a hang.
  hookTimeout: 120_000,
  // A test that never asserts is a defect, not a pass.
  expect: { requireAssertions: true },
};

export default defineConfig({
  test: {
    // A TMPDIR of the run's own, and the databases it created, removed at the end whatever happened.
    globalSetup: ['test/helpers/global-setup.ts'],
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'together', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...ALONE] } },
      { test: { ...shared, name: 'alone', include: ALONE, sequence: { groupOrder: 1 } } },
    ],
  },
});
