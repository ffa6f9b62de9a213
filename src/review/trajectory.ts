/**
 * One run as a reviewer reads it: the run's summary, its spans (timings,
 * errors, the normalised messages of each model call, tool calls with
 * arguments and results), its log records and every verdict on it. Each
 * read is a lookup by trace ID: the run's summary row, its spans within its
 * own time (one day's index), its log records and verdicts by their trace
 * indexes.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** A run is read whole up to these; the page says when a run was cut. */
export const MAX_SPANS = 2000;
export const MAX_LOGS = 1000;

export interface Trajectory {
  run: Record<string, unknown>;
  spans: Array<Record<string, unknown>>;
  logs: Array<Record<string, unknown>>;
  verdicts: Array<Record<string, unknown>>;
  truncated: { spans: boolean; logs: boolean };
}

export async function loadTrajectory(db: Kysely<Database>, traceId: string): Promise<Trajectory | null> {
  const run = (await sql<Record<string, unknown> & { start_time: Date; end_time: Date }>`
    SELECT trace_id, root_span_id, root_name, service_name, service_version, agent_name, model, has_root, start_time, end_time,
      duration_ms, span_count::int, error_count::int, input_tokens::float8, output_tokens::float8, conversation_id, user_id,
      input_text, output_text, verdicts::int
    FROM verdict.traces WHERE trace_id = ${traceId}`.execute(db)).rows[0];
  if (!run) return null;
  const [spans, logs, verdicts] = await Promise.all([
    sql<Record<string, unknown>>`
      SELECT span_id, parent_span_id, name, kind, start_time_unix_nano::text AS start_ns, end_time_unix_nano::text AS end_ns,
        (duration_ns / 1e6)::float8 AS duration_ms, status_code, status_message, service_name, gen_ai_operation_name AS operation,
        gen_ai_provider_name AS provider, gen_ai_request_model AS request_model, gen_ai_response_model AS response_model,
        gen_ai_agent_name AS agent, gen_ai_tool_name AS tool, gen_ai_tool_call_id AS tool_call_id,
        gen_ai_input_tokens::float8 AS input_tokens, gen_ai_output_tokens::float8 AS output_tokens,
        gen_ai_system_instructions AS system_instructions, gen_ai_input_messages AS input_messages,
        gen_ai_output_messages AS output_messages, gen_ai_tool_call_arguments AS tool_arguments,
        gen_ai_tool_call_result AS tool_result, events
      FROM verdict.spans
      WHERE trace_id = ${traceId} AND start_time BETWEEN ${run.start_time} AND ${run.end_time}
      ORDER BY start_time_unix_nano, span_id
      LIMIT ${MAX_SPANS + 1}`.execute(db),
    sql<Record<string, unknown>>`
      SELECT span_id, time_unix_nano::text AS time_ns, severity_text, event_name, body, attributes
      FROM verdict.logs WHERE trace_id = ${traceId}
      ORDER BY time_unix_nano, id
      LIMIT ${MAX_LOGS + 1}`.execute(db),
    sql<Record<string, unknown>>`
      SELECT id, span_id, span_name, target, name, score_value, score_label, explanation, correction, source, channel, polarity,
        evaluator_service_name, attributes, time
      FROM verdict.trace_evaluations WHERE trace_id = ${traceId}
      ORDER BY time, id`.execute(db),
  ]);
  return {
    run,
    spans: spans.rows.slice(0, MAX_SPANS),
    logs: logs.rows.slice(0, MAX_LOGS),
    verdicts: verdicts.rows,
    truncated: { spans: spans.rows.length > MAX_SPANS, logs: logs.rows.length > MAX_LOGS },
  };
}
