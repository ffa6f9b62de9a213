/**
 * Processes racing for one data directory's lock (src/store/pglite/dir-lock.ts),
 * with or without a dead holder's lock left in it, end with exactly one
 * owner, the others naming it. Real processes, so not a unit test.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, processStart, type Holder } from '../../src/store/pglite/dir-lock.ts';

const root = mkdtempSync(join(tmpdir(), 'verdict-lock-race-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
};
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const me = (): Holder => ({ pid: process.pid, start: processStart(process.pid), boot: bootId, host: hostname(), since: new Date().toISOString(), nonce: 'n' });

/** The PID of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

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
