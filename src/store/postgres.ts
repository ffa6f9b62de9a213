/**
 * The store on a real PostgreSQL server: one node-postgres pool shared by the
 * bulk writer (through the Driver seam) and Kysely.
 */
import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Batch } from '../model/rows.ts';
import { classify } from './db-errors.ts';
import type { Driver, Session, TransactionOptions } from './driver.ts';
import type { Database } from './schema.ts';
import type { Readiness, Store } from './store.ts';
import { Writer } from './writer.ts';

export interface PostgresOptions {
  url: string;
  /** Connections in the pool (writers plus a few for queries). */
  poolSize: number;
  /** statement_timeout and lock_timeout for writes, in ms: a stalled database answers "retry" instead of hanging. */
  writeTimeoutMs: number;
  log: Logger;
}

/**
 * int8 as PGlite returns it: a number when exact, else a bigint (pg's default
 * is a string), so that both backends give typed queries the same values.
 */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') {
      return (v: string) => {
        const n = Number(v);
        return Number.isSafeInteger(n) ? n : BigInt(v);
      };
    }
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Connections whose session already holds the temp staging tables. */
const staged = new WeakSet<pg.PoolClient>();

class PostgresDriver implements Driver {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async transaction<T>(fn: (s: Session) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw classify(err);
    }
    let broken: Error | undefined;
    try {
      const t = opts.timeoutMs;
      const begin = ['BEGIN', ...(t === undefined ? [] : [`SET LOCAL statement_timeout = ${t}`, `SET LOCAL lock_timeout = ${t}`]), ...(opts.prelude ? [opts.prelude] : [])];
      try {
        // Inside the try: the prelude may fail (a lock it waits for past lock_timeout) in the transaction BEGIN opened.
        await client.query(begin.join('; '));
        const value = await fn(session(client));
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        // Temp tables created in a rolled-back transaction are gone with it; IF NOT EXISTS makes creating them again safe.
        staged.delete(client);
        throw err;
      }
    } catch (err) {
      if (classify(err) instanceof UnavailableError) broken = err as Error;
      throw err;
    } finally {
      // A connection that failed for the database's reasons is discarded, not reused.
      client.release(broken);
    }
  }

  async rows<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.#pool.query(sql, params)).rows as T[];
  }
}

function session(client: pg.PoolClient): Session {
  return {
    exec: async (sql) => void (await client.query(statement(sql))),
    rows: async <T>(sql: string, params?: unknown[]) => (await client.query(statement(sql, params))).rows as T[],
    copy: (sql, stream) => copyInto(client, sql, stream),
    get staged() {
      return staged.has(client);
    },
    set staged(v: boolean) {
      if (v) staged.add(client);
      else staged.delete(client);
    },
  };
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly psqlCommand = null;
  readonly pgUrl = null;
  readonly db: Kysely<Database>;
  readonly #writer: Writer;

  constructor(opts: PostgresOptions) {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize,
      connectionTimeoutMillis: Math.min(opts.writeTimeoutMs, 5000),
      // A backstop for a server that accepts but never answers (network black hole).
      query_timeout: opts.writeTimeoutMs + 5000,
      keepAlive: true,
      application_name: 'verdict',
      // No JIT for Verdict's own sessions: its statements are short, but the planner's estimates for the write
      // statements (CTEs over just-staged rows) can pass jit_above_cost, and compiling them took 14 s a write on
      // a 10-million-span database (docs/performance.md). Set at connection start-up, so no query of its own
      // runs, or is still running, when the pool hands the connection out.
      options: '-c jit=off',
      types: TYPES,
    });
    // Idle clients that lose their server emit here; without a listener the process would crash.
    pool.on('error', (err) => opts.log.warn({ err: err.message }, 'idle database connection lost'));
    // A connection lost while checked out (the server restarted mid-transaction) errors on the client itself;
    // the query in flight fails and is answered "retry", and the process must not die of the unhandled event.
    pool.on('connect', (client) => client.on('error', (err) => opts.log.warn({ err: err.message }, 'database connection lost')));
    this.#writer = new Writer(new PostgresDriver(pool), opts.writeTimeoutMs, { serialize: true });
    // Kysely owns the pool's end: db.destroy() in close() ends it.
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }

  migrate(): Promise<string[]> {
    return this.#writer.migrate();
  }

  write(batches: readonly Batch[]): Promise<void> {
    return this.#writer.write(batches);
  }

  ready(): Promise<Readiness> {
    return this.#writer.ready();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * After the server ends a COPY with an error (a timeout, a conflict), the
 * server ignores further COPY data; but pg-copy-streams 7.0.0 still flushes
 * what it queued when the socket drains, into a connection it has detached,
 * and throws from a socket callback (brianc/node-pg-copy-streams#171). An
 * inert stand-in for the connection lets that flush go nowhere.
 */
const INERT_CONNECTION = { stream: { write: () => true, once: () => {} }, sendCopyFail: () => {} };

/**
 * pg-copy-streams reports a COPY's error as soon as the server's
 * ErrorResponse arrives; pg still counts the COPY as the client's query
 * until the ReadyForQuery that follows. The caller's next statement (the
 * ROLLBACK) must wait for it: sent earlier, pg queues it behind a query
 * already running, which it warns about on stderr and will refuse in pg 9.
 */
const READY_WAIT_MS = 2000;

function afterReady(client: pg.PoolClient, then: () => void): void {
  const connection = client.connection as unknown as NodeJS.EventEmitter;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    connection.off('readyForQuery', onReady);
    connection.off('end', finish);
    // After pg's own handler of the same message, which makes the client idle.
    setImmediate(then);
  };
  const onReady = () => finish();
  // A connection that died sends no ReadyForQuery: the error goes on without it.
  const timer = setTimeout(finish, READY_WAIT_MS);
  connection.once('readyForQuery', onReady);
  connection.once('end', finish);
}

function copyInto(client: pg.PoolClient, sql: string, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('error', (err) => {
      process.nextTick(() => {
        (stream as unknown as { connection: unknown }).connection = INERT_CONNECTION;
      });
      afterReady(client, () => reject(err));
    });
    stream.on('finish', () => resolve());
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

const names = new Map<string, string | null>();
/** Statements prepared at most: the write path has a few dozen; texts made at run time (partition DDL) are not worth keeping. */
const MAX_PREPARED = 200;

/**
 * The write path's statements as named prepared statements, planned once per
 * connection instead of at every write: they are long (summaries and
 * rollups in CTEs), and planning them again each time cost more than running
 * them on small batches. A text of several statements (the simple query
 * protocol's) cannot be prepared and is sent as it is. A plan a
 * statement's tables outdate (a new partition, temp tables made again after
 * a rollback) is made again by PostgreSQL on its next use.
 */
function statement(sql: string, values?: unknown[]): pg.QueryConfig {
  let name = names.get(sql);
  if (name === undefined) {
    if (names.size >= MAX_PREPARED) return { text: sql, ...(values ? { values } : {}) };
    const single = !sql.replace(/--[^\n]*/g, '').replace(/'(?:[^']|'')*'/g, "''").replace(/;\s*$/, '').includes(';');
    name = single ? `verdict_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}` : null;
    names.set(sql, name);
  }
  return name === null ? { text: sql, ...(values ? { values } : {}) } : { name, text: sql, ...(values ? { values } : {}) };
}
