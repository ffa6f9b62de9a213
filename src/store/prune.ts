/**
 * Retention: `verdict prune --older-than 30d [--keep-with-verdicts]`.
 *
 * What goes (the same rules as ever, now exact on partitioned tables):
 * - A run goes whole, once all of it is old: when its last span ended before
 *   the cutoff. Deleting span by span would cut a run that straddles the
 *   cutoff in two and make a child its root. Its log records and its verdicts
 *   (naming its trace, or resolved to it through a response ID) go with it
 *   whatever their own time: a verdict is about its target, and one left
 *   behind would look like a verdict whose target has not arrived yet.
 * - With --keep-with-verdicts, a run stays, with every span, log record and
 *   verdict of it, when any verdict judges it (a span, the run, or a
 *   completion of it), or judges its conversation as a whole (a thread
 *   verdict). Those runs are the learning corpus. Verdicts on other runs of
 *   the same conversation do not keep a run.
 * - Records that belong to no stored run go by their own time, with or
 *   without the flag: log records without trace context or whose trace has
 *   no spans, verdicts whose target (trace, completion or conversation) has
 *   no spans stored, and the `repeat` rule's user turns (its memory, not the
 *   corpus). Rollup rows of minutes before the cutoff go too: they are for
 *   dashboards, and a dashboard of a pruned range has nothing to show.
 *
 * How: a day partition that holds only what goes is dropped whole, the
 * cheap way (its rows are counted first, for the report); only the day
 * that holds the cutoff, the default partitions, and days that keep some
 * runs are deleted from row by row, by trace ID through the indexes, a
 * chunk of `batchSize` runs per statement. Each statement is its own
 * transaction, so none holds locks or memory for long.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Database } from './schema.ts';
import type { Store } from './store.ts';

export interface PruneOptions {
  /** Delete what is older than this many milliseconds before now. */
  olderThanMs: number;
  /** Keep the runs that carry verdicts. */
  keepWithVerdicts: boolean;
  /** Runs to delete per statement (and rows, for the ones deleted by their own time). */
  batchSize: number;
}

