/**
 * One process per embedded data directory. PGlite does not stop a second
 * process from opening a directory in use: each then works on its own copy
 * of the pages in memory, and whichever writes last overwrites the other's
 * acknowledged rows. So every command that opens the directory first takes
 * this lock, and a second one refuses at once, naming the holder.
 *
 * The lock is a file, `verdict.lock`, created exclusively (O_EXCL), holding
 * who took it: PID, the process's start time (field 22 of /proc/PID/stat),
 * the kernel's boot ID, the host name and a random nonce. A holder counts
 * as alive only if a process with that PID exists *and* started at the
 * recorded time in the same boot, so a PID recycled by another process
 * after a kill -9 (or a container whose Verdict is PID 1 again after a
 * restart) does not block the directory forever. A lock taken under another
 * host name (another container sharing the volume, another machine on a
 * network file system) cannot be checked from here and counts as alive:
 * refusing is safe, two writers lose data.
 *
 * Taking over a dead holder's lock is race-free: removing it is reserved,
 * per lock file content, by exclusively creating a "break" file named after
 * that content's hash, which is itself a lock (so a breaker killed half-way
 * is recovered the same way). Only the breaker removes the stale file, and
 * only while it still holds that same content; everyone else waits and
 * looks again. Two processes starting at once thus end with exactly one
 * owner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'verdict.lock';

/** What a lock file says about the process holding it. */
export interface Holder {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22); null without /proc. */
  start: string | null;
  /** /proc/sys/kernel/random/boot_id; null without /proc. */
  boot: string | null;
  host: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  nonce: string;
}

/** A data directory's lock, held by this process until `release`. */
export interface DirLock {
  readonly path: string;
  release(): void;
}

/** The lock is held by a live process. */
export class DirLockedError extends Error {
  override readonly name = 'DirLockedError';
  readonly path: string;
  readonly holder: Holder;
  constructor(path: string, holder: Holder) {
    super(`${path} is held by process ${holder.pid} since ${holder.since}`);
    this.path = path;
    this.holder = holder;
  }
}

/** A lock file being written (created but not filled yet) is younger than this; an unreadable older one is stale. */
const WRITING_GRACE_MS = 5_000;
/** How long to wait for another process that is taking over or writing the lock before giving up. */
const CONTENDED_FOR_MS = 10_000;
/** Break files nest only when a breaker is itself killed while breaking: a few levels are plenty. */
const MAX_DEPTH = 4;

/**
 * Takes the lock of directory `dir` (which must exist). Throws DirLockedError
 * naming the holder if a live process has it; other errors are the file
 * system's (permission denied, read-only, …).
 */
export async function lockDir(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, start: processStart(process.pid), boot: bootId(), host: hostname(), since: new Date().toISOString(), nonce: randomBytes(12).toString('hex') };
  const content = `${JSON.stringify(me)}\n`;
  const holder = await take(path, content, 0);
  if (holder) throw new DirLockedError(path, holder);
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Only our own lock: never a file someone else wrote after ours was (wrongly) removed.
      if (readRaw(path) === content) unlinkQuiet(path);
    },
  };
}

/** Returns null once `path` holds `content`, or the live holder that has it. */
async function take(path: string, content: string, depth: number): Promise<Holder | null> {
  const deadline = Date.now() + CONTENDED_FOR_MS;
  for (;;) {
    if (create(path, content)) return null;
    const raw = readRaw(path);
    if (raw === null) continue; // removed between our attempt and the read: try again
    const held = parse(raw);
    if (held && isAlive(held)) return held;
    if (!held && Date.now() - mtimeMs(path) < WRITING_GRACE_MS) {
      // Created but not written yet: its writer is alive and about to fill it.
      await pause(deadline, path);
      continue;
    }
    // The holder is dead (or the file is garbage): break this exact content, once.
    if (!(await breakStale(path, raw, content, depth))) await pause(deadline, path); // another live process is breaking it
  }
}

/**
 * Removes the lock file at `path` if it still holds `raw` (judged stale),
 * serialised with everyone else who judged the same content stale by the
 * break file named after it. False when another live process holds that
 * break file (it is removing the lock right now); true once done, whether
 * or not there was still anything to remove.
 */
export async function breakStale(path: string, raw: string, content: string, depth: number): Promise<boolean> {
  if (depth >= MAX_DEPTH) throw new Error(`cannot recover the stale lock ${path}: remove it and the ${path}.break-* files by hand`);
  const token = `${path}.break-${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
  if (await take(token, content, depth + 1)) return false;
  try {
    // Only the holder of the token removes this content, so what we read is what we unlink: a lock taken
    // since (by a process that saw the file gone) holds other content and stays.
    if (readRaw(path) === raw) unlinkQuiet(path);
  } finally {
    unlinkQuiet(token);
  }
  return true;
}

/** Creates `path` with `content` if it does not exist (atomically: O_CREAT | O_EXCL). */
function create(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Whether the process a lock names is still the one that wrote it. */
export function isAlive(h: Holder): boolean {
  if (!sameHost(h)) return true; // its PIDs are not ours to look up
  const boot = bootId();
  if (boot !== null && h.boot !== null && boot !== h.boot) return false; // the machine has restarted since
  const start = processStart(h.pid);
  if (start !== null && h.start !== null) return start === h.start;
  // No start time to compare (no /proc, or /proc hides other users' processes): whether the PID exists at all.
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** Whether the lock was taken on this host (its PIDs and boot are the ones visible here). */
export function sameHost(h: Holder): boolean {
  return h.host === '' || h.host === hostname();
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function parse(raw: string): Holder | null {
  try {
    const h = JSON.parse(raw) as Partial<Holder>;
    return typeof h.pid === 'number' && Number.isInteger(h.pid) && h.pid > 0 && typeof h.nonce === 'string'
      ? { pid: h.pid, start: h.start ?? null, boot: h.boot ?? null, host: String(h.host ?? ''), since: String(h.since ?? ''), nonce: h.nonce }
      : null;
  } catch {
    return null;
  }
}

function readRaw(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function pause(deadline: number, path: string): Promise<void> {
  if (Date.now() > deadline) throw new Error(`gave up waiting for ${path}: another process keeps it half-taken`);
  await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
}
