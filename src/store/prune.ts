/**
 * Retention: `verdict prune --older-than 30d [--keep-with-verdicts]`.
 *
 * What goes:
 * - A trace goes whole, once all of it is old: when its last span ended
 *   before the cutoff. Deleting span by span would cut a run that straddles
 *   the cutoff in two and make a child its root. Its log records and its
 *   verdicts (by trace ID, or by the response ID of one of its spans) go with
 *   it whatever their own time: a verdict is about its target, and one left
 *   behind would look like a verdict whose target has not arrived yet.
 * - With --keep-with-verdicts, a trace stays, with every span, log record and
 *   verdict of it, when any verdict (of any source or polarity, rules'
 *   included) judges it: a span, the trace, or a completion of it by
 *   response ID, as verdict.trace_evaluations resolves them; or judges its
 *   conversation as a whole (a thread verdict). Those runs are the learning
 *   corpus. Verdicts on other runs of the same conversation do not keep a run.
 * - Records that belong to no stored trace go by their own time, with or
 *   without the flag: log records without trace context or whose trace has
 *   no spans, verdicts whose target (trace, completion or conversation) has
 *   no spans stored (it never arrived, or was pruned), and the `repeat`
 *   rule's user turns (its memory, not the corpus).
 *
 * How: each table's heap is walked in slices of pages (`ctid` ranges, a TID
 * range scan), one DELETE statement per slice. A statement is its own
 * transaction on both backends, so no batch holds locks or memory for long,
 * nothing runs inside a Kysely transaction (which, on the one-session
 * embedded database, other queries would join), and the walk visits each
 * page once: a `LIMIT n` loop would scan the dead rows of every earlier
 * batch again, quadratic on a big prune. Slices are sized to hold about
 * `batchSize` rows, from the rows per page seen so far.
 */
import { sql, type RawBuilder } from 'kysely';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from './store.ts';

export interface PruneOptions {
  /** Delete what is older than this many milliseconds before now. */
  olderThanMs: number;
  /** Keep the traces that carry verdicts. */
  keepWithVerdicts: boolean;
  /** Rows to aim for per transaction. */
  batchSize: number;
}

export interface PruneTotals {
  traces: number;
  spans: number;
  logs: number;
  verdicts: number;
  userTurns: number;
  /** Transactions run. */
  batches: number;
}

export const DEFAULT_BATCH_SIZE = 5000;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `30d`, `12h`, `90m`, `2w` in milliseconds; ConfigError naming `origin` otherwise. */
export function parseAge(text: string, origin = '--older-than', now = Date.now()): number {
  const m = /^(\d+)(m|h|d|w)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (UNITS[m[2] as string] as number) : NaN;
  if (!(ms > 0 && Number.isSafeInteger(ms))) throw new ConfigError(`invalid ${origin}: ${JSON.stringify(text)} is not an age such as 30d, 12h, 90m or 2w`);
  // Nothing is older than the Unix epoch; a cutoff before it is a typo, and PostgreSQL would refuse one far enough back.
  if (now - ms < 0) throw new ConfigError(`invalid ${origin}: ${JSON.stringify(text)} reaches back before 1970`);
  return ms;
}

type Table = 'spans' | 'evaluations' | 'logs' | 'user_turns';

/** What one slice's statement reports: the rows it looked at, and what it deleted. */
interface SliceResult {
  seen: number;
  traces: number;
  spans: number;
  logs: number;
  verdicts: number;
  user_turns: number;
}

const tid = (page: number) => `(${page},0)`;

/** The statement for pages [from, to) of a table. Values are parameters; the SQL is fixed. */
type Step = (from: string, to: string, cutoff: string) => RawBuilder<SliceResult>;

/**
 * A trace carries verdicts when one names it, names the response ID of one of
 * its spans (resolved as in verdict.trace_evaluations), or judges its
 * conversation as a thread. Written out rather than read from the view so
 * each test is an index lookup per trace (the view's response-ID branch would
 * resolve every trace-less verdict for each trace).
 */
const carriesNoVerdict = sql`
  AND NOT EXISTS (SELECT 1 FROM verdict.evaluations e WHERE e.trace_id = t.trace_id)
  AND NOT EXISTS (
    SELECT 1 FROM verdict.spans x JOIN verdict.evaluations e ON e.response_id = x.gen_ai_response_id
    WHERE x.trace_id = t.trace_id AND x.gen_ai_response_id IS NOT NULL AND e.trace_id IS NULL)
  AND NOT EXISTS (
    SELECT 1 FROM verdict.spans x JOIN verdict.evaluations e ON e.conversation_id = x.gen_ai_conversation_id
    WHERE x.trace_id = t.trace_id AND x.gen_ai_conversation_id IS NOT NULL AND e.trace_id IS NULL AND e.response_id IS NULL)`;

