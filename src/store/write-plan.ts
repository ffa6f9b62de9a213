/**
 * The statements of one write transaction, shared by both backends.
 *
 * Fast path: binary COPY straight into the span and log tables, the cheapest
 * way into PostgreSQL. COPY has no ON CONFLICT, so a batch holding a row that
 * is already stored (an exporter's retry) fails with a unique violation; the
 * writer then rolls back and takes the safe path: COPY into session temp
 * tables and `INSERT … SELECT … ON CONFLICT DO NOTHING`, which also says
 * which spans were new. After a conflict the safe path is used for a short
 * while, since retries come in bursts.
 *
 * Either way the summaries and rollups are merged from exactly the spans and
 * verdicts the transaction inserted (summary-sql.ts, verdict-sql.ts), so a
 * re-sent batch adds nothing. Verdicts always take the safe path: the same
 * verdict routinely arrives twice (log record and span event), and they are
 * few. So does message content from log records, which span-content.ts then
 * copies onto spans.
 */
import { copyStream, type EncodedRows } from '../common/copy-binary.ts';
import type { Batch, LogRow, ResourceRow, SpanFact } from '../model/rows.ts';
import type { Session } from './driver.ts';
import { LAYER_DELTA_DDL, settleLayers } from './layer-sql.ts';
import { textArrayLiteral } from './sql-literal.ts';
import { DELTA_DDL, flushRollups, mergeRuns } from './summary-sql.ts';
import { fillSpanContent } from './span-content.ts';
import { copySql, encodeRows, EVALUATIONS, LOGS, MESSAGES, RESOURCES, SPANS, TURNS, type Table } from './tables.ts';
import { anyWaiting, insertStagedVerdicts, registerStagedVerdicts, resolveWaiting } from './verdict-sql.ts';

const STAGING_DDL = [
  ...[SPANS, LOGS, EVALUATIONS, MESSAGES].map((t) => `CREATE TEMP TABLE IF NOT EXISTS ${t.staging} (LIKE ${t.name}) ON COMMIT DELETE ROWS;`),
  `CREATE TEMP TABLE IF NOT EXISTS ${RESOURCES.staging} (LIKE ${RESOURCES.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;`,
  `CREATE TEMP TABLE IF NOT EXISTS ${TURNS.staging} (conversation_id text, message_hash text, trace_id text, span_id text, time timestamptz,
     message text, rule text, label text, polarity text) ON COMMIT DELETE ROWS;`,
  DELTA_DDL,
  LAYER_DELTA_DDL,
].join('\n');

/**
 * The `repeat` rule, in the write transaction: record this batch's user
 * turns (first sighting per run), then mark every earlier run of the same
 * conversation whose user message was asked again by a later run with an
 * indirect negative verdict on the span that answered it. Recording first
 * makes repeats within one batch count too; the verdict id is fixed per
 * (rule, earlier span, message), so each earlier answer is marked once. The
 * verdicts join the batch's own in the staging table.
 */
const REPEAT_SQL = `
INSERT INTO verdict.user_turns (conversation_id, message_hash, trace_id, span_id, time, message)
SELECT DISTINCT ON (conversation_id, message_hash, trace_id) conversation_id, message_hash, trace_id, span_id, time, message
FROM ${TURNS.staging}
ORDER BY conversation_id, message_hash, trace_id, time
ON CONFLICT (conversation_id, message_hash, trace_id) DO NOTHING;

INSERT INTO ${EVALUATIONS.staging} (id, trace_id, span_id, conversation_id, name, score_label, explanation, time, channel, source, polarity, service_name, attributes, target_trace_id)
SELECT DISTINCT ON (id)
  md5(n.rule || ':' || p.trace_id || ':' || p.span_id || ':' || n.message_hash) AS id,
  p.trace_id, p.span_id, n.conversation_id, n.rule, n.label,
  'the user asked the same again in a later run (trace ' || n.trace_id || '): ' || p.message,
  n.time, 'rule', 'indirect', n.polarity, 'verdict',
  jsonb_build_object('verdict.rule', n.rule, 'verdict.rule.kind', 'repeat', 'verdict.repeat.trace_id', n.trace_id, 'verdict.repeat.span_id', n.span_id),
  p.trace_id
FROM ${TURNS.staging} n
JOIN verdict.user_turns p
  ON p.conversation_id = n.conversation_id AND p.message_hash = n.message_hash AND p.trace_id <> n.trace_id AND p.time < n.time
ORDER BY id, n.time;`;

const UPSERT_RESOURCES = `
INSERT INTO ${RESOURCES.name} (${RESOURCES.columns.join(', ')})
SELECT ${RESOURCES.columns.join(', ')} FROM ${RESOURCES.staging} ORDER BY resource_id
ON CONFLICT (resource_id) DO NOTHING`;

