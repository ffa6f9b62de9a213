/**
 * What a backend must provide, and no more: transactions on one session,
 * with COPY. Everything that decides what to write and how to recover
 * (write-plan.ts, writer.ts, migrate.ts) is written once above this seam;
 * postgres.ts and pglite/database.ts are the two drivers.
 */

/** One database session inside an open transaction. */
export interface Session {
  /** Runs SQL without parameters (may hold several statements). */
  exec(sql: string): Promise<void>;
  rows<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a `COPY … FROM STDIN WITH (FORMAT binary)` statement with a complete binary COPY stream. */
  copy(sql: string, stream: Buffer[]): Promise<void>;
  /** The session's temp staging tables exist (write-plan.ts creates them once per session). */
  staged: boolean;
}

export interface TransactionOptions {
  /** statement_timeout and lock_timeout for the transaction, in ms; none when absent. */
  timeoutMs?: number;
  /** SQL without parameters that the transaction starts with, sent with BEGIN in one round trip. */
  prelude?: string;
}

export interface Driver {
  /** Runs fn in one transaction: COMMIT when it resolves, ROLLBACK when it throws (and the error is rethrown). */
  transaction<T>(fn: (s: Session) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /** One statement in a transaction of its own. */
  rows<T>(sql: string, params?: unknown[]): Promise<T[]>;
}
