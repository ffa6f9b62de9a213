/**
 * The store's write, migration and readiness logic, once for both backends:
 *
 * - a write tries the fast path (binary COPY straight into the tables) and,
 *   when a row is already stored (an exporter's retry hits the primary key),
 *   redoes the batch on the idempotent safe path (write-plan.ts), which is
 *   then kept for SAFE_PATH_MS since retries come in bursts;
 * - every failure is classified by SQLSTATE: the data's fault (DataError) or
 *   the database's (UnavailableError, retryable);
 * - readiness: the database answers and every migration is applied.
 */
import { UnavailableError } from '../errors.ts';
import type { Batch } from '../model/rows.ts';
import { classify, isUniqueViolation } from './db-errors.ts';
import type { Driver } from './driver.ts';
import { applyMigrations, LATEST_VERSION } from './migrate.ts';
import type { Readiness } from './store.ts';
import { SAFE_PATH_MS, writeRows } from './write-plan.ts';

export class Writer {
  readonly #driver: Driver;
  readonly #timeoutMs: number;
  #safeUntil = 0;

  /** `timeoutMs` bounds each write transaction: a stalled database answers "retry" instead of hanging. */
  constructor(driver: Driver, timeoutMs: number) {
    this.#driver = driver;
    this.#timeoutMs = timeoutMs;
  }

  /** Writes the batches in one transaction; resolves once it has committed. */
  async write(batches: readonly Batch[]): Promise<void> {
    try {
      const safe = Date.now() < this.#safeUntil;
      try {
        await this.#transaction(batches, safe);
      } catch (err) {
        if (safe || !isUniqueViolation(err)) throw err;
        this.#safeUntil = Date.now() + SAFE_PATH_MS;
        await this.#transaction(batches, true);
      }
    } catch (err) {
      throw classify(err);
    }
  }

  #transaction(batches: readonly Batch[], safe: boolean): Promise<void> {
    return this.#driver.transaction((s) => writeRows(s, batches, safe), { timeoutMs: this.#timeoutMs });
  }

  /** Applies pending migrations in one transaction; returns their names. */
  migrate(): Promise<string[]> {
    return this.#driver.transaction((s) => applyMigrations(s));
  }

  async ready(): Promise<Readiness> {
    try {
      const [r] = await this.#driver.rows<{ v: number | null }>('SELECT max(version) AS v FROM verdict.schema_migrations');
      const v = r?.v ?? 0;
      return v >= LATEST_VERSION ? { ok: true } : { ok: false, reason: `migrations not applied (database at ${v}, expected ${LATEST_VERSION})` };
    } catch (err) {
      const e = err instanceof UnavailableError ? err : classify(err);
      return { ok: false, reason: `database not ready: ${e.message}` };
    }
  }
}
