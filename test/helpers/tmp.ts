/**
 * Temporary folders for tests. Each is removed when its test file ends,
 * passed or failed (an afterAll this module registers in each file that
 * imports it); a crash that skips that leaves it in the run's own TMPDIR,
 * which global-setup.ts removes whole.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made = new Set<string>();

/** A new empty folder, e.g. tempDir('cli') → $TMPDIR/verdict-cli-XXXXXX. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `verdict-${name}-`));
  made.add(dir);
  return dir;
}

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
});
