/**
 * The tables Verdict writes: their names, conflict keys and staging tables,
 * and the COPY encoders of log records, evaluations and user turns (spans are
 * encoded by the normaliser itself). Column order comes from
 * model/columns.ts.
 */
import { CopyWriter, type EncodedRows } from '../common/copy-binary.ts';
import { EVALUATION_COLUMNS, LOG_COLUMNS, MESSAGE_COLUMNS, RESOURCE_COLUMNS, SPAN_COLUMNS, TURN_COLUMNS } from '../model/columns.ts';
import type { EvaluationRow, LogRow, MessageRow, ResourceRow, TurnRow } from '../model/rows.ts';

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

/** Partitioned by start_time, which is part of the key: a re-sent span (same start) is still stored once. */
export const SPANS: Table = { name: 'verdict.span_rows', columns: SPAN_COLUMNS, key: ['trace_id', 'span_id', 'start_time'], staging: 'verdict_spans_in' };

export const RESOURCES: RowCodec<ResourceRow> = {
  name: 'verdict.resources',
  key: ['resource_id'],
  staging: 'verdict_resources_in',
  columns: RESOURCE_COLUMNS,
  write(w, r) {
    w.row(RESOURCE_COLUMNS.length);
    w.ascii(r.resource_id);
    w.text(r.service_name);
    w.text(r.service_version);
    w.jsonb(r.attributes);
    w.text(r.schema_url);
  },
};

export const LOGS: RowCodec<LogRow> = {
  name: 'verdict.log_rows',
  key: ['id', 'time'],
  staging: 'verdict_logs_in',
  columns: LOG_COLUMNS,
  write(w, r) {
    w.row(LOG_COLUMNS.length);
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
    w.ascii(r.resource_id);
    w.text(r.service_name);
    w.text(r.scope_name);
    w.text(r.scope_version);
    w.jsonb(r.scope_attributes);
    w.int8(r.flags);
    w.int8(r.dropped_attributes_count);
    w.text(r.scope_schema_url);
  },
};

/** Partitioned by time; verdict.evaluation_keys makes the id unique across partitions (see write-plan.ts). */
export const EVALUATIONS: RowCodec<EvaluationRow> = {
  name: 'verdict.evaluations',
  key: ['id', 'time'],
  staging: 'verdict_evaluations_in',
  columns: EVALUATION_COLUMNS,
  write(w, r) {
    w.row(EVALUATION_COLUMNS.length);
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
    const t = r.target;
    // Known facts of the target (a span event's own span); else only the trace, if given, and the store resolves the rest.
    w.text(t?.trace_id ?? r.trace_id);
    w.text(t?.span_id ?? null);
    w.text(t?.span_name ?? null);
    w.text(t?.service_name ?? null);
    w.text(t?.service_version ?? null);
    w.text(t?.operation_name ?? null);
    w.text(t?.request_model ?? null);
    w.text(t?.response_model ?? null);
    w.text(t?.agent_name ?? null);
    w.text(t?.conversation_id ?? null);
    w.text(r.correction ?? null);
    // The layers (harness and context version) need the run's root: the store works them out (layer-sql.ts).
    w.text(null);
    w.text(null);
  },
};

/** Message content from log records, waiting for (or already copied onto) its span: see span-content.ts. */
export const MESSAGES: RowCodec<MessageRow> = {
  name: 'verdict.span_messages',
  key: ['trace_id', 'span_id', 'log_id', 'kind'],
  staging: 'verdict_span_messages_in',
  columns: MESSAGE_COLUMNS,
  write(w, r) {
    w.row(MESSAGE_COLUMNS.length);
    w.ascii(r.trace_id);
    w.ascii(r.span_id);
    w.ascii(r.log_id);
    w.ascii(r.kind);
    w.int8(r.time_unix_nano);
    w.int8(r.seq);
    w.jsonb(r.content);
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
  columns: TURN_COLUMNS,
  write(w, r) {
    w.row(TURN_COLUMNS.length);
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
