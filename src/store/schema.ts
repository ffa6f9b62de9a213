/**
 * Kysely's view of the SQL contract (sql/0001_core.sql, docs/schema.md).
 * Kept in step with the migrations by hand; `test/integration/schema.test.ts`
 * compares it with information_schema. pg returns bigint as a string.
 */
import type { ColumnType } from 'kysely';

type Json = ColumnType<unknown, string, string>;
type BigintColumn = ColumnType<string, string | number | bigint, string | number | bigint>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface SpansTable {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  trace_state: string | null;
  name: string;
  kind: string;
  start_time: Timestamp;
  end_time: Timestamp;
  start_time_unix_nano: BigintColumn;
  end_time_unix_nano: BigintColumn;
  duration_ns: BigintColumn;
  status_code: string;
  status_message: string | null;
  flags: BigintColumn;
  service_name: string | null;
  scope_name: string | null;
  scope_version: string | null;
  scope_attributes: Json;
  resource_attributes: Json;
  attributes: Json;
  events: Json;
  links: Json;
  dropped_attributes_count: BigintColumn;
  dropped_events_count: BigintColumn;
  dropped_links_count: BigintColumn;
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
  gen_ai_input_tokens: BigintColumn | null;
  gen_ai_output_tokens: BigintColumn | null;
  user_id: string | null;
  gen_ai_tool_call_id: string | null;
  gen_ai_system_instructions: Json | null;
  gen_ai_input_messages: Json | null;
  gen_ai_output_messages: Json | null;
  gen_ai_tool_call_arguments: Json | null;
  gen_ai_tool_call_result: Json | null;
  input_text: string | null;
  output_text: string | null;
  gen_ai_content_source: string | null;
}

/** sql/0005_genai_content.sql: message content carried by log records, per record. */
export interface SpanMessagesTable {
  trace_id: string;
  span_id: string;
  log_id: string;
  kind: string;
  time_unix_nano: BigintColumn;
  seq: BigintColumn;
  content: Json;
  text: string | null;
}

export interface LogsTable {
  id: string;
  trace_id: string | null;
  span_id: string | null;
  time: Timestamp;
  observed_time: Timestamp;
  time_unix_nano: BigintColumn;
  observed_time_unix_nano: BigintColumn;
  severity_number: number;
  severity_text: string | null;
  event_name: string | null;
  body: Json | null;
  attributes: Json;
  resource_attributes: Json;
  service_name: string | null;
  scope_name: string | null;
  scope_version: string | null;
  scope_attributes: Json;
  flags: BigintColumn;
  dropped_attributes_count: BigintColumn;
  resource_schema_url: string | null;
  scope_schema_url: string | null;
}

export interface EvaluationsTable {
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
  time: Timestamp;
  channel: string;
  source: string | null;
  polarity: string | null;
  service_name: string | null;
  attributes: Json;
}

export interface TracesView {
  trace_id: string;
  root_span_id: string;
  root_name: string;
  service_name: string | null;
  start_time: Date;
  end_time: Date;
  duration_ms: number;
  span_count: string;
  error_count: string;
  input_tokens: string | null;
  output_tokens: string | null;
  conversation_id: string | null;
  input_text: string | null;
  output_text: string | null;
  user_id: string | null;
}

export interface TraceEvaluationsView {
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
  time: Date;
  channel: string;
  source: string | null;
  polarity: string | null;
  evaluator_service_name: string | null;
  attributes: unknown;
  span_name: string | null;
  service_name: string | null;
  gen_ai_operation_name: string | null;
  gen_ai_request_model: string | null;
  gen_ai_response_model: string | null;
  gen_ai_agent_name: string | null;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Timestamp;
}

export interface Database {
  'verdict.spans': SpansTable;
  'verdict.logs': LogsTable;
  'verdict.evaluations': EvaluationsTable;
  'verdict.span_messages': SpanMessagesTable;
  'verdict.traces': TracesView;
  'verdict.trace_evaluations': TraceEvaluationsView;
  'verdict.schema_migrations': SchemaMigrationsTable;
}
