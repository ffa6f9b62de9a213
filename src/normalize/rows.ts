/**
 * The normalised rows Verdict writes, one interface per table, with field
 * names equal to column names. Times are exact nanoseconds (bigint); jsonb
 * columns hold JSON text, built once by the normaliser.
 */

export interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  trace_state: string | null;
  name: string;
  kind: string;
  start_time_unix_nano: bigint;
  end_time_unix_nano: bigint;
  status_code: string;
  status_message: string | null;
  flags: number;
  service_name: string | null;
  scope_name: string | null;
  scope_version: string | null;
  scope_attributes: string;
  resource_attributes: string;
  attributes: string;
  events: string;
  links: string;
  dropped_attributes_count: number;
  dropped_events_count: number;
  dropped_links_count: number;
  resource_schema_url: string | null;
  scope_schema_url: string | null;
  gen_ai_operation_name: string | null;
  gen_ai_provider_name: string | null;
  gen_ai_request_model: string | null;
  gen_ai_response_model: string | null;
  gen_ai_response_id: string | null;
  gen_ai_conversation_id: string | null;
  gen_ai_agent_name: string | null;
  gen_ai_tool_name: string | null;
  gen_ai_input_tokens: bigint | number | null;
  gen_ai_output_tokens: bigint | number | null;
}

export interface LogRow {
  /** Content hash: a re-sent record maps to the same id. */
  id: string;
  trace_id: string | null;
  span_id: string | null;
  time_unix_nano: bigint;
  observed_time_unix_nano: bigint;
  severity_number: number;
  severity_text: string | null;
  event_name: string | null;
  body: string | null;
  attributes: string;
  resource_attributes: string;
  service_name: string | null;
  scope_name: string | null;
  scope_version: string | null;
  scope_attributes: string;
  flags: number;
  dropped_attributes_count: number;
  resource_schema_url: string | null;
  scope_schema_url: string | null;
}

export type Channel = 'log' | 'span_event' | 'api' | 'rule';
export type Polarity = 'positive' | 'negative' | 'neutral';

export interface EvaluationRow {
  /** Content hash (or the caller's id for the feedback API): delivered twice, stored once. */
  id: string;
  trace_id: string | null;
  span_id: string | null;
  response_id: string | null;
  conversation_id: string | null;
  name: string;
  score_value: number | null;
  score_label: string | null;
  explanation: string | null;
  error_type: string | null;
  time_unix_nano: bigint;
  channel: Channel;
  source: string | null;
  polarity: Polarity | null;
  service_name: string | null;
  attributes: string;
}

/** Everything one request (or one rule run) adds, written in one transaction. */
export interface Batch {
  spans: SpanRow[];
  logs: LogRow[];
  evaluations: EvaluationRow[];
}

export function emptyBatch(): Batch {
  return { spans: [], logs: [], evaluations: [] };
}

export function batchRows(b: Batch): number {
  return b.spans.length + b.logs.length + b.evaluations.length;
}
