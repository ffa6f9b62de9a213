/**
 * The tables Verdict writes: their COPY column lists, conflict keys, and the
 * row encoders for log records and evaluations (spans are encoded by the
 * normaliser itself, see SPAN_COLUMNS). The integration tests compare these
 * lists with information_schema, so they cannot drift from sql/.
 */
import { SPAN_COLUMNS } from '../normalize/spans.ts';
import type { EvaluationRow, LogRow, TurnRow } from '../normalize/rows.ts';
import { CopyWriter, type EncodedRows } from './copy-binary.ts';

export interface Table {
  name: string;
  /** COPY column order. */
  columns: readonly string[];
  /** Columns that make a row's identity, for ON CONFLICT. */
  key: readonly string[];
  /** Temp table for the idempotent path (see write-plan.ts). */
  staging: string;
}

export interface RowCodec<R> extends Table {
  write(w: CopyWriter, row: R): void;
}

export const SPANS: Table = { name: 'verdict.spans', columns: SPAN_COLUMNS, key: ['trace_id', 'span_id'], staging: 'verdict_spans_in' };

export const LOGS: RowCodec<LogRow> = {
  name: 'verdict.logs',
  key: ['id'],
  staging: 'verdict_logs_in',
  columns: [
    'id', 'trace_id', 'span_id', 'time', 'observed_time', 'time_unix_nano', 'observed_time_unix_nano',
    'severity_number', 'severity_text', 'event_name', 'body', 'attributes', 'resource_attributes',
    'service_name', 'scope_name', 'scope_version', 'scope_attributes', 'flags', 'dropped_attributes_count',
    'resource_schema_url', 'scope_schema_url',
  ],
  write(w, r) {
    w.row(21);
    w.ascii(r.id);
    w.text(r.trace_id);
    w.text(r.span_id);
    w.timestampNanos(r.time_unix_nano || r.observed_time_unix_nano);
    w.timestampNanos(r.observed_time_unix_nano);
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

export const EVALUATIONS: RowCodec<EvaluationRow> = {
  name: 'verdict.evaluations',
  key: ['id'],
  staging: 'verdict_evaluations_in',
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
    w.timestampNanos(r.time_unix_nano);
    w.ascii(r.channel);
    w.text(r.source);
    w.text(r.polarity);
    w.text(r.service_name);
    w.jsonb(r.attributes);
  },
};

/**
 * User turns for the `repeat` rule. Staged only: write-plan.ts records them in
 * verdict.user_turns and derives the repeat verdicts in SQL.
 */
export const TURNS: RowCodec<TurnRow> = {
  name: 'verdict.user_turns',
  key: ['conversation_id', 'message_hash', 'trace_id'],
  staging: 'verdict_turns_in',
  columns: ['conversation_id', 'message_hash', 'trace_id', 'span_id', 'time', 'message', 'rule', 'label', 'polarity'],
  write(w, r) {
    w.row(9);
    w.text(r.conversation_id);
    w.ascii(r.message_hash);
    w.ascii(r.trace_id);
    w.ascii(r.span_id);
    w.timestampNanos(r.time_unix_nano);
    w.text(r.message);
    w.text(r.rule);
    w.text(r.label);
    w.ascii(r.polarity);
  },
};

export function encodeRows<R>(codec: RowCodec<R>, rows: Iterable<R>): EncodedRows {
  const w = new CopyWriter();
  for (const row of rows) codec.write(w, row);
  return w.finish();
}

export const copySql = (table: Table, into: string = table.name, source = 'STDIN'): string =>
  `COPY ${into} (${table.columns.join(', ')}) FROM ${source} WITH (FORMAT binary)`;
