/**
 * The eval export: runs selected by their verdicts and facts, one JSON line
 * each, read a page at a time in a keyset order (start time in Unix
 * nanoseconds, then trace ID: the index trace_summary_start_key), so memory
 * stays that of one page however many runs there are, and an export can
 * resume after any run (`--after <cursor>`).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/schema.ts';
import { formatRun, type RunDocument } from './formats.ts';
import { formatCursor, type ExportOptions } from './options.ts';

/** Runs read per query: a few hundred keeps each query short and the memory of a page small. */
export const PAGE_SIZE = 200;

export interface ExportedLine {
  /** The JSON line, with its newline. */
  line: string;
  cursor: string;
}

/** Operations whose spans are model calls (as verdict.traces reads a run's input and answer). */
const MODEL_CALLS = sql`('chat', 'text_completion', 'generate_content')`;

function conditions(o: ExportOptions): RawBuilder<unknown>[] {
  const where: RawBuilder<unknown>[] = [sql`t.span_count > 0`];
  if (o.after) where.push(sql`(t.start_time_unix_nano, t.trace_id) > (${o.after.startNs}::bigint, ${o.after.traceId}::text)`);
  // The time range on the key's own column, so it bounds the index scan.
  if (o.since) where.push(sql`t.start_time_unix_nano >= ${String(BigInt(o.since.getTime()) * 1_000_000n)}::bigint`);
  if (o.until) where.push(sql`t.start_time_unix_nano < ${String(BigInt(o.until.getTime()) * 1_000_000n)}::bigint`);
  if (o.service !== undefined) where.push(sql`t.service_name = ${o.service}`);
  if (o.model !== undefined) where.push(sql`t.model = ${o.model}`);
  const verdict: RawBuilder<unknown>[] = [];
  if (o.name !== undefined) verdict.push(sql`e.name = ${o.name}`);
  if (o.label !== undefined) verdict.push(sql`e.score_label = ${o.label}`);
  if (o.polarity !== undefined) verdict.push(sql`e.polarity = ${o.polarity}`);
  if (o.source !== undefined) verdict.push(sql`e.source = ${o.source}`);
  if (verdict.length > 0) {
    where.push(sql`EXISTS (SELECT FROM verdict.evaluations e WHERE e.target_trace_id = t.trace_id AND ${sql.join(verdict, sql` AND `)})`);
  }
  if (o.correction !== undefined) {
    const has = sql`EXISTS (SELECT FROM verdict.evaluations e WHERE e.target_trace_id = t.trace_id AND e.correction IS NOT NULL)`;
    where.push(o.correction ? has : sql`NOT ${has}`);
  }
  return where;
}

