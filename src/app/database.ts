/**
 * Opening the database at start-up. The embedded one opens or fails. A
 * PostgreSQL that cannot be reached yet (still starting, restarting, its
 * container not up) is retried with backoff for up to --database-wait, each
 * attempt logged with its cause; `serve` listens meanwhile and answers
 * "retry". What waiting cannot fix stops start-up at once with one line that
 * names the setting (exit code 2): a host name that does not resolve
 * (ENOTFOUND; a temporary DNS failure, EAI_AGAIN, is waited out), a user or
 * password the server refuses (SQLSTATE 28P01, 28000), a database that does
 * not exist (3D000).
 */
import type { Config } from '../config.ts';
import { ConfigError, StartupError, UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sqlState } from '../store/db-errors.ts';
import { syncLoopSettings } from '../loop/sync.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';

const SETTING = '--database-url or DATABASE_URL';
/** First retry after this; doubling up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

/**
 * SQLSTATEs worth waiting out (PostgreSQL Appendix A): connection exceptions
 * (class 08), the server starting up or shutting down (57P01-57P03), too many
 * connections (53300).
 */
const TRANSIENT_STATES = /^(08...|57P0[123]|53300)$/;
/** Node.js socket errors of a server that is not (yet) there. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EAI_AGAIN', 'EPIPE', 'ENOENT']);

export interface OpenOptions {
  /** Hears why the database is not there yet, before each retry (for /readyz). */
  onWait?: (reason: string) => void;
  /** Aborts the wait (a signal during start-up). */
  signal?: AbortSignal;
}

/** Opens the store and applies pending migrations; resolves once both are done, with the migrations' names. */
export async function openDatabase(cfg: Config, log: Logger, opts: OpenOptions = {}): Promise<{ store: Store; applied: string[] }> {
  const store = await openStore(cfg, log);
  const where = cfg.databaseUrl ? describeUrl(cfg.databaseUrl) : '';
  const deadline = Date.now() + cfg.databaseWaitMs;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const applied = await store.migrate();
        // What the learning-loop views read from the configuration (src/loop/sync.ts).
        await syncLoopSettings(store.db, cfg.learningLoop);
        if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
        if (attempt > 1) log.info({ database: where, attempts: attempt }, `PostgreSQL at ${where} is reachable`);
        return { store, applied };
      } catch (err) {
        if (!cfg.databaseUrl) throw err;
        const cause = err instanceof UnavailableError && err.cause !== undefined ? err.cause : err;
        const fatal = configProblem(cause, cfg.databaseUrl, where);
        if (fatal) throw fatal;
        if (!isTransient(cause)) throw err;
        const why = describeError(cause);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new StartupError(
            cfg.databaseWaitMs > 0
              ? `PostgreSQL at ${where} (${SETTING}) was not reachable within ${seconds(cfg.databaseWaitMs)} (--database-wait): ${why}`
              : `PostgreSQL at ${where} (${SETTING}) is not reachable: ${why} (--database-wait 0: no waiting)`,
          );
        }
        const delay = Math.min(FIRST_BACKOFF_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS, left);
        opts.onWait?.(`waiting for PostgreSQL at ${where}: ${why}`);
        log.warn(
          { database: where, attempt, retryInMs: delay, err: why },
          `cannot reach PostgreSQL at ${where} (${why}); attempt ${attempt}, next in ${seconds(delay)}, waiting up to ${seconds(left)} more (--database-wait)`,
        );
        await pause(delay, opts.signal);
      }
    }
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}

/** The problems a wait cannot fix, as one line naming the setting; null for the others. */
function configProblem(err: unknown, url: string, where: string): ConfigError | null {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || 'the default user';
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOTFOUND') {
    return new ConfigError(`cannot resolve the database host ${JSON.stringify(u.hostname)} (${SETTING}): no such host name; check the URL`);
  }
  switch (sqlState(err)) {
    case '28P01':
      return new ConfigError(`PostgreSQL at ${where} refused the password of user ${JSON.stringify(user)} (${SETTING}): ${describeError(err)}`);
    case '28000':
      return new ConfigError(`PostgreSQL at ${where} refused user ${JSON.stringify(user)} (${SETTING}): ${describeError(err)}`);
    case '3D000':
      return new ConfigError(`PostgreSQL at ${where} has no such database (${SETTING}): ${describeError(err)}; create it first, or name another`);
    default:
      return null;
  }
}

function isTransient(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return TRANSIENT_STATES.test(state);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') return TRANSIENT_CODES.has(code);
  // node-postgres's own connection failures carry no code.
  return /timeout|Connection terminated|connection is closed/i.test(describeError(err));
}

/** host:port/database, without user or password. */
export function describeUrl(url: string): string {
  const u = new URL(url);
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  return `${host}${u.port ? `:${u.port}` : ':5432'}${u.pathname.length > 1 ? u.pathname : ''}`;
}

/** The message of an error; of every inner error for an AggregateError (a host with several addresses), whose own message is empty. */
function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return [...new Set(err.errors.map(describeError))].join('; ');
  return err instanceof Error ? err.message || (err as NodeJS.ErrnoException).code || err.name : String(err);
}

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
