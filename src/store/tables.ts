/**
 * The three tables' column lists, in COPY order, and the functions that
 * encode one row of each. Column names and order here must match sql/; the
 * store test compares them with information_schema so they cannot drift.
 */
import type { Batch, EvaluationRow, LogRow, SpanRow } from '../normalize/rows.ts';
import { CopyWriter } from './copy-binary.ts';

export interface TableCodec<R> {
  table: string;
  columns: readonly string[];
  /** Columns that make a row's identity, for ON CONFLICT. */
  key: readonly string[];
  write(w: CopyWriter, row: R): void;
}

export const SPANS: TableCodec<SpanRow> = {
  table: 'verdict.spans',
  key: ['trace_id', 'span_id'],
  columns: [
    'trace_id', 'span_id', 'parent_span_id', 'trace_state', 'name', 'kind', 'start_time', 'end_time',
    'start_time_unix_nano', 'end_time_unix_nano', 'duration_ns', 'status_code', 'status_message', 'flags',
    'service_name', 'scope_name', 'scope_version', 'scope_attributes', 'resource_attributes', 'attributes',
    'events', 'links', 'dropped_attributes_count', 'dropped_events_count', 'dropped_links_count',
    'resource_schema_url', 'scope_schema_url', 'gen_ai_operation_name', 'gen_ai_provider_name',
    'gen_ai_request_model', 'gen_ai_response_model', 'gen_ai_response_id', 'gen_ai_conversation_id',
    'gen_ai_agent_name', 'gen_ai_tool_name', 'gen_ai_input_tokens', 'gen_ai_output_tokens',
  ],
  write(w, r) {
    w.row(37);
    w.text(r.trace_id);
    w.text(r.span_id);
    w.text(r.parent_span_id);
    w.text(r.trace_state);
    w.text(r.name);
    w.text(r.kind);
    w.timestampFromNanos(r.start_time_unix_nano);
    w.timestampFromNanos(r.end_time_unix_nano);
    w.int8(r.start_time_unix_nano);
    w.int8(r.end_time_unix_nano);
    w.int8(r.end_time_unix_nano - r.start_time_unix_nano);
    w.text(r.status_code);
    w.text(r.status_message);
    w.int8(r.flags);
    w.text(r.service_name);
    w.text(r.scope_name);
    w.text(r.scope_version);
    w.jsonb(r.scope_attributes);
    w.jsonb(r.resource_attributes);
    w.jsonb(r.attributes);
    w.jsonb(r.events);
    w.jsonb(r.links);
    w.int8(r.dropped_attributes_count);
    w.int8(r.dropped_events_count);
    w.int8(r.dropped_links_count);
    w.text(r.resource_schema_url);
    w.text(r.scope_schema_url);
    w.text(r.gen_ai_operation_name);
    w.text(r.gen_ai_provider_name);
    w.text(r.gen_ai_request_model);
    w.text(r.gen_ai_response_model);
    w.text(r.gen_ai_response_id);
    w.text(r.gen_ai_conversation_id);
    w.text(r.gen_ai_agent_name);
    w.text(r.gen_ai_tool_name);
    w.int8(r.gen_ai_input_tokens);
    w.int8(r.gen_ai_output_tokens);
  },
};

export const LOGS: TableCodec<LogRow> = {
  table: 'verdict.logs',
  key: ['id'],
  columns: [
    'id', 'trace_id', 'span_id', 'time', 'observed_time', 'time_unix_nano', 'observed_time_unix_nano',
    'severity_number', 'severity_text', 'event_name', 'body', 'attributes', 'resource_attributes',
    'service_name', 'scope_name', 'scope_version', 'scope_attributes', 'flags', 'dropped_attributes_count',
    'resource_schema_url', 'scope_schema_url',
  ],
  write(w, r) {
    w.row(21);
    w.text(r.id);
    w.text(r.trace_id);
    w.text(r.span_id);
    w.timestampFromNanos(r.time_unix_nano || r.observed_time_unix_nano);
    w.timestampFromNanos(r.observed_time_unix_nano);
    w.int8(r.time_unix_nano);
    w.int8(r.observed_time_unix_nano);
    w.int4(r.severity_number);
    w.text(r.severity_text);
    w.text(r.event_name);
    w.jsonb(r.body);
    w.jsonb(r.attributes);
    w.jsonb(r.resource_attributes);
    w.text(r.service_name);
    w.text(r.scope_name);
    w.text(r.scope_version);
    w.jsonb(r.scope_attributes);
    w.int8(r.flags);
    w.int8(r.dropped_attributes_count);
    w.text(r.resource_schema_url);
    w.text(r.scope_schema_url);
  },
};

export const EVALUATIONS: TableCodec<EvaluationRow> = {
  table: 'verdict.evaluations',
  key: ['id'],
  columns: [
    'id', 'trace_id', 'span_id', 'response_id', 'conversation_id', 'name', 'score_value', 'score_label',
    'explanation', 'error_type', 'time', 'channel', 'source', 'polarity', 'service_name', 'attributes',
  ],
  write(w, r) {
    w.row(16);
    w.text(r.id);
    w.text(r.trace_id);
    w.text(r.span_id);
    w.text(r.response_id);
    w.text(r.conversation_id);
    w.text(r.name);
    w.float8(r.score_value);
    w.text(r.score_label);
    w.text(r.explanation);
    w.text(r.error_type);
    w.timestampFromNanos(r.time_unix_nano);
    w.text(r.channel);
    w.text(r.source);
    w.text(r.polarity);
    w.text(r.service_name);
    w.jsonb(r.attributes);
  },
};

/** The rows of one table across a group of batches. */
export interface TableRows {
  spans: number;
  logs: number;
  evaluations: number;
}

export function countRows(batches: readonly Batch[]): TableRows {
  let spans = 0;
  let logs = 0;
  let evaluations = 0;
  for (const b of batches) {
    spans += b.spans.length;
    logs += b.logs.length;
    evaluations += b.evaluations.length;
  }
  return { spans, logs, evaluations };
}

/** Encodes the rows that `pick` selects from every batch as one binary COPY stream. */
export function encode<R>(codec: TableCodec<R>, batches: readonly Batch[], pick: (b: Batch) => readonly R[]): Buffer[] {
  const w = new CopyWriter();
  for (const b of batches) for (const row of pick(b)) codec.write(w, row);
  return w.finish();
}

export const copySql = (codec: TableCodec<unknown>, table: string = codec.table, source = 'STDIN'): string =>
  `COPY ${table} (${codec.columns.join(', ')}) FROM ${source} WITH (FORMAT binary)`;
