/**
 * Readiness as state, so that answering /readyz costs nothing: orchestrators
 * poll it often, and a query per poll through the writers' pool took
 * capacity from ingest. The state follows the store's own traffic:
 *
 * - until the database is open and migrated (start-up may wait for it), not
 *   ready, with what start-up is waiting for; writes meanwhile answer
 *   "retry" (UnavailableError), as they do while the database is down;
 * - a write that commits, or that the database refuses for the data's sake
 *   (DataError: the database answered), makes it ready; a write that fails
 *   for the database's sake (UnavailableError) makes it not ready, with why;
 * - while no write has settled for `probeMs`, a probe (the backend's own
 *   ready(): the schema version, one cheap query) runs every `probeMs`, so an
 *   idle receiver still notices the database going away and coming back.
 */
import type { Kysely } from 'kysely';
import { DataError, UnavailableError } from '../errors.ts';
import type { Batch } from '../model/rows.ts';
import type { Database } from './schema.ts';
import type { Readiness, Store } from './store.ts';

export const PROBE_MS = 5000;

export class TrackedStore implements Store {
  readonly kind: Store['kind'];
  #inner: Store | null = null;
  #state: Readiness;
  #lastSettled = 0;
  #probing = false;
  readonly #timer: NodeJS.Timeout;

  /** Not ready (`reason`) until attach() hands over the opened, migrated store. */
  constructor(kind: Store['kind'], reason: string, probeMs = PROBE_MS) {
    this.kind = kind;
    this.#state = { ok: false, reason };
    this.#timer = setInterval(() => this.#probe(probeMs), probeMs).unref();
  }

  /** While start-up waits: why the database is not there yet. */
  waiting(reason: string): void {
    if (!this.#inner) this.#state = { ok: false, reason };
  }

  /** The database is open and migrated: from now on writes go to it. */
  attach(store: Store): void {
    this.#inner = store;
    this.#state = { ok: true };
    this.#lastSettled = Date.now();
  }

  get attached(): boolean {
    return this.#inner !== null;
  }

  get db(): Kysely<Database> {
    return this.#opened().db;
  }

  get psqlCommand(): string | null {
    return this.#inner?.psqlCommand ?? null;
  }

  get pgUrl(): string | null {
    return this.#inner?.pgUrl ?? null;
  }

  migrate(): Promise<string[]> {
    return this.#opened().migrate();
  }

  async write(batches: readonly Batch[]): Promise<void> {
    // Retry in a few seconds: start-up retries the database about that often.
    if (!this.#inner) throw new UnavailableError(`the database is not ready yet: ${this.#state.reason}`, 5);
    try {
      await this.#inner.write(batches);
      this.#state = { ok: true };
    } catch (err) {
      if (err instanceof UnavailableError) this.#state = { ok: false, reason: `database not ready: ${err.message}` };
      else if (err instanceof DataError) this.#state = { ok: true };
      throw err;
    } finally {
      this.#lastSettled = Date.now();
    }
  }

  /** The current state; never asks the database. */
  ready(): Promise<Readiness> {
    return Promise.resolve(this.#state);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#inner?.close();
  }

  #opened(): Store {
    if (!this.#inner) throw new UnavailableError(`the database is not ready yet: ${this.#state.reason}`, 5);
    return this.#inner;
  }

  #probe(probeMs: number): void {
    const inner = this.#inner;
    if (!inner || this.#probing || Date.now() - this.#lastSettled < probeMs) return;
    this.#probing = true;
    const started = Date.now();
    inner.ready().then(
      (r) => {
        // A write that settled meanwhile knows better.
        if (this.#lastSettled <= started) this.#state = r;
      },
      () => {},
    ).finally(() => {
      this.#probing = false;
    });
  }
}
