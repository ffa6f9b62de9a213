/**
 * The store on a real PostgreSQL server, through one node-postgres pool
 * shared by the bulk writer and Kysely.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { UnavailableError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Batch } from '../normalize/rows.ts';
import { classify, isUniqueViolation } from './db-errors.ts';
import { applyMigrations, LATEST_VERSION } from './migrate.ts';
import type { Database } from './schema.ts';
import type { Readiness, Store } from './store.ts';
import { copySql } from './tables.ts';
import { SAFE_PATH_MS, writeRows, type WriteSession } from './write-plan.ts';

// pg returns int8 as a string by default; keep it so (exact), but parse nothing else differently.
export interface PostgresOptions {
  url: string;
  /** Connections in the pool (writers plus a few for queries). */
  poolSize: number;
  /** statement_timeout and lock_timeout for writes, in ms: a stalled database answers "retry" instead of hanging. */
  writeTimeoutMs: number;
  log: Logger;
}

const staged = new WeakSet<pg.PoolClient>();

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly psqlCommand = null;
  readonly db: Kysely<Database>;
  readonly #pool: pg.Pool;
  readonly #opts: PostgresOptions;
  #safeUntil = 0;

  constructor(opts: PostgresOptions) {
    this.#opts = opts;
    this.#pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize,
      connectionTimeoutMillis: Math.min(opts.writeTimeoutMs, 5000),
      // A backstop for a server that accepts but never answers (network black hole).
      query_timeout: opts.writeTimeoutMs + 5000,
      keepAlive: true,
      application_name: 'verdict',
    });
    // Idle clients that lose their server emit here; without a listener the process would crash.
    this.#pool.on('error', (err) => opts.log.warn({ err: err.message }, 'idle database connection lost'));
    // A connection lost while checked out (the server restarted mid-transaction) errors on the client itself;
    // the query in flight fails and is answered "retry", and the process must not die of the unhandled event.
    this.#pool.on('connect', (client) => client.on('error', (err) => opts.log.warn({ err: err.message }, 'database connection lost')));
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: this.#pool }) });
  }

  async migrate(): Promise<string[]> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const done = await applyMigrations({
        exec: async (sql) => void (await client.query(sql)),
        rows: async (sql, params) => (await client.query(sql, params)).rows,
      });
      await client.query('COMMIT');
      return done;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async write(batches: readonly Batch[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw classify(err);
    }
    let broken: Error | undefined;
    try {
      const safe = Date.now() < this.#safeUntil;
      try {
        await this.#transaction(client, batches, safe);
      } catch (err) {
        if (safe || !isUniqueViolation(err)) throw err;
        // Some row is already stored (a retried export): redo the batch idempotently.
        this.#safeUntil = Date.now() + SAFE_PATH_MS;
        await this.#transaction(client, batches, true);
      }
    } catch (err) {
      const e = classify(err);
      if (e instanceof UnavailableError) broken = e;
      throw e;
    } finally {
      // A connection that failed for the database's reasons is discarded, not reused.
      client.release(broken);
    }
  }

  async #transaction(client: pg.PoolClient, batches: readonly Batch[], safe: boolean): Promise<void> {
    const t = this.#opts.writeTimeoutMs;
    const session: WriteSession = {
      exec: async (sql) => void (await client.query(sql)),
      copy: (codec, table, chunks) => copyInto(client, copySql(codec, table), chunks),
      get staged() {
        return staged.has(client);
      },
      set staged(v: boolean) {
        if (v) staged.add(client);
      },
    };
    await client.query(`BEGIN; SET LOCAL statement_timeout = ${t}; SET LOCAL lock_timeout = ${t}`);
    try {
      await writeRows(session, batches, safe);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      // Temp tables created in a rolled-back transaction are gone with it.
      staged.delete(client);
      throw err;
    }
  }

  async ready(): Promise<Readiness> {
    try {
      const r = await this.#pool.query<{ v: number | null }>('SELECT max(version) AS v FROM verdict.schema_migrations');
      const v = r.rows[0]?.v ?? 0;
      return v >= LATEST_VERSION() ? { ok: true } : { ok: false, reason: `migrations not applied (database at ${v}, expected ${LATEST_VERSION()})` };
    } catch (err) {
      return { ok: false, reason: `database unreachable: ${(err as Error).message}` };
    }
  }

  async close(): Promise<void> {
    await this.db.destroy(); // ends the shared pool
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

function copyInto(client: pg.PoolClient, sql: string, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(sql));
    stream.on('error', (err) => {
      process.nextTick(() => {
        (stream as unknown as { connection: unknown }).connection = INERT_CONNECTION;
      });
      reject(err);
    });
    stream.on('finish', () => resolve());
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}
