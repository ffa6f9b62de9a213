/**
 * The data directory's lock (src/store/pglite/dir-lock.ts): who counts as a
 * live holder (the PID and its start time, in this boot), taking, breaking
 * and releasing it. Processes racing for it: test/integration/dir-lock-race.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deadPid, me, scratchDirs } from '../helpers/dir-lock.ts';
import { breakStale, DirLockedError, isAlive, LOCK_FILE, lockDir, processStart } from '../../src/store/pglite/dir-lock.ts';
import { createHash } from 'node:crypto';

const freshDir = scratchDirs('verdict-lock-');

describe('a lock holder is alive', () => {
  it('when its PID runs and started when the lock says', () => {
    expect(processStart(process.pid)).toMatch(/^\d+$/);
    expect(isAlive(me())).toBe(true);
  });

  it('not when the PID now belongs to a process started at another time (a recycled PID)', () => {
    expect(isAlive({ ...me(), start: String(Number(me().start) - 1) })).toBe(false);
  });

  it('not when no process has the PID', () => {
    expect(isAlive({ ...me(), pid: deadPid(), start: '12345' })).toBe(false);
  });

  it('not when the lock was taken before the machine last booted', () => {
    expect(isAlive({ ...me(), boot: '00000000-0000-0000-0000-000000000000' })).toBe(false);
  });

  it('always, when the lock was taken under another host name (another container or machine): its processes cannot be looked up from here', () => {
    expect(isAlive({ ...me(), host: 'another-container', pid: deadPid(), start: '1', boot: '00000000-0000-0000-0000-000000000000' })).toBe(true);
  });
});

describe('lockDir in one process', () => {
  it('refuses a second taker naming the holder, and is free again once released', async () => {
    const dir = freshDir();
    const lock = await lockDir(dir);
    const err = await lockDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirLockedError);
    expect((err as DirLockedError).holder).toMatchObject({ pid: process.pid, start: processStart(process.pid), boot: me().boot });
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    (await lockDir(dir)).release();
  });

  it('takes over a dead holder\'s lock, and a garbled one, leaving no break files behind', async () => {
    const dir = freshDir();
    const path = join(dir, LOCK_FILE);
    writeFileSync(path, JSON.stringify({ ...me(), pid: deadPid(), start: '1', nonce: 'dead' }));
    const lock = await lockDir(dir);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    lock.release();
    writeFileSync(path, 'not json');
    // A lock file that cannot be read is given a grace period in case its writer is mid-write; this one is old.
    const old = new Date(Date.now() - 60_000);
    (await import('node:fs')).utimesSync(path, old, old);
    (await lockDir(dir)).release();
    expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('does not remove a lock that is no longer its own', async () => {
    const dir = freshDir();
    const lock = await lockDir(dir);
    const other = JSON.stringify({ ...me(), nonce: 'someone else' });
    writeFileSync(join(dir, LOCK_FILE), other);
    lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(other);
  });
});

describe('breaking a dead holder\'s lock', () => {
  const stale = () => JSON.stringify({ ...me(), pid: deadPid(), start: '1', nonce: 'dead' });
  const tokenOf = (path: string, raw: string) => `${path}.break-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;

  it('leaves a lock taken since it was judged stale (a slow breaker must not remove the new owner\'s lock)', async () => {
    const dir = freshDir();
    const path = join(dir, LOCK_FILE);
    const old = stale();
    const fresh = JSON.stringify(me());
    writeFileSync(path, fresh); // someone broke `old` and took the lock meanwhile
    expect(await breakStale(path, old, JSON.stringify({ ...me(), nonce: 'breaker' }), 0)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(fresh);
    expect(existsSync(tokenOf(path, old))).toBe(false);
  });

  it('waits while another live process is breaking the same lock, then takes it', async () => {
    const dir = freshDir();
    const path = join(dir, LOCK_FILE);
    const old = stale();
    writeFileSync(path, old);
    writeFileSync(tokenOf(path, old), JSON.stringify(me())); // a live breaker at work
    expect(await breakStale(path, old, JSON.stringify({ ...me(), nonce: 'second breaker' }), 0)).toBe(false);
    const taking = lockDir(dir);
    await new Promise((r) => setTimeout(r, 200));
    expect(readFileSync(path, 'utf8')).toBe(old);
    // The other breaker finishes (removes the stale lock and its break file) without taking the lock itself.
    rmSync(path);
    rmSync(tokenOf(path, old));
    const lock = await taking;
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });
});
