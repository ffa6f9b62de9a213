import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A TMPDIR of the run's own, and the databases it created, removed at the end whatever happened.
    globalSetup: ['test/helpers/global-setup.ts'],
    // Each file starts its own receivers and databases on ephemeral ports; two at a time suits a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A test that never asserts is a defect, not a pass.
    expect: { requireAssertions: true },
  },
});
