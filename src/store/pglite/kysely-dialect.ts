/**
 * Kysely on the embedded database from the main thread: a dialect whose
 * driver sends each compiled statement to the database's thread, and opens
 * and ends transactions there. PGlite is one session, so one Kysely
 * connection is handed out at a time; the thread's lock keeps Kysely's
 * statements out of Verdict's writes and of psql clients' transactions.
 */
import {
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type { QueryResult as ThreadResult } from './database.ts';
import type { Calls } from './protocol.ts';

/** Sends one call to the database's thread. */
export type ThreadCall = <K extends 'query' | 'begin' | 'end'>(op: K, args: Calls[K]) => Promise<unknown>;

class ThreadConnection implements DatabaseConnection {
  readonly #call: ThreadCall;
  txId: number | null = null;

  constructor(call: ThreadCall) {
    this.#call = call;
  }

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    const r = (await this.#call('query', [q.sql, [...q.parameters], this.txId])) as ThreadResult;
    return { rows: r.rows as R[], ...(r.affectedRows !== undefined ? { numAffectedRows: BigInt(r.affectedRows) } : {}) };
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database; page with LIMIT and a cursor column');
  }
}

class ThreadDriver implements Driver {
  readonly #call: ThreadCall;
  readonly #connection: ThreadConnection;
  /** Settles when the connection handed out last is released. */
  #released: Promise<void> = Promise.resolve();
  #release: () => void = () => {};

  constructor(call: ThreadCall) {
    this.#call = call;
    this.#connection = new ThreadConnection(call);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#released;
    let release!: () => void;
    this.#released = new Promise((resolve) => (release = resolve));
    await previous;
    this.#release = release;
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    this.#release();
  }

  async beginTransaction(): Promise<void> {
    this.#connection.txId = (await this.#call('begin', null)) as number;
  }

  async commitTransaction(): Promise<void> {
    await this.#end(true);
  }

  async rollbackTransaction(): Promise<void> {
    await this.#end(false);
  }

  async #end(commit: boolean): Promise<void> {
    const id = this.#connection.txId;
    this.#connection.txId = null;
    if (id !== null) await this.#call('end', [id, commit]);
  }

  async destroy(): Promise<void> {}
}

export function threadDialect(call: ThreadCall): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new ThreadDriver(call),
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
