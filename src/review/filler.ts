/**
 * Fills the review queues from data as it arrives: after a write commits,
 * the runs it touched (its spans' traces, the runs its verdicts judge) are
 * checked against every queue, off the request path. Each check reads the
 * run's summary, its verdicts and the items it already has, all by trace ID
 * through indexes, so the cost follows what arrives, not what is stored.
 *
 * A run is checked again whenever more of it arrives (a late root, a new
 * verdict), so a run that becomes eligible later is queued then, and a
 * waiting item whose run gains a stronger reason takes that reason. At
 * start-up and after a reload, the runs of the last hour are checked too. What was queued is
 * decided from the stored data and the trace ID only, so receivers side by
 * side reach the same items; the item's key and the daily counter make a
 * race between them harmless.
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from '../log.ts';
import type { Batch } from '../model/rows.ts';
import type { Database } from '../store/schema.ts';
import { REASONS, type QueueConfig, type Reason, type ReviewConfig } from './config.ts';
import { matchesRun, needsRoot, type RunFacts } from './filter.ts';
import { itemId } from './items.ts';
import { reasonFor, type RunVerdict } from './reasons.ts';

/** Reasons from the strongest: the order reasonFor checks them in. */
const RANK: readonly Reason[] = [...REASONS, 'sampled'];
/** Items queued for a reason are claimed before sampled ones. */
const priorityOf = (reason: Reason): number => (reason === 'sampled' ? 1 : 0);

/** The most runs a sweep checks. */
const SWEEP_RUNS = 20_000;

/** Runs per round of reads: ANY($1) with a few hundred keys stays an index lookup per key. */
const CHUNK = 500;
/**
 * Runs waiting to be checked, at most; beyond it the oldest are dropped (and
 * counted): a queue is a sample, and falling behind must not grow the heap.
 */
const MAX_PENDING = 200_000;

export interface FillerOptions {
  db: () => Kysely<Database>;
  config: () => ReviewConfig;
  log: Logger;
}

export class ReviewFiller {
  readonly #opts: FillerOptions;
  #traces = new Set<string>();
  #verdictIds = new Set<string>();
  #running: Promise<void> | null = null;
  #sweeping: Promise<void> | null = null;
  /** Queues whose daily cap was reached, with the UTC day it was reached on. */
  readonly #capped = new Map<string, string>();
  dropped = 0;

  constructor(opts: FillerOptions) {
    this.#opts = opts;
  }

  /** Notes the runs a committed batch touched; returns at once. */
  readonly observe = (batch: Batch): void => {
    if (this.#opts.config().queues.length === 0) return;
    for (const f of batch.facts) this.#add(f.traceId);
    for (const e of batch.evaluations) {
      if (e.trace_id !== null) this.#add(e.trace_id);
      // A verdict on a completion names no run: the store resolved it through the response ID.
      else if (e.response_id !== null && this.#verdictIds.size < MAX_PENDING) this.#verdictIds.add(e.id);
    }
    this.#running ??= this.#drain().finally(() => {
      this.#running = null;
    });
  };

