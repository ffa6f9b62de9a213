/**
 * The SQL contract as data: every table and view Verdict keeps in the
 * `verdict` schema, with each column's type and nullability. Kysely's
 * `Database` type is derived from it, so typed queries and the schema are one
 * thing; `test/integration/schema.test.ts` compares it with
 * information_schema on both databases, so it cannot drift from sql/.
 *
 * Both backends return PostgreSQL values the same way (the PostgreSQL pool is
 * set up so, see postgres.ts): int8 as a number when it is exact, else a
 * bigint; numeric as a string; timestamptz as a Date; jsonb parsed.
 */
import type { ColumnType } from 'kysely';

type Kind = 'text' | 'integer' | 'smallint' | 'bigint' | 'double precision' | 'boolean' | 'timestamp with time zone' | 'jsonb' | 'ARRAY' | 'date' | 'numeric';

export interface ColumnSpec {
  kind: Kind;
  nullable: boolean;
  /** Filled by the database when an insert leaves it out. */
  defaulted?: boolean;
}

const col = (kind: Kind, nullable = false, defaulted = false): ColumnSpec => ({ kind, nullable, defaulted });
const text = col('text');
const textNull = col('text', true);
const int8 = col('bigint');
const int8Null = col('bigint', true);
const time = col('timestamp with time zone');
const timeNull = col('timestamp with time zone', true);
const json = col('jsonb');
const jsonNull = col('jsonb', true);
const bool = col('boolean');
const float = col('double precision');
const floatNull = col('double precision', true);
const numNull = col('numeric', true);

/** Columns of the span rollups but their time (minute or hour) and tool (hourly only). */
const SPAN_ROLLUP = {
  service_name: textNull, service_version: textNull, operation: textNull, model: textNull, agent: textNull,
  spans: int8, roots: int8, errors: int8, input_tokens: col('numeric'), output_tokens: col('numeric'), duration_ns: float,
};
/** Columns of the latency rollups but their time and tool. */
const LATENCY_ROLLUP = { service_name: textNull, operation: textNull, spans: int8, buckets: col('ARRAY'), counts: col('ARRAY') };

/** Columns shared by the span table and its view. */
const SPAN_CORE = {
  trace_id: text, span_id: text, parent_span_id: textNull, trace_state: textNull, name: text, kind: text,
  start_time: time, end_time: time, start_time_unix_nano: int8, end_time_unix_nano: int8,
  status_code: text, status_message: textNull, flags: int8, service_name: textNull, scope_name: textNull, scope_version: textNull,
  scope_attributes: json, attributes: json, scope_schema_url: textNull,
  gen_ai_operation_name: textNull, gen_ai_provider_name: textNull, gen_ai_request_model: textNull, gen_ai_response_model: textNull,
  gen_ai_response_id: textNull, gen_ai_conversation_id: textNull, gen_ai_agent_name: textNull, gen_ai_tool_name: textNull,
  gen_ai_input_tokens: int8Null, gen_ai_output_tokens: int8Null, resource_id: textNull,
  user_id: textNull, gen_ai_tool_call_id: textNull, gen_ai_system_instructions: jsonNull, gen_ai_input_messages: jsonNull,
  gen_ai_output_messages: jsonNull, gen_ai_tool_call_arguments: jsonNull, gen_ai_tool_call_result: jsonNull,
  gen_ai_content_source: textNull,
} as const;

const LOG_CORE = {
  id: text, trace_id: textNull, span_id: textNull, time, observed_time: time, time_unix_nano: int8, observed_time_unix_nano: int8,
  severity_number: col('integer'), severity_text: textNull, event_name: textNull, body: jsonNull, attributes: json, resource_id: textNull,
  service_name: textNull, scope_name: textNull, scope_version: textNull, scope_attributes: json, flags: int8, dropped_attributes_count: int8,
  scope_schema_url: textNull,
} as const;

const VERDICT_CORE = {
  id: text, trace_id: textNull, span_id: textNull, response_id: textNull, conversation_id: textNull, name: text,
  score_value: floatNull, score_label: textNull, explanation: textNull, error_type: textNull, time, channel: text,
  source: textNull, polarity: textNull, service_name: textNull, attributes: json,
} as const;

const VERDICT_TARGET = {
  target_trace_id: textNull, target_span_id: textNull, target_span_name: textNull, target_service_name: textNull,
  target_service_version: textNull, target_operation_name: textNull, target_request_model: textNull, target_response_model: textNull,
  target_agent_name: textNull, target_conversation_id: textNull,
} as const;

const VERDICT_COUNTS = {
  verdicts: int8, positive_verdicts: int8, negative_verdicts: int8, neutral_verdicts: int8, user_verdicts: int8,
  indirect_verdicts: int8, llm_judge_verdicts: int8, rule_verdicts: int8, reviewer_verdicts: int8, verdicts_by_source: json,
} as const;