/**
 * Serialises writers that touch the same runs or response IDs, so that a
 * verdict and the span it waits for, written at once by two transactions,
 * cannot each miss the other. Taken first, in one sorted statement, so two
 * writers never wait on each other's keys in crossing orders.
 *
 * Each key is an entry in PostgreSQL's shared lock table, which holds
 * max_locks_per_transaction (default 64) × max_connections entries for the
 * whole server: large batches locking thousands of keys each would fill it
 * ("out of shared memory"). So every write first takes one key for all,
 * shared; a write with more than MAX_KEY_LOCKS keys takes that one key
 * alone, exclusive, and so waits for (and holds off) every other write
 * instead of naming its keys.
 */
export const ALL_WRITES = 7314159265;
const LOCK_SHARED = `SELECT pg_advisory_xact_lock_shared(${ALL_WRITES}::bigint)`;
const LOCK_ALL = `SELECT pg_advisory_xact_lock(${ALL_WRITES}::bigint)`;
/** The keys' locks, in the prelude's round trip (and so written into its text). */
const lockKeys = (keys: readonly string[]) => `
SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT DISTINCT hashtextextended(x, ${ALL_WRITES}) AS k FROM unnest(${textArrayLiteral(keys)}) x ORDER BY 1) keys`;
/** Keys one write may lock one by one: two writers' worth stay well inside the default lock table (6,400 entries). */
const MAX_KEY_LOCKS = 2000;

export interface WriteOptions {
  /** Another writer may write at the same time (PostgreSQL): take the keys' advisory locks. */
  serialize: boolean;
}

/**
 * Every statement below reads stored rows by key (a run, a span, a verdict's
 * id, a conversation), and a sequential scan is never the right plan for
 * that; but a table that is new or was just emptied has statistics that make
 * one look cheapest, and a prepared statement's cached plan can keep it long
 * after the table has grown. The staging tables have no index, and are still
 * scanned.
 */
const INDEXED_ONLY = 'SET LOCAL enable_seqscan = off';

/** The keys a write concerns, and so what its transaction locks, worked out before it starts. */
export interface WritePlan {
  /** SQL without parameters that opens the transaction and takes its locks (sent with BEGIN: TransactionOptions.prelude). */
  prelude: string;
  traceIds: string[];
  responseIds: string[];
  /** Ids of log records sent with neither timestamp (unstoredLogs). */
  timeless: string[];
}

/** The keys of a write of `batches`, and its locks. */
export function planWrite(batches: readonly Batch[], opts: WriteOptions): WritePlan {
  const traceIds = new Set<string>();
  const responseIds = new Set<string>();
  const timeless = new Set<string>();
  for (const b of batches) {
    for (const f of b.facts) {
      traceIds.add(f.traceId);
      if (f.responseId !== null) responseIds.add(f.responseId);
    }
    for (const v of b.evaluations) {
      if (v.trace_id !== null) traceIds.add(v.trace_id);
      if (v.response_id !== null) responseIds.add(v.response_id);
    }
    for (const t of b.turns) traceIds.add(t.trace_id);
    for (const m of b.messages) traceIds.add(m.trace_id);
    for (const l of b.logs) if (l.timeless) timeless.add(l.id);
  }
  const keys = { traceIds: [...traceIds], responseIds: [...responseIds], timeless: [...timeless] };
  if (!opts.serialize) return { prelude: INDEXED_ONLY, ...keys };
  if (traceIds.size + responseIds.size + timeless.size > MAX_KEY_LOCKS) return { prelude: `${INDEXED_ONLY}; ${LOCK_ALL}`, ...keys };
  const named = [...keys.traceIds.map((t) => `t:${t}`), ...keys.responseIds.map((r) => `r:${r}`), ...keys.timeless.map((id) => `l:${id}`)];
  return { prelude: `${INDEXED_ONLY}; ${LOCK_SHARED}; ${lockKeys(named)}`, ...keys };
}

/**
 * The body of the write transaction, after `plan.prelude` (BEGIN, the
 * prelude and COMMIT are the caller's); `storedResources` are left out.
 */
