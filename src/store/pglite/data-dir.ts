/**
 * Claiming the embedded database's directory before anything opens it: it
 * must be a directory this user can write (created if missing), it must
 * hold a database or nothing else (initdb would otherwise scatter
 * PostgreSQL's files among someone's own), and no other process may have it
 * (dir-lock.ts). Each problem stops start-up with one line naming
 * --data-dir.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../errors.ts';
import { DirLockedError, LOCK_FILE, lockDir, sameHost, type DirLock } from './dir-lock.ts';
import { PASSWORD_FILE } from './password.ts';
import { fileErrorReason } from '../../common/file-errors.ts';

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Top-level names of a PostgreSQL data directory, and Verdict's own files there (the lock's break files included). */
const KNOWN = new RegExp(`^(PG_VERSION|base|global|pg_\\w+|postgresql(\\.auto)?\\.conf|postmaster\\.(pid|opts)|${literal(LOCK_FILE)}(\\..*)?|${literal(PASSWORD_FILE)})$`);

export interface DataDir {
  lock: DirLock;
  /** Whether the directory holds a database already (false: PGlite will run initdb). */
  initialised: boolean;
}

export async function claimDataDir(dir: string): Promise<DataDir> {
  let isDir: boolean | null = null;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unusable(dir, err);
  }
  if (isDir === false) throw new ConfigError(`--data-dir ${dir} is a file, not a directory: give the embedded database a directory of its own (or set --database-url)`);
  if (isDir === null) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new ConfigError(`cannot create --data-dir ${dir}: ${fileErrorReason(err)}; choose a directory this user (uid ${uid()}) can write, or create it with the right owner`);
    }
  }
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw unusable(dir, err);
  }
  const initialised = existsSync(join(dir, 'PG_VERSION'));
  if (!initialised) {
    const foreign = readdirSync(dir).filter((name) => !KNOWN.test(name));
    if (foreign.length > 0) {
      throw new ConfigError(
        `--data-dir ${dir} holds other files (${foreign.slice(0, 3).map((f) => JSON.stringify(f)).join(', ')}${foreign.length > 3 ? ', …' : ''}) ` +
          `but no database: give the embedded database an empty or new directory`,
      );
    }
  } else {
    // The files inside must be writable too (a directory copied by another user, say).
    try {
      accessSync(join(dir, 'global', 'pg_control'), constants.R_OK | constants.W_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unusable(dir, err);
    }
  }
  try {
    return { lock: await lockDir(dir), initialised };
  } catch (err) {
    if (err instanceof DirLockedError) {
      const h = err.holder;
      if (!sameHost(h)) {
        throw new ConfigError(
          `--data-dir ${dir} is in use by a Verdict on another host (process ${h.pid} on ${h.host}, since ${h.since}), which cannot be checked from here: ` +
            `stop it first; if none runs there any more (it was killed), delete ${err.path}`,
        );
      }
      throw new ConfigError(`--data-dir ${dir} is in use by another Verdict (process ${h.pid} on ${h.host}, since ${h.since}): stop it first, or give this one another --data-dir`);
    }
    throw unusable(dir, err);
  }
}

/** The database in `dir` exists but PGlite cannot open it (made by another PostgreSQL version, or damaged). */
export function unopenable(dir: string, err: unknown): ConfigError {
  let version = '?';
  try {
    version = readFileSync(join(dir, 'PG_VERSION'), 'utf8').trim();
  } catch {
    // Gone or unreadable: the message says so with "?".
  }
  return new ConfigError(
    `cannot open the embedded database in --data-dir ${dir} (PostgreSQL ${version} files): ${(err as Error)?.message ?? String(err)}; ` +
      `if another version of Verdict made it, or it is damaged, restore it from a backup or choose a new --data-dir`,
  );
}

function unusable(dir: string, err: unknown): ConfigError {
  return new ConfigError(`cannot use --data-dir ${dir}: ${fileErrorReason(err)}; choose a directory this user (uid ${uid()}) can write, or fix its owner and permissions`);
}

const uid = () => process.getuid?.() ?? '?';
