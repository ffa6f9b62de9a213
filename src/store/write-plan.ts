/**
 * The statements of one write transaction, shared by both backends.
 *
 * Fast path: binary COPY straight into spans and logs, the cheapest way into
 * Postgres. COPY has no ON CONFLICT, so a batch holding a row that is already
 * stored (an exporter's retry) fails with a unique violation; the writer then
 * rolls back and takes the safe path: COPY into session temp tables and
 * `INSERT … SELECT … ON CONFLICT DO NOTHING`. After a conflict the safe path
 * is used for a short while, since retries come in bursts.
 *
 * Evaluations always take the safe path: the same verdict routinely arrives
 * twice (log record and span event), and they are few. So does message
 * content from log records, which span-content.ts then copies onto spans.
 */
import { copyStream, type EncodedRows } from '../common/copy-binary.ts';
import type { Batch } from '../model/rows.ts';
import type { Session } from './driver.ts';
import { fillSpanContent } from './span-content.ts';
import { copySql, encodeRows, EVALUATIONS, LOGS, MESSAGES, SPANS, TURNS, type Table } from './tables.ts';

const STAGING_DDL = [
  ...[SPANS, LOGS, EVALUATIONS, MESSAGES].map((t) => `CREATE TEMP TABLE IF NOT EXISTS ${t.staging} (LIKE ${t.name}) ON COMMIT DELETE ROWS;`),
  `CREATE TEMP TABLE IF NOT EXISTS ${TURNS.staging} (conversation_id text, message_hash text, trace_id text, span_id text, time timestamptz,
     message text, rule text, label text, polarity text) ON COMMIT DELETE ROWS;`,
].join('\n');

/**
 * The `repeat` rule, in the write transaction: record this batch's user
 * turns (first sighting per run), then mark every earlier run of the same
 * conversation whose user message was asked again by a later run with an
 * indirect negative verdict on the span that answered it. Recording first
 * makes repeats within one batch count too; the verdict id is fixed per
 * (rule, earlier span, message), so each earlier answer is marked once.
 */
const REPEAT_SQL = `
INSERT INTO verdict.user_turns (conversation_id, message_hash, trace_id, span_id, time, message)
SELECT DISTINCT ON (conversation_id, message_hash, trace_id) conversation_id, message_hash, trace_id, span_id, time, message
FROM ${TURNS.staging}
ORDER BY conversation_id, message_hash, trace_id, time
ON CONFLICT (conversation_id, message_hash, trace_id) DO NOTHING;

INSERT INTO verdict.evaluations (id, trace_id, span_id, conversation_id, name, score_label, explanation, time, channel, source, polarity, service_name, attributes)
SELECT DISTINCT ON (id)
  md5(n.rule || ':' || p.trace_id || ':' || p.span_id || ':' || n.message_hash) AS id,
  p.trace_id, p.span_id, n.conversation_id, n.rule, n.label,
  'the user asked the same again in a later run (trace ' || n.trace_id || '): ' || p.message,
  n.time, 'rule', 'indirect', n.polarity, 'verdict',
  jsonb_build_object('verdict.rule', n.rule, 'verdict.rule.kind', 'repeat', 'verdict.repeat.trace_id', n.trace_id, 'verdict.repeat.span_id', n.span_id)
FROM ${TURNS.staging} n
JOIN verdict.user_turns p
  ON p.conversation_id = n.conversation_id AND p.message_hash = n.message_hash AND p.trace_id <> n.trace_id AND p.time < n.time
ORDER BY id, n.time
ON CONFLICT (id) DO NOTHING;`;

async function copyTable(s: Session, table: Table, parts: EncodedRows[], safe: boolean): Promise<void> {
  parts = parts.filter((p) => p.rows > 0);
  if (parts.length === 0) return;
  const stream = copyStream(parts);
  if (!safe) return s.copy(copySql(table), stream);
  await stage(s);
  await s.copy(copySql(table, table.staging), stream);
  const cols = table.columns.join(', ');
  await s.exec(`INSERT INTO ${table.name} (${cols}) SELECT ${cols} FROM ${table.staging} ON CONFLICT (${table.key.join(', ')}) DO NOTHING`);
}

/** The body of the write transaction (BEGIN and COMMIT are the caller's). */
export async function writeRows(s: Session, batches: readonly Batch[], safe: boolean): Promise<void> {
  await copyTable(s, SPANS, batches.map((b) => b.spans), safe);
  await copyTable(s, LOGS, [encodeRows(LOGS, batches.flatMap((b) => b.logs))], safe);
  await copyTable(s, EVALUATIONS, [encodeRows(EVALUATIONS, batches.flatMap((b) => b.evaluations))], true);
  // Message content from log records: few rows, and re-sent with their records, so always the safe path.
  await copyTable(s, MESSAGES, [encodeRows(MESSAGES, batches.flatMap((b) => b.messages))], true);
  await fillSpanContent(s, batches);
  const turns = batches.flatMap((b) => b.turns);
  if (turns.length > 0) {
    await stage(s);
    await s.copy(copySql(TURNS, TURNS.staging), copyStream([encodeRows(TURNS, turns)]));
    await s.exec(REPEAT_SQL);
  }
}

async function stage(s: Session): Promise<void> {
  if (s.staged) return;
  await s.exec(STAGING_DDL);
  s.staged = true;
}

/** After a conflict, how long to go straight to the safe path. */
export const SAFE_PATH_MS = 2000;