export interface PruneTotals {
  traces: number;
  spans: number;
  logs: number;
  verdicts: number;
  userTurns: number;
  /** Partitions dropped whole. */
  partitions: number;
  /** Statements run. */
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

type Db = Kysely<Database>;
type Parent = 'span_rows' | 'log_rows' | 'evaluations';

interface Partition {
  parent: Parent;
  name: string;
  lo: Date;
  hi: Date;
}

/** A run goes when all of it is old and, with the flag, nothing judges it or its conversation. */
const goes = (cutoff: Date, keep: boolean) => sql<boolean>`(
  t.span_count > 0 AND t.end_time < ${cutoff}
  ${keep ? sql`AND t.verdicts = 0 AND NOT EXISTS (
    SELECT 1 FROM verdict.conversation_summary c WHERE c.conversation_id = t.conversation_id AND c.thread_verdicts > 0)` : sql``})`;

/** Deletes old data; logs a progress line per step and returns the totals. */
export async function prune(store: Store, opts: PruneOptions, log: Logger): Promise<PruneTotals> {
  const db = store.db;
  const cutoff = new Date(Date.now() - opts.olderThanMs);
  const found = await sql<{ ok: boolean }>`SELECT to_regclass('verdict.trace_summary') IS NOT NULL AS ok`.execute(db);
  if (!found.rows[0]?.ok) throw new ConfigError('this database has no Verdict tables (or an older schema): check --database-url or --data-dir, or run verdict migrate');
  log.info(
    { cutoff: cutoff.toISOString(), keepWithVerdicts: opts.keepWithVerdicts, batchSize: opts.batchSize },
    `prune: deleting data older than ${cutoff.toISOString()}${opts.keepWithVerdicts ? ', keeping the runs that carry verdicts' : ''}`,
  );
  const totals: PruneTotals = { traces: 0, spans: 0, logs: 0, verdicts: 0, userTurns: 0, partitions: 0, batches: 0 };
  const report = (step: string, fields: Record<string, unknown> = {}) => {
    totals.batches++;
    log.info({ step, ...fields, totals: { ...totals } }, `prune: ${step}; deleted so far: ${describe(totals)}`);
  };
  const expired = (await partitions(db)).filter((p) => p.hi <= cutoff);

  // Whole days of spans that hold only runs that go.
  for (const p of expired.filter((x) => x.parent === 'span_rows')) {
    const kept = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM verdict.trace_summary t
      WHERE t.start_time < ${p.hi} AND t.end_time >= ${p.lo} AND NOT ${goes(cutoff, opts.keepWithVerdicts)}`.execute(db);
    if ((kept.rows[0]?.n ?? 0) > 0) continue;
    totals.spans += await dropPartition(db, p);
    totals.partitions++;
    report(`dropped ${p.name}`);
  }

  // The runs that go, a chunk at a time (oldest last span first), with whatever of them is left elsewhere.
  for (;;) {
    const chunk = await sql<{ trace_id: string; first: Date; last: Date }>`
      SELECT t.trace_id, t.start_time AS first, t.end_time AS last FROM verdict.trace_summary t
      WHERE ${goes(cutoff, opts.keepWithVerdicts)}
      ORDER BY t.end_time LIMIT ${opts.batchSize}`.execute(db);
    if (chunk.rows.length === 0) break;
    const ids = chunk.rows.map((r) => r.trace_id);
    const first = new Date(Math.min(...chunk.rows.map((r) => +r.first)));
    const last = new Date(Math.max(...chunk.rows.map((r) => +r.last)));
    const r = (await sql<{ spans: number; logs: number; verdicts: number; traces: number }>`
      WITH spans AS (
        DELETE FROM verdict.span_rows s WHERE s.trace_id = ANY (${ids}::text[]) AND s.start_time >= ${first} AND s.start_time <= ${last} RETURNING 1
      ), logs AS (
        DELETE FROM verdict.log_rows l WHERE l.trace_id = ANY (${ids}::text[]) RETURNING 1
      ), verdicts AS (
        DELETE FROM verdict.evaluations e WHERE e.target_trace_id = ANY (${ids}::text[]) RETURNING e.id, e.time
      ), keys AS (
        DELETE FROM verdict.evaluation_keys k USING verdicts v WHERE k.id = v.id RETURNING 1
      ), waiting AS (
        DELETE FROM verdict.pending_verdicts p USING verdicts v WHERE p.id = v.id AND p.time = v.time RETURNING 1
      ), runs AS (
        DELETE FROM verdict.trace_summary t WHERE t.trace_id = ANY (${ids}::text[]) RETURNING 1
      )
      SELECT (SELECT count(*)::int FROM spans) AS spans, (SELECT count(*)::int FROM logs) AS logs,
        (SELECT count(*)::int FROM verdicts) AS verdicts, (SELECT count(*)::int FROM runs) AS traces,
        (SELECT count(*) FROM keys) + (SELECT count(*) FROM waiting) AS bookkeeping`.execute(db)).rows[0]!;
    totals.traces += r.traces;
    totals.spans += r.spans;
    totals.logs += r.logs;
    totals.verdicts += r.verdicts;
    report(`deleted ${r.traces} runs`, { traces: r.traces, spans: r.spans, logs: r.logs, verdicts: r.verdicts });
  }

  // What belongs to no stored run, by its own time.
  for (const p of expired.filter((x) => x.parent === 'log_rows')) {
    const owned = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM ${sql.table(`verdict.${p.name}`)} l JOIN verdict.trace_summary t ON t.trace_id = l.trace_id WHERE t.span_count > 0`.execute(db);
    if ((owned.rows[0]?.n ?? 0) > 0) continue;
    // The message content these records carried for their spans goes with them (dropping a table fires no trigger).
    await sql`DELETE FROM verdict.span_messages m USING ${sql.table(`verdict.${p.name}`)} l
      WHERE m.trace_id = l.trace_id AND m.span_id = l.span_id AND m.log_id = l.id`.execute(db);
    totals.logs += await dropPartition(db, p);
    totals.partitions++;
    report(`dropped ${p.name}`);
  }
  await deleteInSlices(db, opts.batchSize, (n) => sql<{ n: number }>`
    WITH gone AS (
      DELETE FROM verdict.log_rows l WHERE (l.id, l.time) IN (
        SELECT x.id, x.time FROM verdict.log_rows x
        WHERE x.time < ${cutoff} AND NOT EXISTS (SELECT 1 FROM verdict.trace_summary t WHERE t.trace_id = x.trace_id AND t.span_count > 0)
        LIMIT ${n})
      RETURNING 1)
    SELECT count(*)::int AS n FROM gone`, (n) => {
    totals.logs += n;
    report('deleted log records of no stored run', { logs: n });
  });

  for (const p of expired.filter((x) => x.parent === 'evaluations')) {
    const owned = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(`verdict.${p.name}`)} e WHERE ${targetStored(sql`e`)}`.execute(db);
    if ((owned.rows[0]?.n ?? 0) > 0) continue;
    await sql`DELETE FROM verdict.evaluation_keys k USING ${sql.table(`verdict.${p.name}`)} e WHERE k.id = e.id`.execute(db);
    await sql`DELETE FROM verdict.pending_verdicts p WHERE p.time >= ${p.lo} AND p.time < ${p.hi}`.execute(db);
    totals.verdicts += await dropPartition(db, p);
    totals.partitions++;
    report(`dropped ${p.name}`);
  }
  await deleteInSlices(db, opts.batchSize, (n) => sql<{ n: number }>`
    WITH gone AS (
      DELETE FROM verdict.evaluations e WHERE (e.id, e.time) IN (
        SELECT x.id, x.time FROM verdict.evaluations x WHERE x.time < ${cutoff} AND NOT ${targetStored(sql`x`)} LIMIT ${n})
      RETURNING e.id, e.time
    ), keys AS (
      DELETE FROM verdict.evaluation_keys k USING gone g WHERE k.id = g.id RETURNING 1
    ), waiting AS (
      DELETE FROM verdict.pending_verdicts p USING gone g WHERE p.id = g.id AND p.time = g.time RETURNING 1
    )
    SELECT count(*)::int AS n FROM gone`, (n) => {
    totals.verdicts += n;
    report('deleted verdicts on no stored run', { verdicts: n });
  });

  await deleteInSlices(db, opts.batchSize, (n) => sql<{ n: number }>`
    WITH gone AS (
      DELETE FROM verdict.user_turns u WHERE (u.conversation_id, u.message_hash, u.trace_id) IN (
        SELECT x.conversation_id, x.message_hash, x.trace_id FROM verdict.user_turns x WHERE x.time < ${cutoff} LIMIT ${n})
      RETURNING 1)
    SELECT count(*)::int AS n FROM gone`, (n) => {
    totals.userTurns += n;
    report('deleted user turns', { userTurns: n });
  });

  // Bookkeeping: placeholders of runs whose verdicts are gone, conversations with nothing left, old rollups.
  await db.deleteFrom('verdict.trace_summary as t')
    .where('t.span_count', '=', 0)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('verdict.evaluations as e').select('e.id').whereRef('e.target_trace_id', '=', 't.trace_id'))))
    .execute();
  await db.deleteFrom('verdict.conversation_summary as c')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('verdict.trace_summary as t').select('t.trace_id').whereRef('t.conversation_id', '=', 'c.conversation_id'))))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('verdict.evaluations as e').select('e.id').whereRef('e.conversation_id', '=', 'c.conversation_id'))))
    .execute();
  for (const table of ['verdict.span_rollup', 'verdict.latency_rollup', 'verdict.run_rollup', 'verdict.verdict_rollup'] as const) {
    await db.deleteFrom(table).where('minute', '<', cutoff).execute();
  }
  // An hour goes once it ends by the cutoff: the hour that holds the cutoff keeps its sums.
  const lastHour = new Date(cutoff.getTime() - 3_600_000);
  for (const table of ['verdict.span_rollup_hourly', 'verdict.latency_rollup_hourly', 'verdict.verdict_layer_rollup'] as const) {
    await db.deleteFrom(table).where('hour', '<=', lastHour).execute();
  }
  report('deleted placeholders, empty conversations and rollups before the cutoff');

  // The embedded database (in process, or behind its wire port) has autovacuum on but no process to run it:
  // without this the space of the deleted rows would never be reused. On PostgreSQL autovacuum does it (or, where
  // it is turned off, whoever turned it off).
  const unvacuumed = await sql<{ yes: boolean }>`
    SELECT current_setting('autovacuum') = 'on'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher') AS yes`.execute(db);
  if (unvacuumed.rows[0]?.yes) {
    for (const table of ['span_rows', 'log_rows', 'evaluations', 'evaluation_keys', 'trace_summary', 'user_turns']) {
      await sql`VACUUM ${sql.table(`verdict.${table}`)}`.execute(db);
    }
    log.info('prune: vacuumed the tables (no autovacuum runs on this database)');
  }
  log.info({ totals }, `prune: done; deleted ${describe(totals)} in ${totals.batches} steps`);
  return totals;
}

/** The verdict's target is stored: its run has spans, or (a thread verdict) its conversation does. */
const targetStored = (e: RawBuilder<unknown>) => sql<boolean>`(
  CASE
    WHEN ${e}.target_trace_id IS NOT NULL THEN EXISTS (SELECT 1 FROM verdict.trace_summary t WHERE t.trace_id = ${e}.target_trace_id AND t.span_count > 0)
    WHEN ${e}.trace_id IS NULL AND ${e}.response_id IS NULL AND ${e}.conversation_id IS NOT NULL
      THEN EXISTS (SELECT 1 FROM verdict.trace_summary t WHERE t.conversation_id = ${e}.conversation_id AND t.span_count > 0)
    ELSE false
  END)`;

async function partitions(db: Db): Promise<Partition[]> {
  // The day as text: drivers turn a date into a Date at local midnight.
  const rows = await db.selectFrom('verdict.partitions')
    .select(['parent', 'partition', sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day')])
    .orderBy('day')
    .execute();
  // (partition is text in the view; the cast tells the type checker what the driver returns.)
  return rows.map((r) => {
    const lo = new Date(`${r.day}T00:00:00Z`);
    return { parent: r.parent as Parent, name: String(r.partition), lo, hi: new Date(+lo + 86_400_000) };
  });
}

/** Drops a day partition; returns how many rows it held. */
async function dropPartition(db: Db, p: Partition): Promise<number> {
  const table = sql.table(`verdict.${p.name}`);
  const counted = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${table}`.execute(db);
  // Detaching first keeps the parent's lock short; both are quick, and new rows of that day go to the default partition.
  await sql`ALTER TABLE ${sql.table(`verdict.${p.parent}`)} DETACH PARTITION ${table}`.execute(db);
  await sql`DROP TABLE ${table}`.execute(db);
  return counted.rows[0]?.n ?? 0;
}

/** Runs a delete of at most `n` rows until it deletes none, reporting each slice that deleted some. */
async function deleteInSlices(db: Db, n: number, slice: (n: number) => RawBuilder<{ n: number }>, onSlice: (deleted: number) => void): Promise<void> {
  for (;;) {
    const deleted = (await slice(n).execute(db)).rows[0]?.n ?? 0;
    if (deleted === 0) return;
    onSlice(deleted);
    if (deleted < n) return;
  }
}

const describe = (t: PruneTotals) =>
  `${t.traces} runs (${t.spans} spans), ${t.logs} log records, ${t.verdicts} verdicts, ${t.userTurns} user turns; ${t.partitions} day partitions dropped`;
