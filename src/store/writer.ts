/**
 * The store's write, migration and readiness logic, once for both backends:
 *
 * - a write tries the fast path (binary COPY straight into the tables) and,
 *   when a row is already stored (an exporter's retry hits the primary key),
 *   redoes the batch on the idempotent safe path (write-plan.ts), which is
 *   then kept for SAFE_PATH_MS since retries come in bursts;
 * - every failure is classified by SQLSTATE: the data's fault (DataError) or
 *   the database's (UnavailableError, retryable);
 * - the day partitions a write needs exist before it starts (creating one
 *   takes locks of its own, so it is a short transaction of its own), and
 *   the next days' are created ahead;
 * - readiness: the database answers and every migration is applied.
 */
import { UnavailableError } from '../errors.ts';
import type { Batch } from '../model/rows.ts';
import { partitionDays, type PartitionDay } from './partitions.ts';
import { classify, isUniqueViolation } from './db-errors.ts';
import type { Driver } from './driver.ts';
import { applyMigrations, LATEST_VERSION } from './migrate.ts';
import type { Readiness } from './store.ts';
import { planWrite, SAFE_PATH_MS, writeRows, type WriteOptions, type WritePlan } from './write-plan.ts';

/** Days ahead whose partitions are created before data for them arrives. */
const AHEAD_DAYS = 2;
const HOUR_MS = 3_600_000;
/** Resource IDs remembered as stored (about 100 bytes each). */
const MAX_KNOWN_RESOURCES = 10_000;

export class Writer {
  readonly #driver: Driver;
  readonly #timeoutMs: number;
  readonly #opts: WriteOptions;
  #safeUntil = 0;
  /** Partitions known to exist ("span_rows:2026-11-30"); null until read from the database. */
  #partitions: Set<string> | null = null;
  #aheadAt = 0;
  /**
   * Resources a committed write stored. They are keyed by their content and
   * Verdict never deletes one, so a later write leaves them out instead of
   * sending and upserting them again (most requests repeat their sender's).
   * Bounded: emptied when full.
   */
  #resources = new Set<string>();

  /** `timeoutMs` bounds each write transaction: a stalled database answers "retry" instead of hanging. */
  constructor(driver: Driver, timeoutMs: number, opts: WriteOptions) {
    this.#driver = driver;
    this.#timeoutMs = timeoutMs;
    this.#opts = opts;
  }

  /** Writes the batches in one transaction; resolves once it has committed. */
  async write(batches: readonly Batch[]): Promise<void> {
    try {
      await this.#ensurePartitions(partitionDays(batches));
      const safe = Date.now() < this.#safeUntil;
      // Worked out once: the safe path's second attempt locks the same keys.
      const plan = planWrite(batches, this.#opts);
      try {
        await this.#transaction(batches, plan, safe);
      } catch (err) {
        if (safe || !isUniqueViolation(err)) throw err;
        this.#safeUntil = Date.now() + SAFE_PATH_MS;
        await this.#transaction(batches, plan, true);
      }
    } catch (err) {
      throw classify(err);
    }
  }

  async #transaction(batches: readonly Batch[], plan: WritePlan, safe: boolean): Promise<void> {
    await this.#driver.transaction((s) => writeRows(s, batches, plan, safe, this.#resources), { timeoutMs: this.#timeoutMs, prelude: plan.prelude });
    // Only now: a write rolled back stored none of its resources.
    if (this.#resources.size > MAX_KNOWN_RESOURCES) this.#resources.clear();
    for (const b of batches) for (const r of b.resources) this.#resources.add(r.resource_id);
  }

  /** Applies pending migrations in one transaction, then creates the coming days' partitions; returns the migrations' names. */
  async migrate(): Promise<string[]> {
    const applied = await this.#driver.transaction((s) => applyMigrations(s));
    await this.#ensurePartitions([]);
    return applied;
  }

  async #ensurePartitions(needed: readonly PartitionDay[]): Promise<void> {
    const now = Date.now();
    const wanted = [...needed];
    if (now - this.#aheadAt > HOUR_MS) {
      for (let d = 0; d <= AHEAD_DAYS; d++) {
        const day = new Date(now + d * 86_400_000).toISOString().slice(0, 10);
        for (const parent of ['span_rows', 'log_rows', 'evaluations'] as const) wanted.push({ parent, day });
      }
    }
    if (wanted.length === 0) return;
    if (this.#partitions === null) {
      const rows = await this.#driver.rows<{ parent: string; day: string }>(`SELECT parent, to_char(day, 'YYYY-MM-DD') AS day FROM verdict.partitions`);
      this.#partitions = new Set(rows.map((r) => `${r.parent}:${r.day}`));
    }
    const known = this.#partitions;
    for (const p of wanted) {
      const key = `${p.parent}:${p.day}`;
      if (known.has(key)) continue;
      await this.#driver.transaction((s) => s.rows('SELECT verdict.ensure_partition($1, $2::date)', [p.parent, p.day]), { timeoutMs: this.#timeoutMs });
      known.add(key);
    }
    if (now - this.#aheadAt > HOUR_MS) this.#aheadAt = now;
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
