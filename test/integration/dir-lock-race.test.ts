/**
 * Processes racing for one data directory's lock (src/store/pglite/dir-lock.ts),
 * with or without a dead holder's lock left in it, end with exactly one
 * owner, the others naming it. Real processes, so not a unit test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deadPid, me, scratchDirs } from '../helpers/dir-lock.ts';
import { LOCK_FILE } from '../../src/store/pglite/dir-lock.ts';

const freshDir = scratchDirs('verdict-lock-race-');

const DIR_LOCK = fileURLToPath(new URL('../../src/store/pglite/dir-lock.ts', import.meta.url));
/** A process that waits for a common instant, tries the lock, prints the outcome and holds a won lock for a while. */
const CONTENDER = `
const { lockDir } = await import(${JSON.stringify(DIR_LOCK)});
const at = Number(process.env.AT);
while (Date.now() < at);
try {
  const lock = await lockDir(process.env.DIR);
  process.stdout.write('got ' + process.pid);
  setTimeout(() => lock.release(), 1500);
} catch (err) {
  process.stdout.write(err.holder ? 'refused ' + err.holder.pid : 'error ' + err.message);
}`;

function contend(dir: string, at: number): Promise<{ pid: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', CONTENDER], { env: { ...process.env, AT: String(at), DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => resolve({ pid: p.pid!, out }));
  });
}

describe('processes racing for one directory', () => {
  it.each([
    ['an empty directory', false],
    ['a directory holding a dead process\'s lock', true],
  ])('end with exactly one owner, the others naming it: %s', { timeout: 30_000 }, async (_what, stale) => {
    for (let round = 0; round < 2; round++) {
      const dir = freshDir();
      if (stale) writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...me(), pid: deadPid(), start: '1', nonce: `dead-${round}` }));
      const at = Date.now() + 1200; // after every contender has started
      const results = await Promise.all(Array.from({ length: 6 }, () => contend(dir, at)));
      const winners = results.filter((r) => r.out.startsWith('got'));
      expect(winners, JSON.stringify(results)).toHaveLength(1);
      const winner = winners[0]!.pid;
      for (const r of results.filter((x) => x.pid !== winner)) expect(r.out).toBe(`refused ${winner}`);
      // The winner released on exit; nothing is left behind.
      expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
    }
  });
});