/** Counters kept per run: NOT NULL with defaults. */
const RUN_COUNTS = Object.fromEntries(Object.entries(VERDICT_COUNTS).map(([k, v]) => [k, { ...v, defaulted: true }])) as {
  [K in keyof typeof VERDICT_COUNTS]: ColumnSpec & { defaulted: true };
};

const JUDGE = { judge: text, judge_model: textNull, judge_version: textNull } as const;
const CHANGES = {
  changed_at: time, layer: text, value: text, name: text, source: textNull, service_name: textNull,
  verdicts_before: int8, negative_before: int8, rate_before: floatNull,
  verdicts_after: int8, negative_after: int8, rate_after: floatNull, z: floatNull, significant: bool, worse: bool,
} as const;
const TASKS = {
  task_id: text, agent_name: textNull, service_name: textNull, task: text, runs: int8, good_runs: int8, bad_runs: int8,
  positive_verdicts: int8, negative_verdicts: int8, first_start: time, last_start: time,
  best_trace_id: textNull, worst_trace_id: textNull,
} as const;
const COMPARISONS = {
  task_id: text, agent_name: textNull, task: text, runs: int8, good_runs: int8, bad_runs: int8, good_trace_id: text, bad_trace_id: text,
  good_tools: col('ARRAY'), bad_tools: col('ARRAY'), good_spans: int8, bad_spans: int8, good_tokens: col('numeric'), bad_tokens: col('numeric'),
  good_duration_ms: float, bad_duration_ms: float, good_errors: int8, bad_errors: int8, good_verdicts: json, bad_verdicts: json,
} as const;

/** The learning loop's views (sql/0008_learning_loop.sql). */
const LOOP_VIEWS = {
  'verdict.judge_human_pairs': {
    time, week: time, judge_verdict_id: text, ...JUDGE, judge_evaluation: text, judge_target: text, judge_polarity: textNull,
    judge_score: floatNull, judge_label: textNull, judge_explanation: textNull, human_verdict_id: text, human_evaluation: text,
    human_source: text, human_target: text, human_polarity: textNull, human_score: floatNull, human_label: textNull,
    human_explanation: textNull, correction: textNull, human_time: time, trace_id: textNull, span_id: textNull,
    service_name: textNull, conversation_id: textNull, agree: col('boolean', true),
  },
  'verdict.judge_calibration': {
    week: time, ...JUDGE, pairs: int8, polarity_pairs: int8, agreements: int8, agreement: floatNull, kappa: floatNull,
    scored_pairs: int8, mae: floatNull, pearson: floatNull, judge_positive: int8, judge_negative: int8, judge_neutral: int8,
    human_positive: int8, human_negative: int8, human_neutral: int8, kappa_threshold: float, below_threshold: bool,
  },
  'verdict.judge_disagreements': {
    time, week: time, ...JUDGE, judge_evaluation: text, judge_label: textNull, judge_polarity: text, judge_score: floatNull,
    judge_explanation: textNull, human_evaluation: text, human_source: text, human_label: textNull, human_polarity: text,
    human_score: floatNull, human_explanation: textNull, correction: textNull, trace_id: textNull, span_id: textNull,
    conversation_id: textNull, service_name: textNull, review_path: textNull,
  },
  'verdict.verdict_layers': {
    id: text, time, day: time, name: text, source: textNull, polarity: textNull, label: textNull, trace_id: textNull, span_id: textNull,
    service_name: textNull, harness_version: textNull, model: textNull, context_version: textNull,
  },
  'verdict.verdict_drift': {
    day: time, name: text, source: textNull, service_name: textNull, harness_version: textNull, model: textNull,
    context_version: textNull, verdicts: int8, with_polarity: int8, negative: int8, negative_rate: floatNull,
  },
  'verdict.drift_changes': CHANGES,
  'verdict.task_runs': {
    task_id: text, agent_name: textNull, service_name: textNull, task: text, trace_id: text, start_time: time, duration_ms: float,
    span_count: int8, error_count: int8, input_tokens: numNull, output_tokens: numNull, model: textNull, service_version: textNull,
    positive_verdicts: int8, negative_verdicts: int8, verdicts: int8, outcome: text, balance: int8,
  },
  'verdict.tasks': TASKS,
  'verdict.task_comparisons': COMPARISONS,
} as const;