/**
 * Old traces with a span in the slice, whole, with their log records and
 * verdicts. The data-modifying CTEs share one snapshot, so the response-ID
 * test still sees the spans being deleted and excludes them by trace.
 */
const traces = (keep: boolean): Step => (from, to, cutoff) => sql<SliceResult>`
WITH touched AS (
  SELECT DISTINCT s.trace_id FROM verdict.spans s
  WHERE s.ctid >= ${from}::tid AND s.ctid < ${to}::tid AND s.end_time < ${cutoff}::timestamptz
),
old AS (
  SELECT t.trace_id FROM touched t
  WHERE NOT EXISTS (SELECT 1 FROM verdict.spans x WHERE x.trace_id = t.trace_id AND x.end_time >= ${cutoff}::timestamptz)
  ${keep ? carriesNoVerdict : sql``}
),
gone_spans AS (
  DELETE FROM verdict.spans s USING old WHERE s.trace_id = old.trace_id RETURNING s.gen_ai_response_id
),
gone_logs AS (
  DELETE FROM verdict.logs l USING old WHERE l.trace_id = old.trace_id RETURNING 1
),
gone_by_trace AS (
  DELETE FROM verdict.evaluations e USING old WHERE e.trace_id = old.trace_id RETURNING 1
),
gone_by_response AS (
  DELETE FROM verdict.evaluations e
  WHERE e.trace_id IS NULL
    AND e.response_id IN (SELECT gen_ai_response_id FROM gone_spans WHERE gen_ai_response_id IS NOT NULL)
    AND NOT EXISTS (
      SELECT 1 FROM verdict.spans x
      WHERE x.gen_ai_response_id = e.response_id AND x.trace_id NOT IN (SELECT trace_id FROM old))
  RETURNING 1
)
SELECT
  (SELECT count(*)::int FROM verdict.spans WHERE ctid >= ${from}::tid AND ctid < ${to}::tid) AS seen,
  (SELECT count(*)::int FROM old) AS traces,
  (SELECT count(*)::int FROM gone_spans) AS spans,
  (SELECT count(*)::int FROM gone_logs) AS logs,
  (SELECT count(*)::int FROM gone_by_trace) + (SELECT count(*)::int FROM gone_by_response) AS verdicts,
  0 AS user_turns`;

/** Old verdicts whose target is not stored: the span's trace, the completion, or the thread. */
const verdicts: Step = (from, to, cutoff) => sql<SliceResult>`
WITH gone AS (
  DELETE FROM verdict.evaluations e
  WHERE e.ctid >= ${from}::tid AND e.ctid < ${to}::tid AND e.time < ${cutoff}::timestamptz
    AND CASE
      WHEN e.trace_id IS NOT NULL THEN NOT EXISTS (SELECT 1 FROM verdict.spans x WHERE x.trace_id = e.trace_id)
      WHEN e.response_id IS NOT NULL THEN NOT EXISTS (SELECT 1 FROM verdict.spans x WHERE x.gen_ai_response_id = e.response_id)
      WHEN e.conversation_id IS NOT NULL THEN NOT EXISTS (SELECT 1 FROM verdict.spans x WHERE x.gen_ai_conversation_id = e.conversation_id)
      ELSE true
    END
  RETURNING 1
)
SELECT
  (SELECT count(*)::int FROM verdict.evaluations WHERE ctid >= ${from}::tid AND ctid < ${to}::tid) AS seen,
  0 AS traces, 0 AS spans, 0 AS logs, (SELECT count(*)::int FROM gone) AS verdicts, 0 AS user_turns`;

/** Old log records of no stored trace. */
const logs: Step = (from, to, cutoff) => sql<SliceResult>`
WITH gone AS (
  DELETE FROM verdict.logs l
  WHERE l.ctid >= ${from}::tid AND l.ctid < ${to}::tid AND l.time < ${cutoff}::timestamptz
    AND (l.trace_id IS NULL OR NOT EXISTS (SELECT 1 FROM verdict.spans x WHERE x.trace_id = l.trace_id))
  RETURNING 1
)
SELECT
  (SELECT count(*)::int FROM verdict.logs WHERE ctid >= ${from}::tid AND ctid < ${to}::tid) AS seen,
  0 AS traces, 0 AS spans, (SELECT count(*)::int FROM gone) AS logs, 0 AS verdicts, 0 AS user_turns`;

/** The `repeat` rule's memory of old user turns. */
const userTurns: Step = (from, to, cutoff) => sql<SliceResult>`
WITH gone AS (
  DELETE FROM verdict.user_turns u
  WHERE u.ctid >= ${from}::tid AND u.ctid < ${to}::tid AND u.time < ${cutoff}::timestamptz
  RETURNING 1
)
SELECT
  (SELECT count(*)::int FROM verdict.user_turns WHERE ctid >= ${from}::tid AND ctid < ${to}::tid) AS seen,
  0 AS traces, 0 AS spans, 0 AS logs, 0 AS verdicts, (SELECT count(*)::int FROM gone) AS user_turns`;

