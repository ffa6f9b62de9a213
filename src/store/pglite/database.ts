/**
 * The embedded database: PGlite (PostgreSQL compiled to WebAssembly)
 * persisted in a directory, as a Driver for the shared writer, plus the
 * interactive transactions Kysely needs, and the wire-protocol port that
 * lets psql and Grafana connect to the same data (wire-server.ts).
 *
 * PGlite is one database session shared by all of these. Without care a
 * psql statement could run inside Verdict's write transaction, or a psql
 * client's open BEGIN could swallow one of Verdict's statements. A lock
 * shared with the wire server prevents both: Verdict holds it for a whole
 * transaction (or statement), the wire server takes it per message, and
 * Verdict starts only when no client transaction is open.
 */
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { sleep } from '../../common/util.ts';
import { UnavailableError } from '../../errors.ts';
import type { Driver, Session, TransactionOptions } from '../driver.ts';
import { startWireServer, type WireOptions, type WireServer } from './wire-server.ts';

export interface PgliteOptions {
  /** Directory for the database files (existing, and claimed: data-dir.ts); `memory://` for a throwaway one (tests). */
  dataDir: string;
  /** The PostgreSQL wire-protocol port for psql and Grafana; null: none. */
  wire: WireOptions | null;
  /** How long Verdict waits for a client's open transaction to end before answering "retry". */
  writeTimeoutMs: number;
}

/**
 * PGlite's start parameters. Passing any replaces its defaults, so they are
 * repeated (PGlite.defaultStartParams) and one is added: a 16 MB buffer pool
 * instead of PostgreSQL's 128 MB. The WebAssembly heap touches all of
 * shared_buffers at start and never gives memory back; Verdict's writes
 * are appends, which a small pool serves as fast (docs/performance.md has
 * the figures).
 */
export const START_PARAMS: readonly string[] = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/** Opens (or, on an empty directory, creates) the database files with Verdict's start parameters. */
export function openPglite(dataDir: string): Promise<PGlite> {
  return PGlite.create({ dataDir, startParams: [...START_PARAMS] });
}

/** A FIFO mutex. */
export class Lock {
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

/** Rows and the affected count of one statement, as Kysely wants them. */
export interface QueryResult {
  rows: unknown[];
  affectedRows?: number;
}

/** A transaction opened for Kysely (whose statements arrive one message at a time) and held until it ends. */
interface OpenTransaction {
  tx: Transaction;
  end(commit: boolean): void;
  closed: Promise<unknown>;
}

/** Thrown inside a transaction's callback to make PGlite roll it back. */
const ROLLBACK = new Error('rolled back by the caller');

export class PgliteDatabase implements Driver {
  readonly #pglite: PGlite;
  readonly #lock = new Lock();
  readonly #opts: PgliteOptions;
  readonly #open = new Map<number, OpenTransaction>();
  #nextTx = 1;
  #wire: WireServer | null = null;
  /** The session's temp staging tables exist (write-plan.ts). */
  #staged = false;

  private constructor(pglite: PGlite, opts: PgliteOptions) {
    this.#pglite = pglite;
    this.#opts = opts;
  }

  static async open(opts: PgliteOptions): Promise<PgliteDatabase> {
    const db = new PgliteDatabase(await openPglite(opts.dataDir), opts);
    if (opts.wire) {
      try {
        db.#wire = await startWireServer(db.#pglite, db.#lock, opts.wire);
      } catch (err) {
        await db.#pglite.close();
        throw err;
      }
    }
    return db;
  }

  /** The PGlite instance itself, for tools that need it directly (the benchmark's ceiling). */
  get pglite(): PGlite {
    return this.#pglite;
  }

  /** Where the wire port listens, when it is on. */
  get wire(): { host: string; port: number } | null {
    return this.#wire ? { host: this.#wire.host, port: this.#wire.port } : null;
  }

  /** Runs fn under the lock, once no wire client holds a transaction open (waiting at most `timeoutMs`). */
  async #exclusive<T>(fn: () => Promise<T>, timeoutMs = this.#opts.writeTimeoutMs): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await this.#lock.run(async () => (this.#pglite.isInTransaction() ? undefined : { value: await fn() }));
      if (result) return result.value;
      if (Date.now() > deadline) throw new UnavailableError('the embedded database is held by a client transaction (psql?); retry later');
      await sleep(5);
    }
  }

  transaction<T>(fn: (s: Session) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    return this.#exclusive(async () => {
      // Temp tables created in a rolled-back transaction are gone with it.
      const wasStaged = this.#staged;
      try {
        return await this.#pglite.transaction(async (tx) => {
          if (opts.prelude) await tx.exec(opts.prelude);
          return fn(this.#session(tx));
        });
      } catch (err) {
        this.#staged = wasStaged;
        throw err;
      }
    }, opts.timeoutMs);
  }

  #session(tx: Transaction): Session {
    const db = this;
    return {
      exec: async (sql) => void (await tx.exec(sql)),
      rows: async <T>(sql: string, params?: unknown[]) => (await tx.query<T>(sql, params)).rows,
      // In-process PGlite reads COPY data from the virtual file /dev/blob (COPY FROM STDIN needs a wire client).
      copy: async (sql, stream) => void (await tx.query(sql.replace(/FROM STDIN/, `FROM '/dev/blob'`), [], { blob: new Blob(stream) })),
      get staged() {
        return db.#staged;
      },
      set staged(v: boolean) {
        db.#staged = v;
      },
    };
  }

  rows<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.#exclusive(async () => (await this.#pglite.query<T>(sql, params)).rows);
  }

  /** One statement for Kysely, in the transaction `txId` or alone. */
  async query(sql: string, params: unknown[], txId: number | null): Promise<QueryResult> {
    const run = async (on: PGlite | Transaction) => {
      const r = await on.query(sql, params, { rowMode: 'object' });
      return { rows: r.rows, ...(r.affectedRows !== undefined ? { affectedRows: r.affectedRows } : {}) };
    };
    if (txId === null) return this.#exclusive(() => run(this.#pglite));
    const t = this.#open.get(txId);
    if (!t) throw new Error(`transaction ${txId} is not open`);
    return run(t.tx);
  }

  /** Opens a transaction that holds the lock until `end` (Kysely's interactive transactions). */
  async begin(): Promise<number> {
    const id = this.#nextTx++;
    await new Promise<void>((begun, failed) => {
      // The lock is held from here until the transaction's callback returns.
      this.#exclusive(async () => {
        let end!: (commit: boolean) => void;
        const decided = new Promise<boolean>((resolve) => (end = resolve));
        const closed = this.#pglite.transaction(async (tx) => {
          this.#open.set(id, { tx, end, closed });
          begun();
          if (!(await decided)) throw ROLLBACK;
        });
        // A failed COMMIT reaches the caller through end(), which awaits `closed` too.
        await closed.catch(() => undefined);
      }).catch(failed);
    });
    return id;
  }

  async end(id: number, commit: boolean): Promise<void> {
    const t = this.#open.get(id);
    if (!t) throw new Error(`transaction ${id} is not open`);
    this.#open.delete(id);
    t.end(commit);
    await t.closed.catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
  }

  async close(): Promise<void> {
    await this.#wire?.stop();
    this.#wire = null;
    for (const t of this.#open.values()) t.end(false);
    // Waits for a transaction in progress; PGlite flushes to dataDir on close.
    await this.#lock.run(async () => {
      if (!this.#pglite.closed) await this.#pglite.close();
    });
  }
}
