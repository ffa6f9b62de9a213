/**
 * The embedded store: PGlite (PostgreSQL compiled to WebAssembly) persisted
 * in a directory, and served on the PostgreSQL wire protocol so that psql and
 * Grafana can connect to the same data.
 *
 * PGlite is one database session. The socket server multiplexes its clients
 * onto it message by message, so without care a client's statement could run
 * inside Verdict's write transaction, or a client's open BEGIN could swallow
 * one. A lock shared with the socket server prevents both: the writer holds
 * it for a whole transaction, the socket server takes it per message, and the
 * writer starts only when no client transaction is open.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Kysely, PGliteDialect } from 'kysely';
import { UnavailableError } from '../errors.ts';
import type { Batch } from '../normalize/rows.ts';
import { classify, isUniqueViolation } from './db-errors.ts';
import { applyMigrations, LATEST_VERSION } from './migrate.ts';
import type { Database } from './schema.ts';
import type { Readiness, Store } from './store.ts';
import { copySql } from './tables.ts';
import { SAFE_PATH_MS, writeRows, type WriteSession } from './write-plan.ts';

export interface PgliteOptions {
  /** Directory for the database files; `memory://` for a throwaway one (tests). */
  dataDir: string;
  /** Port of the PostgreSQL wire-protocol server; 0 turns it off. */
  pgPort: number;
  host: string;
  /** How long a write waits for a client's open transaction to end before answering "retry". */
  writeTimeoutMs: number;
}

/** A FIFO mutex. */
class Lock {
  #tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PgliteStore implements Store {
  readonly kind = 'pglite';
  readonly db: Kysely<Database>;
  readonly #pglite: PGlite;
  readonly #lock = new Lock();
  readonly #opts: PgliteOptions;
  #server: PGLiteSocketServer | null = null;
  #staged = false;
  #safeUntil = 0;
  psqlCommand: string | null = null;

  private constructor(pglite: PGlite, opts: PgliteOptions) {
    this.#pglite = pglite;
    this.#opts = opts;
    this.db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  }

  static async open(opts: PgliteOptions): Promise<PgliteStore> {
    if (!opts.dataDir.startsWith('memory://')) mkdirSync(opts.dataDir, { recursive: true });
    const pglite = await PGlite.create({ dataDir: opts.dataDir });
    const store = new PgliteStore(pglite, opts);
    if (opts.pgPort !== 0) await store.#serve();
    return store;
  }

  /** The PGlite instance itself, for tools that need it directly (the benchmark's ceiling). */
  get pglite(): PGlite {
    return this.#pglite;
  }

  /** Port the wire-protocol server listens on (resolved when configured as an ephemeral port). */
  get pgPort(): number | null {
    return this.#server ? Number(this.#server.getServerConn().split(':').pop()) : null;
  }

  async #serve(): Promise<void> {
    const pglite = this.#pglite;
    const lock = this.#lock;
    // Exactly the members PGLiteSocketServer uses (pglite-socket 0.2.x), with runExclusive behind our lock.
    const shared = {
      get waitReady() {
        return pglite.waitReady;
      },
      runExclusive: <T>(fn: () => Promise<T>) => lock.run(() => pglite.runExclusive(fn)),
      execProtocolRawStream: pglite.execProtocolRawStream.bind(pglite),
      isInTransaction: () => pglite.isInTransaction(),
      exec: pglite.exec.bind(pglite),
    };
    const host = this.#opts.host === 'localhost' ? '127.0.0.1' : this.#opts.host;
    this.#server = new PGLiteSocketServer({ db: shared as unknown as PGlite, port: this.#opts.pgPort, host, maxConnections: 16 });
    await this.#server.start();
    this.psqlCommand = `psql -h ${host === '0.0.0.0' ? '127.0.0.1' : host} -p ${this.pgPort} -U postgres postgres`;
  }

  /** Runs fn under the lock, once no socket client holds a transaction open. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#opts.writeTimeoutMs;
    for (;;) {
      const result = await this.#lock.run(async () => (this.#pglite.isInTransaction() ? undefined : { value: await fn() }));
      if (result) return result.value;
      if (Date.now() > deadline) throw new UnavailableError('the embedded database is held by a client transaction (psql?); retry later');
      await sleep(5);
    }
  }

  async migrate(): Promise<string[]> {
    return this.#exclusive(() =>
      this.#pglite.transaction((tx) =>
        applyMigrations({
          exec: async (sql) => void (await tx.exec(sql)),
          rows: async <T>(sql: string, params?: unknown[]) => (await tx.query<T>(sql, params)).rows,
        }),
      ),
    );
  }

  async write(batches: readonly Batch[]): Promise<void> {
    try {
      await this.#exclusive(async () => {
        const safe = Date.now() < this.#safeUntil;
        try {
          await this.#transaction(batches, safe);
        } catch (err) {
          if (safe || !isUniqueViolation(err)) throw err;
          this.#safeUntil = Date.now() + SAFE_PATH_MS;
          await this.#transaction(batches, true);
        }
      });
    } catch (err) {
      throw classify(err);
    }
  }

  async #transaction(batches: readonly Batch[], safe: boolean): Promise<void> {
    // Temp tables created in a rolled-back transaction are gone with it.
    const wasStaged = this.#staged;
    await this.#pglite.transaction(async (tx) => {
      const store = this;
      const session: WriteSession = {
        exec: async (sql) => void (await tx.exec(sql)),
        // In-process PGlite reads COPY data from the virtual file /dev/blob (COPY over the socket is not supported).
        copy: async (codec, table, chunks) => void (await tx.query(copySql(codec, table, `'/dev/blob'`), [], { blob: new Blob(chunks) })),
        get staged() {
          return store.#staged;
        },
        set staged(v: boolean) {
          store.#staged = v;
        },
      };
      await writeRows(session, batches, safe);
    }).catch((err: unknown) => {
      this.#staged = wasStaged;
      throw err;
    });
  }

  async ready(): Promise<Readiness> {
    try {
      const r = await this.#pglite.query<{ v: number | null }>('SELECT max(version) AS v FROM verdict.schema_migrations');
      const v = r.rows[0]?.v ?? 0;
      return v >= LATEST_VERSION() ? { ok: true } : { ok: false, reason: `migrations not applied (database at ${v})` };
    } catch (err) {
      return { ok: false, reason: `embedded database not ready: ${(err as Error).message}` };
    }
  }

  async close(): Promise<void> {
    await this.#server?.stop();
    this.#server = null;
    // Waits for a write in progress; PGlite flushes to dataDir on close.
    await this.#lock.run(async () => {
      if (!this.#pglite.closed) await this.#pglite.close();
    });
  }
}