/** Views report every column as nullable in information_schema; their specs say what the rows hold. */
export const SCHEMA = {
  tables: {
    'verdict.schema_migrations': { version: col('integer'), name: text, checksum: text, applied_at: col('timestamp with time zone', false, true) },
    'verdict.resources': {
      resource_id: text, service_name: textNull, service_version: textNull, attributes: json, schema_url: textNull,
      first_seen: col('timestamp with time zone', false, true),
    },
    'verdict.span_rows': {
      ...SPAN_CORE, content_in_attributes: col('integer', true), attributes_in_columns: col('integer', true),
      // NULL for none (the view shows [] and 0).
      events: jsonNull, links: jsonNull, dropped_attributes_count: int8Null, dropped_events_count: int8Null, dropped_links_count: int8Null,
    },
    'verdict.log_rows': LOG_CORE,
    'verdict.evaluations': { ...VERDICT_CORE, ...VERDICT_TARGET, correction: textNull, target_harness_version: textNull, target_context_version: textNull },
    'verdict.evaluation_keys': { id: text, time },
    'verdict.pending_verdicts': { id: text, time, trace_id: textNull, span_id: textNull, response_id: textNull },
    'verdict.user_turns': { conversation_id: text, message_hash: text, trace_id: text, span_id: text, time, message: text },
    'verdict.span_messages': {
      trace_id: text, span_id: text, log_id: text, kind: text, time_unix_nano: int8, seq: int8, content: json,
    },
    'verdict.trace_summary': {
      trace_id: text, span_count: col('bigint', false, true), error_count: col('bigint', false, true),
      start_time_unix_nano: int8Null, end_time_unix_nano: int8Null, start_time: timeNull, end_time: timeNull,
      root_span_id: textNull, root_name: textNull, root_is_root: col('boolean', false, true), root_start_time: timeNull,
      root_start_time_unix_nano: int8Null, service_name: textNull, service_version: textNull, agent_name: textNull,
      conversation_id: textNull, model: textNull, model_end_time_unix_nano: int8Null,
      leaf_input_tokens: numNull, leaf_output_tokens: numNull, aggregate_input_tokens: numNull, aggregate_output_tokens: numNull,
      ...RUN_COUNTS,
      prev_counted: col('boolean', true), prev_minute: timeNull, prev_service_name: textNull, prev_service_version: textNull,
      prev_flags: col('integer', true), prev_conversation_id: textNull, user_id: textNull, task: textNull, task_id: textNull,
      root_input_text: textNull, root_output_text: textNull, first_input_time_unix_nano: int8Null, first_input_span_id: textNull,
      first_input_text: textNull, last_output_time_unix_nano: int8Null, last_output_span_id: textNull, last_output_text: textNull,
    },
    'verdict.conversation_summary': {
      conversation_id: text, start_time: timeNull, end_time: timeNull, trace_count: col('bigint', false, true),
      ...Object.fromEntries(Object.entries(VERDICT_COUNTS).map(([k, v]) => [`run_${k}`, { ...v, defaulted: true }])) as {
        [K in keyof typeof VERDICT_COUNTS as `run_${K}`]: ColumnSpec & { defaulted: true };
      },
      ...Object.fromEntries(Object.entries(VERDICT_COUNTS).map(([k, v]) => [`thread_${k}`, { ...v, defaulted: true }])) as {
        [K in keyof typeof VERDICT_COUNTS as `thread_${K}`]: ColumnSpec & { defaulted: true };
      },
    },
    'verdict.span_rollup': { minute: time, ...SPAN_ROLLUP },
    'verdict.span_rollup_hourly': { hour: time, ...SPAN_ROLLUP, tool: textNull },
    'verdict.latency_rollup': { minute: time, ...LATENCY_ROLLUP },
    'verdict.latency_rollup_hourly': { hour: time, ...LATENCY_ROLLUP, tool: textNull },
    'verdict.run_rollup': {
      minute: time, service_name: textNull, service_version: textNull, runs: int8, runs_with_error: int8, runs_with_verdict: int8,
      runs_with_user_verdict: int8, runs_with_indirect_verdict: int8, runs_with_llm_judge_verdict: int8,
      runs_with_rule_verdict: int8, runs_with_reviewer_verdict: int8, runs_with_human_verdict: int8,
    },
    'verdict.verdict_rollup': {
      minute: time, name: text, label: textNull, source: textNull, polarity: textNull, service_name: textNull,
      service_version: textNull, model: textNull, agent: textNull, verdicts: int8, score_sum: col('double precision', false, true),
      scored: col('bigint', false, true),
    },
    'verdict.verdict_layer_rollup': {
      hour: time, name: text, source: textNull, service_name: textNull, harness_version: textNull, model: textNull,
      context_version: textNull, polarity: textNull, verdicts: int8,
    },
    'verdict.loop_settings': {
      id: col('boolean', false, true), kappa_threshold: col('double precision', false, true), pair_span_with_run: col('boolean', false, true),
      context_attribute: col('text', false, true), change_z: col('double precision', false, true), min_verdicts: col('integer', false, true),
    },
    'verdict.judge_pairs': { judge_name: text, human_name: text },
    'verdict.review_items': {
      id: text, queue: text, trace_id: text, reason: text, detail: textNull, priority: col('smallint'),
      state: col('text', false, true), reviewer: textNull, lease_until: timeNull, created_at: col('timestamp with time zone', false, true),
      claimed_at: timeNull, finished_at: timeNull, verdict_ids: jsonNull,
    },
    'verdict.review_days': {
      queue: text, day: col('date'), queued: col('integer', false, true), done: col('integer', false, true), skipped: col('integer', false, true),
    },
    'verdict.judge_jobs': {
      evaluator: text, evaluator_version: text, target: text, target_kind: text, trace_id: textNull, span_id: textNull,
      conversation_id: textNull, status: col('text', false, true), not_before: time, attempts: col('integer', false, true),
      lease_owner: textNull, lease_until: timeNull, last_error: textNull, verdict_id: textNull,
      created_at: col('timestamp with time zone', false, true), finished_at: timeNull,
    },
    'verdict.judge_usage': {
      evaluator: text, period: text, window_start: time, calls: col('bigint', false, true), tokens: col('bigint', false, true),
    },
  },
  views: {
    'verdict.spans': {
      ...SPAN_CORE, resource_attributes: json, resource_schema_url: textNull, service_version: textNull,
      input_text: textNull, output_text: textNull, duration_ns: int8, events: json, links: json,
      dropped_attributes_count: int8, dropped_events_count: int8, dropped_links_count: int8,
    },
    'verdict.logs': { ...LOG_CORE, resource_attributes: json, resource_schema_url: textNull },
    'verdict.traces': {
      trace_id: text, root_span_id: text, root_name: text, service_name: textNull, start_time: time, end_time: time,
      duration_ms: float, span_count: int8, error_count: int8, input_tokens: numNull, output_tokens: numNull,
      conversation_id: textNull, service_version: textNull, agent_name: textNull, model: textNull, has_root: bool, ...VERDICT_COUNTS,
      user_id: textNull, input_text: textNull, output_text: textNull,
    },
    'verdict.trace_evaluations': {
      id: text, trace_id: textNull, span_id: textNull, response_id: textNull, conversation_id: textNull, name: text,
      score_value: floatNull, score_label: textNull, explanation: textNull, error_type: textNull, time, channel: text,
      source: textNull, polarity: textNull, evaluator_service_name: textNull, attributes: json, span_name: textNull,
      service_name: textNull, gen_ai_operation_name: textNull, gen_ai_request_model: textNull, gen_ai_response_model: textNull,
      gen_ai_agent_name: textNull, target: text, service_version: textNull, correction: textNull,
    },
    'verdict.conversations': {
      conversation_id: text, trace_count: int8, trace_ids: col('ARRAY'), start_time: timeNull, end_time: timeNull,
      duration_ms: floatNull, span_count: int8, error_count: int8, input_tokens: numNull, output_tokens: numNull,
      ...VERDICT_COUNTS, last_activity: timeNull, user_id: textNull,
    },
    'verdict.partitions': { parent: text, partition: text, day: col('date') },
    ...LOOP_VIEWS,
  },
} as const;

