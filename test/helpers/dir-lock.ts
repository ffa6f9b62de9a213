/** Shared by the data-directory lock's tests: scratch directories, this process as a holder, a dead PID. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { processStart, type Holder } from '../../src/store/pglite/dir-lock.ts';

/** A function making empty directories under one scratch root, removed after the file's tests. */
export function scratchDirs(prefix: string): () => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return () => {
    const d = join(root, String(n++));
    mkdirSync(d);
    return d;
  };
}

const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** This process as a lock holder. */
export const me = (): Holder => ({ pid: process.pid, start: processStart(process.pid), boot: bootId, host: hostname(), since: new Date().toISOString(), nonce: 'n' });

/** The PID of a process that has exited. */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}