  #add(traceId: string): void {
    if (this.#traces.size >= MAX_PENDING) {
      const oldest = this.#traces.values().next().value as string;
      this.#traces.delete(oldest);
      this.dropped++;
    }
    this.#traces.add(traceId);
  }

  /**
   * Checks the runs that ended in the last hour (at most SWEEP_RUNS, newest
   * first, read through the end-time index): at start-up, for the runs whose
   * check a stop interrupted, and after a reload, for the queues it added.
   */
  sweep(): Promise<void> {
    const p: Promise<void> = this.#sweep().finally(() => {
      if (this.#sweeping === p) this.#sweeping = null;
    });
    this.#sweeping = p;
    return p;
  }

  async #sweep(): Promise<void> {
    if (this.#opts.config().queues.length === 0) return;
    try {
      const r = await sql<{ trace_id: string }>`
        SELECT trace_id FROM verdict.trace_summary
        WHERE end_time >= now() - interval '1 hour' AND span_count > 0
        ORDER BY end_time DESC LIMIT ${SWEEP_RUNS}`.execute(this.#opts.db());
      for (const x of r.rows) this.#add(x.trace_id);
    } catch (err) {
      this.#opts.log.warn({ err: (err as Error).message }, 'review queues: the recent runs were not checked');
      return;
    }
    this.#running ??= this.#drain().finally(() => {
      this.#running = null;
    });
  }

  /** Resolves when every run noted so far has been checked (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running || this.#sweeping) await (this.#sweeping ?? this.#running);
  }

  async #drain(): Promise<void> {
    while (this.#traces.size > 0 || this.#verdictIds.size > 0) {
      const traces = [...this.#traces].slice(0, CHUNK);
      for (const t of traces) this.#traces.delete(t);
      const ids = [...this.#verdictIds].slice(0, CHUNK);
      for (const i of ids) this.#verdictIds.delete(i);
      try {
        if (ids.length > 0) traces.push(...(await this.#tracesOfVerdicts(ids)));
        await this.fill([...new Set(traces)]);
      } catch (err) {
        // The database may be away for a moment; these runs are checked again when more of them arrives.
        this.#opts.log.warn({ err: (err as Error).message, runs: traces.length }, 'review queues not filled for some runs');
      }
    }
  }

  async #tracesOfVerdicts(ids: string[]): Promise<string[]> {
    const r = await sql<{ trace_id: string }>`
      SELECT DISTINCT target_trace_id AS trace_id FROM verdict.evaluations
      WHERE id = ANY(${ids}::text[]) AND target_trace_id IS NOT NULL`.execute(this.#opts.db());
    return r.rows.map((x) => x.trace_id);
  }

  /** Checks these runs against every queue and queues those that qualify; returns how many items were made. */
  async fill(traceIds: readonly string[]): Promise<number> {
    const queues = this.#opts.config().queues;
    if (queues.length === 0 || traceIds.length === 0) return 0;
    const db = this.#opts.db();
    const ids = [...traceIds];
    const runs = (await sql<{ trace_id: string; root_span_id: string; service_name: string | null; agent_name: string | null; model: string | null; error_count: number | string }>`
      SELECT trace_id, root_span_id, service_name, agent_name, model, error_count FROM verdict.traces WHERE trace_id = ANY(${ids}::text[])`.execute(db)).rows;
    if (runs.length === 0) return 0;
    const present = runs.map((r) => r.trace_id);
    const [verdictRows, queued] = await Promise.all([
      sql<{ trace_id: string; name: string; source: string | null; polarity: string | null; score_value: number | null; score_label: string | null }>`
        SELECT target_trace_id AS trace_id, name, source, polarity, score_value, score_label FROM verdict.evaluations
        WHERE target_trace_id = ANY(${present}::text[])`.execute(db),
      sql<{ queue: string; trace_id: string; reason: Reason; state: string }>`
        SELECT queue, trace_id, reason, state FROM verdict.review_items WHERE trace_id = ANY(${present}::text[])`.execute(db),
    ]);
    const roots = new Map<string, { operation: string | null; attributes: Record<string, unknown> }>();
    if (queues.some((q) => needsRoot(q.where))) {
      const r = await sql<{ trace_id: string; gen_ai_operation_name: string | null; attributes: Record<string, unknown> }>`
        SELECT s.trace_id, s.gen_ai_operation_name, s.attributes
        FROM unnest(${present}::text[], ${runs.map((x) => x.root_span_id)}::text[]) AS r(trace_id, span_id)
        JOIN verdict.span_rows s ON s.trace_id = r.trace_id AND s.span_id = r.span_id`.execute(db);
      for (const x of r.rows) roots.set(x.trace_id, { operation: x.gen_ai_operation_name, attributes: x.attributes });
    }
    const verdicts = new Map<string, RunVerdict[]>();
    for (const v of verdictRows.rows) {
      const list = verdicts.get(v.trace_id) ?? [];
      list.push({ name: v.name, source: v.source, polarity: v.polarity, score: v.score_value, label: v.score_label });
      verdicts.set(v.trace_id, list);
    }
    const has = new Map(queued.rows.map((x) => [`${x.queue}\0${x.trace_id}`, x]));
    let made = 0;
    for (const run of runs) {
      const root = roots.get(run.trace_id);
      const facts: RunFacts = {
        service: run.service_name, agent: run.agent_name, model: run.model, errors: Number(run.error_count),
        operation: root?.operation ?? null, attributes: root?.attributes ?? null,
      };
      const list = verdicts.get(run.trace_id) ?? [];
      for (const q of queues) {
        const existing = has.get(`${q.name}\0${run.trace_id}`);
        if (existing && existing.state !== 'pending') continue;
        if (!matchesRun(q.where, facts, list)) continue;
        const why = reasonFor(q, run.trace_id, list);
        if (!why) continue;
        if (!existing) {
          const today = new Date().toISOString().slice(0, 10);
          if (this.#capped.get(q.name) === today) continue;
          const r = await enqueue(db, q, run.trace_id, why.reason, why.detail);
          if (r.inserted) made++;
          // Once the day's cap is reached, the rest of the day's runs need no statement each.
          if (!r.counted) this.#capped.set(q.name, today);
        } else if (RANK.indexOf(why.reason) < RANK.indexOf(existing.reason)) {
          // A stronger reason arrived while the item waits (a judge sampled for calibration, then a second
          // judge disagreeing): the item says so, and moves up the queue.
          await sql`UPDATE verdict.review_items SET reason = ${why.reason}, detail = ${why.detail}, priority = ${priorityOf(why.reason)}
            WHERE id = ${itemId(q.name, run.trace_id)} AND state = 'pending' AND reason = ${existing.reason}`.execute(db);
        }
      }
    }
    return made;
  }
}

/**
 * Queues one run, within the daily cap: the day's counter is raised only
 * while under the cap (a row lock serialises receivers), and the item is
 * inserted only when it was. A race that loses on the item's key has still
 * raised the counter, which can only leave the day under its cap.
 */
async function enqueue(db: Kysely<Database>, q: QueueConfig, traceId: string, reason: Reason, detail: string | null): Promise<{ counted: boolean; inserted: boolean }> {
  const cap = q.dailyCap ?? 2_147_483_647;
  const r = await sql<{ counted: boolean; inserted: boolean }>`
    WITH bump AS (
      INSERT INTO verdict.review_days AS d (queue, day, queued) VALUES (${q.name}, (now() AT TIME ZONE 'UTC')::date, 1)
      ON CONFLICT (queue, day) DO UPDATE SET queued = d.queued + 1 WHERE d.queued < ${cap}
      RETURNING 1),
    item AS (
      INSERT INTO verdict.review_items (id, queue, trace_id, reason, detail, priority)
      SELECT ${itemId(q.name, traceId)}, ${q.name}, ${traceId}, ${reason}, ${detail}, ${priorityOf(reason)} FROM bump
      ON CONFLICT (id) DO NOTHING
      RETURNING id)
    SELECT EXISTS (SELECT FROM bump) AS counted, EXISTS (SELECT FROM item) AS inserted`.execute(db);
  return r.rows[0]!;
}