/** Largest slice, in pages (8 KiB each): a region of empty pages is crossed quickly, but not in one go. */
const MAX_PAGES = 1 << 16;

/** Deletes old data; logs a progress line per batch and returns the totals. */
export async function prune(store: Store, opts: PruneOptions, log: Logger): Promise<PruneTotals> {
  const db = store.db;
  const cutoff = new Date(Date.now() - opts.olderThanMs).toISOString();
  const kinds = await sql<{ name: string; kind: string | null }>`
    SELECT t AS name, (SELECT relkind::text FROM pg_class WHERE oid = to_regclass(t)) AS kind
    FROM unnest(ARRAY['verdict.spans', 'verdict.logs', 'verdict.evaluations', 'verdict.user_turns']) t`.execute(db);
  if (kinds.rows.some((r) => r.kind === null)) throw new ConfigError('this database has no Verdict tables: check --database-url or --data-dir, or run verdict migrate');
  // Slices are pages of one heap; a partitioned table (docs/scaling.md) has none of its own and is pruned by dropping partitions.
  const partitioned = kinds.rows.find((r) => r.kind !== 'r');
  if (partitioned) throw new Error(`${partitioned.name} is not a plain table (partitioned?); drop its old partitions instead`);
  log.info(
    { cutoff, keepWithVerdicts: opts.keepWithVerdicts, batchSize: opts.batchSize },
    `prune: deleting data older than ${cutoff}${opts.keepWithVerdicts ? ', keeping the traces that carry verdicts' : ''}`,
  );
  const totals: PruneTotals = { traces: 0, spans: 0, logs: 0, verdicts: 0, userTurns: 0, batches: 0 };
  // Traces first: their log records and verdicts go with them, and what is left of theirs is then an orphan.
  const steps: Array<[Table, Step]> = [
    ['spans', traces(opts.keepWithVerdicts)],
    ['evaluations', verdicts],
    ['logs', logs],
    ['user_turns', userTurns],
  ];
  for (const [table, step] of steps) {
    const size = await sql<{ pages: number }>`
      SELECT (pg_relation_size(${`verdict.${table}`}::regclass) / current_setting('block_size')::bigint)::float8 AS pages`.execute(db);
    const pages = size.rows[0]?.pages ?? 0;
    let from = 0;
    let width = 1;
    // At least one statement per table, so that every table reports (an empty one at 100%).
    do {
      const to = Math.min(from + width, Math.max(pages, 1));
      const r = (await step(tid(from), tid(to), cutoff).execute(db)).rows[0] as SliceResult;
      totals.batches++;
      totals.traces += r.traces;
      totals.spans += r.spans;
      totals.logs += r.logs;
      totals.verdicts += r.verdicts;
      totals.userTurns += r.user_turns;
      const pct = pages === 0 ? 100 : Math.floor((100 * to) / pages);
      log.info(
        { table: `verdict.${table}`, pages: [Math.min(to, pages), pages], batch: { traces: r.traces, spans: r.spans, logs: r.logs, verdicts: r.verdicts, userTurns: r.user_turns }, totals: { ...totals } },
        `prune: verdict.${table} ${pct}% (${Math.min(to, pages)} of ${pages} pages); deleted so far: ${describe(totals)}`,
      );
      // Aim the next slice at batchSize rows, by this slice's rows per page; grow at most 4× at a time.
      const aimed = r.seen === 0 ? width * 4 : Math.floor((opts.batchSize * (to - from)) / r.seen);
      width = Math.max(1, Math.min(aimed, width * 4, MAX_PAGES));
      from = to;
    } while (from < pages);
  }
  // The embedded database (in process, or behind its wire port) has autovacuum on but no process to run it:
  // without this the space of the deleted rows would never be reused. On PostgreSQL autovacuum does it (or, where
  // it is turned off, whoever turned it off).
  const unvacuumed = await sql<{ yes: boolean }>`
    SELECT current_setting('autovacuum') = 'on'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher') AS yes`.execute(db);
  if (unvacuumed.rows[0]?.yes) {
    for (const [table] of steps) await sql`VACUUM ${sql.table(`verdict.${table}`)}`.execute(db);
    log.info('prune: vacuumed the tables (no autovacuum runs on this database)');
  }
  log.info({ totals }, `prune: done; deleted ${describe(totals)} in ${totals.batches} batches`);
  return totals;
}

const describe = (t: PruneTotals) =>
  `${t.traces} traces (${t.spans} spans), ${t.logs} log records, ${t.verdicts} verdicts, ${t.userTurns} user turns`;