/** One page of runs after `after`, each with what its line needs. */
function pageQuery(o: ExportOptions, size: number): RawBuilder<RunDocument> {
  return sql<RunDocument>`
    WITH page AS (
      SELECT t.trace_id, t.start_time_unix_nano, t.root_span_id, t.root_start_time, t.start_time, t.end_time
      FROM verdict.trace_summary t
      WHERE ${sql.join(conditions(o), sql` AND `)}
      ORDER BY t.start_time_unix_nano, t.trace_id
      LIMIT ${size}
    )
    SELECT
      p.start_time_unix_nano::text AS start_ns,
      r.trace_id, r.start_time, r.duration_ms, r.service_name, r.service_version, r.agent_name, r.model, r.conversation_id, r.user_id,
      r.span_count, r.error_count, r.input_tokens::float8 AS input_tokens, r.output_tokens::float8 AS output_tokens,
      root.gen_ai_system_instructions AS root_system, root.gen_ai_input_messages AS root_input, root.gen_ai_output_messages AS root_output,
      root.input_text AS root_input_text, root.output_text AS root_output_text,
      first_call.gen_ai_system_instructions AS call_system, first_call.gen_ai_input_messages AS call_input, first_call.input_text AS call_input_text,
      last_call.gen_ai_output_messages AS call_output, last_call.output_text AS call_output_text,
      COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
          'name', s.gen_ai_tool_name, 'call_id', s.gen_ai_tool_call_id, 'arguments', s.gen_ai_tool_call_arguments,
          'result', s.gen_ai_tool_call_result, 'status', s.status_code, 'error', s.status_message,
          'duration_ms', s.duration_ns / 1e6) ORDER BY s.start_time_unix_nano, s.span_id)
        FROM verdict.spans s
        WHERE s.trace_id = p.trace_id AND s.start_time BETWEEN p.start_time AND p.end_time AND s.gen_ai_operation_name = 'execute_tool'
      ), '[]'::jsonb) AS tool_calls,
      (SELECT jsonb_object_agg(o.op, o.n) FROM (
        SELECT COALESCE(s.gen_ai_operation_name, 'other') AS op, count(*) AS n FROM verdict.span_rows s
        WHERE s.trace_id = p.trace_id AND s.start_time BETWEEN p.start_time AND p.end_time GROUP BY 1
      ) o) AS operations,
      COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
          'id', e.id, 'name', e.name, 'label', e.score_label, 'score', e.score_value, 'polarity', e.polarity, 'source', e.source,
          'channel', e.channel, 'explanation', e.explanation, 'correction', e.correction, 'span_id', e.target_span_id,
          'time', e.time, 'evaluator', e.attributes ->> 'verdict.evaluator.name', 'evaluator_version', e.attributes ->> 'verdict.evaluator.version')
          ORDER BY e.time, e.id)
        FROM verdict.evaluations e WHERE e.target_trace_id = p.trace_id
      ), '[]'::jsonb) AS verdicts,
      (SELECT e.correction FROM verdict.evaluations e
       WHERE e.target_trace_id = p.trace_id AND e.correction IS NOT NULL ORDER BY e.time DESC, e.id DESC LIMIT 1) AS correction
    FROM page p
    JOIN verdict.traces r ON r.trace_id = p.trace_id
    LEFT JOIN LATERAL (
      SELECT s.gen_ai_system_instructions, s.gen_ai_input_messages, s.gen_ai_output_messages, s.input_text, s.output_text
      FROM verdict.spans s WHERE s.trace_id = p.trace_id AND s.span_id = p.root_span_id AND s.start_time = p.root_start_time
    ) root ON true
    LEFT JOIN LATERAL (
      SELECT s.gen_ai_system_instructions, s.gen_ai_input_messages, s.input_text FROM verdict.spans s
      WHERE s.trace_id = p.trace_id AND s.start_time BETWEEN p.start_time AND p.end_time
        AND s.gen_ai_operation_name IN ${MODEL_CALLS} AND (s.gen_ai_input_messages IS NOT NULL OR s.input_text IS NOT NULL)
      ORDER BY s.start_time_unix_nano, s.span_id COLLATE "C" LIMIT 1
    ) first_call ON true
    LEFT JOIN LATERAL (
      SELECT s.gen_ai_output_messages, s.output_text FROM verdict.spans s
      WHERE s.trace_id = p.trace_id AND s.start_time BETWEEN p.start_time AND p.end_time
        AND s.gen_ai_operation_name IN ${MODEL_CALLS} AND (s.gen_ai_output_messages IS NOT NULL OR s.output_text IS NOT NULL)
      ORDER BY s.end_time_unix_nano DESC, s.span_id COLLATE "C" DESC LIMIT 1
    ) last_call ON true
    ORDER BY p.start_time_unix_nano, p.trace_id`;
}

/**
 * The export as lines, a page at a time; the next page is read only when
 * the caller asks for more, so a slow reader holds one page.
 */
export async function* exportRuns(db: Kysely<Database>, options: ExportOptions, pageSize = PAGE_SIZE): AsyncGenerator<ExportedLine> {
  let after = options.after;
  let left = options.limit ?? Infinity;
  while (left > 0) {
    const size = Math.min(pageSize, left);
    const { rows } = await pageQuery({ ...options, ...(after ? { after } : {}) }, size).execute(db);
    for (const row of rows) {
      const cursor = formatCursor({ startNs: row.start_ns, traceId: row.trace_id });
      yield { line: `${JSON.stringify(formatRun(row, options.format, cursor))}\n`, cursor };
    }
    left -= rows.length;
    if (rows.length < size) return;
    const last = rows.at(-1) as RunDocument;
    after = { startNs: last.start_ns, traceId: last.trace_id };
  }
}