/** What a column of each kind reads as. */
interface Reads {
  text: string;
  integer: number;
  smallint: number;
  bigint: number | bigint;
  'double precision': number;
  boolean: boolean;
  'timestamp with time zone': Date;
  jsonb: unknown;
  ARRAY: unknown[];
  date: Date;
  numeric: string;
}

type Read<C> = C extends { kind: infer K extends keyof Reads; nullable: infer N } ? (N extends true ? Reads[K] | null : Reads[K]) : never;
/** Insert and update types: what the database accepts for the kind (bigints as numbers, bigints or strings; times as Dates or strings). */
type Write<C> = C extends { kind: 'bigint' } ? number | bigint | string | (C extends { nullable: true } ? null : never)
  : C extends { kind: 'timestamp with time zone' } ? Date | string | (C extends { nullable: true } ? null : never)
  : C extends { kind: 'jsonb' } ? string | (C extends { nullable: true } ? null : never)
  : Read<C>;
type Insert<C> = C extends { defaulted: true } ? Write<C> | undefined : C extends { nullable: true } ? Write<C> | undefined : Write<C>;

type TableOf<T> = { [K in keyof T]: ColumnType<Read<T[K]>, Insert<T[K]>, Write<T[K]>> };
type ViewOf<T> = { [K in keyof T]: ColumnType<Read<T[K]>, never, never> };

type Tables = (typeof SCHEMA)['tables'];
type Views = (typeof SCHEMA)['views'];

/** Kysely's database type: every table and view of the contract. */
export type Database = { [K in keyof Tables]: TableOf<Tables[K]> } & { [K in keyof Views]: ViewOf<Views[K]> };