export async function writeRows(s: Session, batches: readonly Batch[], plan: WritePlan, safe: boolean, storedResources: ReadonlySet<string>): Promise<void> {
  const { traceIds, responseIds, timeless } = plan;
  await prepare(s);
  const facts = batches.flatMap((b) => b.facts);
  const verdicts = batches.flatMap((b) => b.evaluations);
  const turns = batches.flatMap((b) => b.turns);
  const messages = batches.flatMap((b) => b.messages);
  const logs = batches.flatMap((b) => b.logs);

  await writeResources(s, batches.flatMap((b) => b.resources).filter((r) => !storedResources.has(r.resource_id)));
  const stored = await writeSpans(s, batches, facts, safe);

  // The verdicts that are new, and their counts on their runs, before the run merge: it writes each run once.
  const judging = verdicts.length > 0 || turns.length > 0;
  let counted = false;
  if (judging) {
    if (verdicts.length > 0) await s.copy(copySql(EVALUATIONS, EVALUATIONS.staging), copyStream([encodeRows(EVALUATIONS, verdicts)]));
    if (turns.length > 0) {
      await s.copy(copySql(TURNS, TURNS.staging), copyStream([encodeRows(TURNS, turns)]));
      await s.exec(REPEAT_SQL);
    }
    counted = await registerStagedVerdicts(s);
  }
  const rerooted = await mergeRuns(s, stored, counted);
  await copyTable(s, LOGS, [encodeRows(LOGS, timeless.length > 0 ? await unstoredLogs(s, logs, timeless) : logs)], safe);
  // Message content from log records: few rows, and re-sent with their records, so always the safe path.
  await copyTable(s, MESSAGES, [encodeRows(MESSAGES, messages)], true);
  await fillSpanContent(s, batches);
  // Verdicts that waited for these spans, and new verdicts whose target is already stored (most writes have none).
  // The verdicts' layers read the runs' roots, which the merge has set.
  const waiting = judging ? await insertStagedVerdicts(s, traceIds, responseIds) : await anyWaiting(s, traceIds, responseIds);
  if (waiting) await resolveWaiting(s, traceIds, responseIds);
  // The layers of the verdicts this write resolved, and of the judged runs it gave a root.
  if (waiting || rerooted.length > 0) await settleLayers(s, rerooted);
  await flushRollups(s, stored);
}

async function writeResources(s: Session, resources: readonly ResourceRow[]): Promise<void> {
  if (resources.length === 0) return;
  const seen = new Set<string>();
  const distinct = resources.filter((r) => !seen.has(r.resource_id) && seen.add(r.resource_id));
  await s.copy(copySql(RESOURCES, RESOURCES.staging), copyStream([encodeRows(RESOURCES, distinct)]));
  await s.exec(UPSERT_RESOURCES);
}

/**
 * A log record sent with neither timestamp is stored at its arrival time
 * (the observed time a collector sets), and that time is part of the log
 * table's key, since it partitions the table; a re-sent copy arrives later,
 * so the key would not catch it. Its id, hashed before the arrival time was
 * set, is looked up instead (under its advisory lock, so two writers cannot
 * both miss it): copies already stored, or earlier in this write, are left out.
 */
async function unstoredLogs(s: Session, logs: LogRow[], timeless: string[]): Promise<LogRow[]> {
  const found = await s.rows<{ id: string }>(`SELECT DISTINCT id FROM ${LOGS.name} WHERE id = ANY ($1::text[])`, [timeless]);
  const stored = new Set(found.map((r) => r.id));
  return logs.filter((l) => {
    if (!l.timeless) return true;
    if (stored.has(l.id)) return false;
    stored.add(l.id); // a later copy in this write is left out too
    return true;
  });
}

/** Stores the spans; returns the facts of those that were new. */
async function writeSpans(s: Session, batches: readonly Batch[], facts: SpanFact[], safe: boolean): Promise<SpanFact[]> {
  const parts = batches.map((b) => b.spans).filter((p) => p.rows > 0);
  if (parts.length === 0) return [];
  const stream = copyStream(parts);
  if (!safe) {
    await s.copy(copySql(SPANS), stream);
    return facts;
  }
  await s.copy(copySql(SPANS, SPANS.staging), stream);
  const cols = SPANS.columns.join(', ');
  const inserted = await s.rows<{ trace_id: string; span_id: string }>(
    `INSERT INTO ${SPANS.name} (${cols}) SELECT ${cols} FROM ${SPANS.staging} ON CONFLICT (${SPANS.key.join(', ')}) DO NOTHING RETURNING trace_id, span_id`,
  );
  const isNew = new Set(inserted.map((r) => `${r.trace_id}/${r.span_id}`));
  // One fact per span of the request: a span sent twice in one batch is inserted once, and counted once.
  return facts.filter((f) => isNew.delete(`${f.traceId}/${f.spanId}`));
}

async function copyTable(s: Session, table: Table, parts: EncodedRows[], safe: boolean): Promise<void> {
  parts = parts.filter((p) => p.rows > 0);
  if (parts.length === 0) return;
  const stream = copyStream(parts);
  if (!safe) return s.copy(copySql(table), stream);
  await s.copy(copySql(table, table.staging), stream);
  const cols = table.columns.join(', ');
  await s.exec(`INSERT INTO ${table.name} (${cols}) SELECT ${cols} FROM ${table.staging} ON CONFLICT (${table.key.join(', ')}) DO NOTHING`);
}

/** The session's temp tables exist from its first write on (they empty themselves at every commit). */
async function prepare(s: Session): Promise<void> {
  if (s.staged) return;
  await s.exec(STAGING_DDL);
  s.staged = true;
}

/** After a conflict, how long to go straight to the safe path. */
export const SAFE_PATH_MS = 2000;
