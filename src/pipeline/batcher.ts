/**
 * Group commit: many concurrent export requests become few transactions.
 *
 * Each request's rows are queued; a free writer takes queued requests up to
 * `maxBatchRows` (waiting at most `maxWaitMs` for more to arrive) and writes
 * them in one transaction through the store. Every request's promise settles
 * on its own transaction: resolved after COMMIT, rejected if it failed. When
 * the database refuses the data of a group, each request of the group is
 * retried alone, so one bad request cannot fail the others.
 *
 * Admission is bounded in rows and bytes; beyond that the caller gets an
 * OverloadedError at once (a retryable "slow down") instead of a queue that
 * grows without limit.
 */
import { DataError, OverloadedError, UnavailableError } from '../errors.ts';
import { batchRows, type Batch } from '../model/rows.ts';
import type { Store } from '../store/store.ts';

export interface BatcherOptions {
  /** Rows per transaction to aim for (a single larger request is written alone). */
  maxBatchRows: number;
  /** How long a free writer waits for more requests before writing a small batch. */
  maxWaitMs: number;
  /** Transactions in flight at once. */
  writers: number;
  /** Admission bounds on queued-plus-writing work. */
  maxInflightRows: number;
  maxInflightBytes: number;
}

interface Pending {
  batch: Batch;
  rows: number;
  bytes: number;
  resolve(): void;
  reject(err: Error): void;
}

/** Observations for metrics (wired by the server). */
export interface BatcherHooks {
  /** After each write transaction; `error` when it failed. */
  onWrite?(rows: number, requests: number, seconds: number, error?: Error): void;
}

export class Batcher {
  readonly #store: Store;
  readonly #opts: BatcherOptions;
  readonly #hooks: BatcherHooks;
  #queue: Pending[] = [];
  #queuedRows = 0;
  #inflightRows = 0;
  #inflightBytes = 0;
  #active = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(store: Store, opts: BatcherOptions, hooks: BatcherHooks = {}) {
    this.#store = store;
    this.#opts = opts;
    this.#hooks = hooks;
  }

  get inflightRows(): number {
    return this.#inflightRows;
  }
  get inflightBytes(): number {
    return this.#inflightBytes;
  }

  /** Cheap early check before decoding a body of `bytes`: would it be turned away? */
  checkAdmission(bytes: number): void {
    if (this.#closed) throw new UnavailableError('the receiver is shutting down', 5);
    if (this.#inflightBytes > 0 && this.#inflightBytes + bytes > this.#opts.maxInflightBytes) {
      throw new OverloadedError(`receiver busy: ${mib(this.#inflightBytes)} of requests in flight (limit ${mib(this.#opts.maxInflightBytes)}); retry later`);
    }
  }

  /**
   * Queues a request's rows; resolves once they are committed. `bytes` is the
   * request's weight for the memory bound (its decoded size).
   */
  submit(batch: Batch, bytes: number): Promise<void> {
    const rows = batchRows(batch);
    if (rows === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(new UnavailableError('the receiver is shutting down', 5));
    // Admit at least one request even if it alone is over the bounds; refuse beyond.
    const busy = this.#inflightRows > 0;
    if (busy && (this.#inflightRows + rows > this.#opts.maxInflightRows || this.#inflightBytes + bytes > this.#opts.maxInflightBytes)) {
      return Promise.reject(
        new OverloadedError(`receiver busy: ${this.#inflightRows} rows in flight (limit ${this.#opts.maxInflightRows}); retry later`),
      );
    }
    this.#inflightRows += rows;
    this.#inflightBytes += bytes;
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ batch, rows, bytes, resolve, reject });
      this.#queuedRows += rows;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#queue.length === 0 || this.#active >= this.#opts.writers) return;
    if (this.#queuedRows >= this.#opts.maxBatchRows || this.#closed || this.#opts.maxWaitMs === 0) {
      this.#flush();
    } else if (this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#flush();
      }, this.#opts.maxWaitMs);
    }
  }

  #flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    while (this.#queue.length > 0 && this.#active < this.#opts.writers) {
      const group: Pending[] = [];
      let rows = 0;
      while (this.#queue.length > 0 && (group.length === 0 || rows + (this.#queue[0] as Pending).rows <= this.#opts.maxBatchRows)) {
        const p = this.#queue.shift() as Pending;
        group.push(p);
        rows += p.rows;
      }
      this.#queuedRows -= rows;
      this.#active++;
      void this.#write(group, rows).finally(() => {
        this.#active--;
        for (const p of group) {
          this.#inflightRows -= p.rows;
          this.#inflightBytes -= p.bytes;
        }
        // Requests queued while this writer was busy have waited long enough.
        if (this.#queue.length > 0) this.#flush();
        else if (this.#active === 0) for (const f of this.#idle.splice(0)) f();
      });
    }
  }

  async #write(group: Pending[], rows: number): Promise<void> {
    const started = performance.now();
    try {
      await this.#store.write(group.map((p) => p.batch));
      this.#hooks.onWrite?.(rows, group.length, (performance.now() - started) / 1000);
      for (const p of group) p.resolve();
    } catch (err) {
      this.#hooks.onWrite?.(rows, group.length, (performance.now() - started) / 1000, err as Error);
      if (err instanceof DataError && group.length > 1) {
        // Find the request(s) the database refuses; the others are stored.
        for (const p of group) await this.#write([p], p.rows);
        return;
      }
      for (const p of group) p.reject(err as Error);
    }
  }

  /** Refuses new work, writes what is queued, and resolves when every write has settled. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    if (this.#active === 0 && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
