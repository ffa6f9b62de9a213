/**
 * The SQL that keeps the run and conversation summaries and the per-minute
 * rollups, inside the write transaction, from rows that transaction really
 * inserted (so a re-sent span or verdict never counts twice).
 *
 * Two rules keep it right with several writers: every merge is order-free
 * (sums, least, greatest, the better root), and the rollup rows every writer
 * shares are touched last, by `flushRollups`, in key order, so their locks
 * are held only until the commit that follows and never taken in crossing
 * orders. Until then, changes wait in session temp tables
 * (verdict_*_deltas, created with the staging tables in write-plan.ts).
 */
import type { SpanFact } from '../model/rows.ts';
import type { Session } from './driver.ts';
import { LAYER_FLUSH_SQL } from './layer-sql.ts';
import { HOURS, latencyRollups, MINUTES, spanRollups, traceDeltas, type Grain } from './summaries.ts';

/** A run's verdict counters, in the order of the run_* and thread_* columns. */
const COUNTER_COLUMNS = [
  'verdicts', 'positive_verdicts', 'negative_verdicts', 'neutral_verdicts', 'user_verdicts', 'indirect_verdicts',
  'llm_judge_verdicts', 'rule_verdicts', 'reviewer_verdicts',
];

/** Temp tables that collect a transaction's changes to shared rows until flushRollups, and the verdict counts queued for the run merge. */
export const DELTA_DDL = `
CREATE TEMP TABLE IF NOT EXISTS verdict_run_deltas (
  minute timestamptz, service_name text, service_version text, runs bigint, runs_with_error bigint, runs_with_verdict bigint,
  runs_with_user_verdict bigint, runs_with_indirect_verdict bigint, runs_with_llm_judge_verdict bigint,
  runs_with_rule_verdict bigint, runs_with_reviewer_verdict bigint, runs_with_human_verdict bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS verdict_verdict_deltas (
  minute timestamptz, name text, label text, source text, polarity text, service_name text, service_version text,
  model text, agent text, verdicts bigint, score_sum double precision, scored bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS verdict_count_deltas (
  trace_id text, ${COUNTER_COLUMNS.map((c) => `d_${c} bigint`).join(', ')}, d_by_source jsonb) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS verdict_conversation_deltas (
  conversation_id text, start_time timestamptz, end_time timestamptz, trace_count bigint,
  run_verdicts bigint, run_positive_verdicts bigint, run_negative_verdicts bigint, run_neutral_verdicts bigint, run_user_verdicts bigint,
  run_indirect_verdicts bigint, run_llm_judge_verdicts bigint, run_rule_verdicts bigint, run_reviewer_verdicts bigint, run_verdicts_by_source jsonb,
  thread_verdicts bigint, thread_positive_verdicts bigint, thread_negative_verdicts bigint, thread_neutral_verdicts bigint, thread_user_verdicts bigint,
  thread_indirect_verdicts bigint, thread_llm_judge_verdicts bigint, thread_rule_verdicts bigint, thread_reviewer_verdicts bigint,
  thread_verdicts_by_source jsonb) ON COMMIT DELETE ROWS;`;

const NS_TO_TIME = (ns: string) => `('epoch'::timestamptz + (${ns} / 1000) * interval '1 microsecond')`;

/**
 * Given a CTE `up` holding RETURNING rows of a trace_summary upsert (see
 * RUN_FIELDS), CTEs that record how each run moved between run_rollup
 * buckets: out of the one it was counted in (prev_*), into its new one.
 */
const RUN_FIELDS = `trace_id, root_span_id, prev_counted, prev_minute, prev_service_name, prev_service_version, prev_flags, prev_conversation_id,
  span_count, date_trunc('minute', start_time) AS minute, service_name, service_version, verdict.run_flags(t) AS flags,
  conversation_id, start_time, end_time, ${COUNTER_COLUMNS.join(', ')}, verdicts_by_source`;

const UNCHANGED = `prev_counted IS TRUE AND span_count > 0 AND prev_minute = minute
  AND prev_service_name IS NOT DISTINCT FROM service_name AND prev_service_version IS NOT DISTINCT FROM service_version AND prev_flags = flags`;

const flagSums = (sign: string, flags: string) =>
  [0, 1, 2, 3, 4, 5, 6, 7].map((bit) => `${sign} * ((${flags} >> ${bit}) & 1)`).join(', ');

const runMoves = (up: string) => `
run_moves AS (
  INSERT INTO verdict_run_deltas
  SELECT minute, service_name, service_version, 1, ${flagSums('1', 'flags')} FROM ${up} WHERE span_count > 0 AND NOT (${UNCHANGED})
  UNION ALL
  SELECT prev_minute, prev_service_name, prev_service_version, -1, ${flagSums('-1', 'prev_flags')} FROM ${up} WHERE prev_counted IS TRUE AND NOT (${UNCHANGED})
)`;

/**
 * Given `up` as above and a CTE `delta` (trace_id and this statement's
 * change to each verdict counter, as d_* columns and d_by_source), the CTE
 * that moves a run's share of its conversation: all of it into the
 * conversation it joins (or when it becomes a run), all it had out of the
 * one it leaves, and just the change when it stays.
 */
const conversationMoves = (up: string, delta: string) => `
conversation_moves AS (
  INSERT INTO verdict_conversation_deltas (conversation_id, start_time, end_time, trace_count,
    ${COUNTER_COLUMNS.map((c) => `run_${c}`).join(', ')}, run_verdicts_by_source)
  SELECT conversation_id, start_time, end_time, 1, ${COUNTER_COLUMNS.join(', ')}, verdicts_by_source
  FROM ${up}
  WHERE conversation_id IS NOT NULL AND span_count > 0 AND (prev_counted IS NOT TRUE OR prev_conversation_id IS DISTINCT FROM conversation_id)
  UNION ALL
  SELECT u.prev_conversation_id, NULL, NULL, -1, ${COUNTER_COLUMNS.map((c) => `-(u.${c} - COALESCE(d.d_${c}, 0))`).join(', ')},
    verdict.neg_counts(verdict.add_counts(u.verdicts_by_source, verdict.neg_counts(d.d_by_source)))
  FROM ${up} u LEFT JOIN ${delta} d ON d.trace_id = u.trace_id
  WHERE u.prev_counted IS TRUE AND u.prev_conversation_id IS NOT NULL AND (u.span_count <= 0 OR u.prev_conversation_id IS DISTINCT FROM u.conversation_id)
  UNION ALL
  SELECT u.conversation_id, u.start_time, u.end_time, 0, ${COUNTER_COLUMNS.map((c) => `COALESCE(d.d_${c}, 0)`).join(', ')}, COALESCE(d.d_by_source, '{}')
  FROM ${up} u LEFT JOIN ${delta} d ON d.trace_id = u.trace_id
  WHERE u.prev_counted IS TRUE AND u.span_count > 0 AND u.conversation_id IS NOT NULL AND u.prev_conversation_id IS NOT DISTINCT FROM u.conversation_id
)`;

/** Remembers what a run said before this update, for run_moves and conversation_moves. */
const REMEMBER = `prev_counted = t.span_count > 0,
    prev_minute = date_trunc('minute', t.start_time),
    prev_service_name = t.service_name,
    prev_service_version = t.service_version,
    prev_flags = verdict.run_flags(t),
    prev_conversation_id = t.conversation_id`;

/** The better root wins: a span without a parent, then the earlier start, then the smaller span ID (as summaries.ts betterRoot). */
const BETTER_ROOT = `(t.root_span_id IS NULL OR (NOT EXCLUDED.root_is_root, EXCLUDED.root_start_time_unix_nano, EXCLUDED.root_span_id COLLATE "C")
  < (NOT t.root_is_root, t.root_start_time_unix_nano, t.root_span_id COLLATE "C"))`;
/** The root's columns, each the better root's. */
const ROOT_VALUES: Record<string, string> = Object.fromEntries(
  ['root_span_id', 'root_name', 'root_is_root', 'root_start_time', 'root_start_time_unix_nano', 'service_name', 'service_version', 'agent_name',
    'root_input_text', 'root_output_text'].map((c) => [c, `CASE WHEN ${BETTER_ROOT} THEN EXCLUDED.${c} ELSE t.${c} END`]),
);

/** `col = expression, …` */
const assign = (values: Record<string, string>) => Object.entries(values).map(([c, e]) => `${c} = ${e}`).join(',\n    ');
/** The model of the model call that ended last (ties: the greater name), as summaries.ts does. */
const LATER_MODEL = `(EXCLUDED.model IS NOT NULL AND (t.model IS NULL OR (EXCLUDED.model_end_time_unix_nano, EXCLUDED.model COLLATE "C")
  > (t.model_end_time_unix_nano, t.model COLLATE "C")))`;

/** The run's text candidates (see sql/0012_run_text_in_summary.sql), in the order mergeRuns passes them. */
const TEXT_COLUMNS = [
  'root_input_text', 'root_output_text', 'first_input_time_unix_nano', 'first_input_span_id', 'first_input_text',
  'last_output_time_unix_nano', 'last_output_span_id', 'last_output_text',
];

/**
 * The new values of a run's first input and last output candidates, merged
 * with those of `x` (EXCLUDED, or a row of span text changes): the earlier
 * input (start, then span ID), the later output (end, then span ID). A
 * candidate equal to the stored one (the same span, offered again once log
 * records have given it content) replaces it, since its text may have grown.
 */
export function textValues(x: string): Record<string, string> {
  const earlier = `(${x}.first_input_time_unix_nano IS NOT NULL AND (t.first_input_time_unix_nano IS NULL
    OR (${x}.first_input_time_unix_nano, ${x}.first_input_span_id COLLATE "C") <= (t.first_input_time_unix_nano, t.first_input_span_id COLLATE "C")))`;
  const later = `(${x}.last_output_time_unix_nano IS NOT NULL AND (t.last_output_time_unix_nano IS NULL
    OR (${x}.last_output_time_unix_nano, ${x}.last_output_span_id COLLATE "C") >= (t.last_output_time_unix_nano, t.last_output_span_id COLLATE "C")))`;
  return Object.fromEntries([
    ...['first_input_time_unix_nano', 'first_input_span_id', 'first_input_text'].map((c) => [c, `CASE WHEN ${earlier} THEN ${x}.${c} ELSE t.${c} END`]),
    ...['last_output_time_unix_nano', 'last_output_span_id', 'last_output_text'].map((c) => [c, `CASE WHEN ${later} THEN ${x}.${c} ELSE t.${c} END`]),
  ]);
}

/** A task's id: its agent (else service) and its normalised text, as verdict.run_task has it. */
const TASK_ID = (owner: string, task: string) => `md5(${owner} || E'\\x1f' || ${task})`;

/**
 * `task` and `task_id` of a run's summary row, from the row's new values
 * (`updated` maps the columns an upsert changes to their expressions; the
 * others keep `t.`'s), in every statement that changes what they depend on:
 * set while the run is judged (a positive or a negative verdict), as
 * verdict.run_task defines them; left as they are otherwise.
 */
export function taskAssign(updated: Record<string, string>): string {
  const v = (c: string) => updated[c] ?? `t.${c}`;
  const judged = `(${v('span_count')} > 0 AND (${v('positive_verdicts')} > 0 OR ${v('negative_verdicts')} > 0))`;
  // A sub-select whose subquery OFFSET 0 keeps whole, so that the text is normalised once for both
  // columns: pulled up, x.task would be replaced by its expression in each.
  return `(task, task_id) = (
      SELECT CASE WHEN x.judged THEN x.task ELSE t.task END,
        CASE WHEN x.judged THEN ${TASK_ID(`COALESCE(${v('agent_name')}, ${v('service_name')}, '')`, 'x.task')} ELSE t.task_id END
      FROM (SELECT j.judged, CASE WHEN j.judged THEN verdict.normalise_task(COALESCE(${v('root_input_text')}, ${v('first_input_text')})) END AS task
            FROM (SELECT ${judged} AS judged) j OFFSET 0) x)`;
}

const COUNTER_VALUES: Record<string, string> = Object.fromEntries(COUNTER_COLUMNS.map((c) => [c, `t.${c} + EXCLUDED.${c}`]));
/** The aggregates of COUNTER_COLUMNS after the total (`count(*)`), in their order, over a group of verdict rows. */
const COUNTER_EXPRS = [
  "count(*) FILTER (WHERE polarity = 'positive')", "count(*) FILTER (WHERE polarity = 'negative')", "count(*) FILTER (WHERE polarity = 'neutral')",
  "count(*) FILTER (WHERE source = 'user')", "count(*) FILTER (WHERE source = 'indirect')", "count(*) FILTER (WHERE source = 'llm_judge')",
  "count(*) FILTER (WHERE source = 'rule')", "count(*) FILTER (WHERE source = 'reviewer')",
];
/** The counters after the total, in COUNTER_COLUMNS order, over a group of verdict rows. */
export const COUNTERS = COUNTER_EXPRS.join(', ');
/** {"source": {"polarity": n}} over a group of verdict rows (NULL as "unknown"). */
export const BY_SOURCE = `verdict.sum_counts(jsonb_build_object(COALESCE(source, 'unknown'), jsonb_build_object(COALESCE(polarity, 'unknown'), 1)))`;

/** What the run merge sets: the span facts' merge, and this write's verdict counts added. */
const TRACE_VALUES: Record<string, string> = {
  span_count: 't.span_count + EXCLUDED.span_count', ...ROOT_VALUES, ...textValues('EXCLUDED'), ...COUNTER_VALUES,
};

/** The batch's span facts per run, in the order mergeRuns passes them (after trace_id). */
const SPAN_DELTA_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['spans', 'bigint'], ['errors', 'bigint'], ['start_ns', 'bigint'], ['end_ns', 'bigint'], ['root_span_id', 'text'], ['root_name', 'text'],
  ['root_is_root', 'bool'], ['root_start_ns', 'bigint'], ['service_name', 'text'], ['service_version', 'text'], ['agent_name', 'text'],
  ['conversation_id', 'text'], ['model', 'text'], ['model_end_ns', 'bigint'], ['leaf_in', 'numeric'], ['leaf_out', 'numeric'], ['agg_in', 'numeric'],
  ['agg_out', 'numeric'], ['user_id', 'text'], ['root_in_text', 'text'], ['root_out_text', 'text'], ['first_in_ns', 'bigint'], ['first_in_span', 'text'],
  ['first_in_text', 'text'], ['last_out_ns', 'bigint'], ['last_out_span', 'text'], ['last_out_text', 'text'],
];
const DELTA_COUNTERS = COUNTER_COLUMNS.map((c) => `d_${c}`);

/**
 * The run merge: each run of the batch's spans (the parameters) or of the
 * verdict counts queued since the last merge (verdict_count_deltas, one row
 * a run, queued by verdict-sql.ts and taken out here) is written once, its
 * span facts merged and its verdict counts added in the same upsert, since a
 * second write of the row (a new version and an entry in each of its
 * indexes) cost as much as the first. A run that is new and judged gets its
 * task on insert; one that exists, from its new values.
 */
const TRACE_SQL = `
WITH c AS (
  DELETE FROM verdict_count_deltas RETURNING *
),
b AS (
  SELECT * FROM unnest($1::text[], ${SPAN_DELTA_COLUMNS.map(([, type], i) => `$${i + 2}::${type}[]`).join(', ')})
    AS b(trace_id, ${SPAN_DELTA_COLUMNS.map(([c]) => c).join(', ')})
),
d AS (
  SELECT COALESCE(b.trace_id, c.trace_id) AS trace_id, COALESCE(b.spans, 0) AS spans, COALESCE(b.errors, 0) AS errors,
    ${SPAN_DELTA_COLUMNS.slice(2).map(([col]) => (col === 'root_is_root' ? 'COALESCE(b.root_is_root, false) AS root_is_root' : `b.${col}`)).join(', ')},
    ${DELTA_COUNTERS.map((c) => `COALESCE(c.${c}, 0) AS ${c}`).join(', ')}, COALESCE(c.d_by_source, '{}') AS d_by_source
  FROM b FULL JOIN c ON c.trace_id = b.trace_id
),
-- A run judged at its first write gets its task as verdict.run_task defines it (taskAssign below for the others).
-- MATERIALIZED: inlined, the task's expression would be copied into task_id's and the text normalised twice.
n AS MATERIALIZED (
  SELECT d.*, CASE WHEN d.spans > 0 AND (d.d_positive_verdicts > 0 OR d.d_negative_verdicts > 0)
    THEN verdict.normalise_task(COALESCE(d.root_in_text, d.first_in_text)) END AS task
  FROM d
),
up AS (
  INSERT INTO verdict.trace_summary AS t (
    trace_id, span_count, error_count, start_time_unix_nano, end_time_unix_nano, start_time, end_time,
    root_span_id, root_name, root_is_root, root_start_time, root_start_time_unix_nano, service_name, service_version, agent_name,
    conversation_id, model, model_end_time_unix_nano, leaf_input_tokens, leaf_output_tokens, aggregate_input_tokens, aggregate_output_tokens,
    user_id, ${TEXT_COLUMNS.join(', ')}, ${COUNTER_COLUMNS.join(', ')}, verdicts_by_source, task, task_id)
  SELECT trace_id, spans, errors, start_ns, end_ns, ${NS_TO_TIME('start_ns')}, ${NS_TO_TIME('end_ns')},
    root_span_id, root_name, root_is_root, ${NS_TO_TIME('root_start_ns')}, root_start_ns, service_name, service_version, agent_name,
    conversation_id, model, model_end_ns, leaf_in, leaf_out, agg_in, agg_out, user_id,
    root_in_text, root_out_text, first_in_ns, first_in_span, first_in_text, last_out_ns, last_out_span, last_out_text,
    ${DELTA_COUNTERS.join(', ')}, d_by_source, task, ${TASK_ID('COALESCE(agent_name, service_name, \'\')', 'task')}
  FROM n ORDER BY trace_id
  ON CONFLICT (trace_id) DO UPDATE SET
    ${REMEMBER},
    error_count = t.error_count + EXCLUDED.error_count,
    start_time_unix_nano = LEAST(t.start_time_unix_nano, EXCLUDED.start_time_unix_nano),
    end_time_unix_nano = GREATEST(t.end_time_unix_nano, EXCLUDED.end_time_unix_nano),
    start_time = LEAST(t.start_time, EXCLUDED.start_time),
    end_time = GREATEST(t.end_time, EXCLUDED.end_time),
    ${assign(TRACE_VALUES)},
    ${taskAssign(TRACE_VALUES)},
    conversation_id = GREATEST(t.conversation_id COLLATE "C", EXCLUDED.conversation_id COLLATE "C"),
    user_id = GREATEST(t.user_id COLLATE "C", EXCLUDED.user_id COLLATE "C"),
    model = CASE WHEN ${LATER_MODEL} THEN EXCLUDED.model ELSE t.model END,
    model_end_time_unix_nano = CASE WHEN ${LATER_MODEL} THEN EXCLUDED.model_end_time_unix_nano ELSE t.model_end_time_unix_nano END,
    leaf_input_tokens = verdict.nsum(t.leaf_input_tokens, EXCLUDED.leaf_input_tokens),
    leaf_output_tokens = verdict.nsum(t.leaf_output_tokens, EXCLUDED.leaf_output_tokens),
    aggregate_input_tokens = verdict.nsum(t.aggregate_input_tokens, EXCLUDED.aggregate_input_tokens),
    aggregate_output_tokens = verdict.nsum(t.aggregate_output_tokens, EXCLUDED.aggregate_output_tokens),
    verdicts_by_source = verdict.add_counts(t.verdicts_by_source, EXCLUDED.verdicts_by_source)
  RETURNING ${RUN_FIELDS}
),
${runMoves('up')},
${conversationMoves('up', 'c')}
-- Runs judged before this write whose root is now one of these spans: their verdicts' layers may change (layer-sql.ts).
SELECT COALESCE(array_agg(u.trace_id) FILTER (WHERE u.verdicts - COALESCE(c.d_verdicts, 0) > 0 AND u.root_span_id = b.root_span_id), '{}') AS rerooted
FROM up u JOIN b USING (trace_id) LEFT JOIN c USING (trace_id)`;

const big = (n: bigint | number | null) => (n === null ? null : typeof n === 'bigint' ? n.toString() : BigInt(Math.round(n)).toString());

/**
 * Merges the facts of newly inserted spans, and the verdict counts queued
 * since the last merge (`counted`: some are), into verdict.trace_summary (and queues run and
 * conversation changes); returns the runs that had verdicts before these
 * counts and whose root is now one of these spans.
 */
export async function mergeRuns(s: Session, facts: readonly SpanFact[], counted: boolean): Promise<string[]> {
  const deltas = traceDeltas(facts);
  if (deltas.length === 0 && !counted) return [];
  const col = <T>(f: (d: (typeof deltas)[number]) => T) => deltas.map(f);
  const [r] = await s.rows<{ rerooted: string[] }>(TRACE_SQL, [
    col((d) => d.traceId), col((d) => d.spans), col((d) => d.errors), col((d) => big(d.startNs)), col((d) => big(d.endNs)),
    col((d) => d.rootSpanId), col((d) => d.rootName), col((d) => d.rootIsRoot), col((d) => big(d.rootStartNs)),
    col((d) => d.serviceName), col((d) => d.serviceVersion), col((d) => d.agentName), col((d) => d.conversationId), col((d) => d.model),
    col((d) => big(d.modelEndNs)), col((d) => big(d.leafInputTokens)), col((d) => big(d.leafOutputTokens)),
    col((d) => big(d.aggregateInputTokens)), col((d) => big(d.aggregateOutputTokens)), col((d) => d.userId),
    col((d) => d.rootInputText), col((d) => d.rootOutputText), col((d) => big(d.firstInputNs)), col((d) => d.firstInputSpanId), col((d) => d.firstInputText),
    col((d) => big(d.lastOutputNs)), col((d) => d.lastOutputSpanId), col((d) => d.lastOutputText),
  ]);
  return r?.rerooted ?? [];
}

/**
 * Given a CTE `v` of new verdict rows (target_trace_id, source, polarity),
 * the CTE `queued` that queues their counts per run for the run merge.
 */
export const queueVerdictCounts = (v: string) => `
queued AS (
  INSERT INTO verdict_count_deltas
  SELECT target_trace_id, count(*), ${COUNTERS}, ${BY_SOURCE}
  FROM ${v} WHERE target_trace_id IS NOT NULL GROUP BY 1
  RETURNING trace_id
)`;

/**
 * Given a CTE of verdict rows and a sign, a SELECT of their verdict_rollup
 * increments by minute and dimensions (the judged span's facts as stored on
 * the row).
 */
export const verdictRollupRows = (v: string, sign: string, dims: 'target' | 'unknown') => `
  SELECT date_trunc('minute', time), name, score_label, source, polarity,
    ${dims === 'target' ? 'target_service_name, target_service_version, COALESCE(target_response_model, target_request_model), target_agent_name' : 'NULL::text, NULL::text, NULL::text, NULL::text'},
    ${sign} * count(*), ${sign} * COALESCE(sum(score_value), 0), ${sign} * count(score_value)
  FROM ${v} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9`;

/** Parameter references $n+1 … for a statement's parameters that start after the first n, with their types. */
const params = (n: number, types: readonly string[]) => types.map((t, i) => `$${n + i + 1}::${t}[]`).join(', ');

const SPAN_ROLLUP_TYPES = ['float8', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'numeric', 'numeric', 'float8'];
const LATENCY_ROLLUP_TYPES = ['float8', 'text', 'text', 'text', 'bigint', 'int', 'smallint', 'int'];

/** The upsert of span rollup increments into the minute table, or (by tool too) the hourly one; its parameters come after the first `n`. */
const spanRollupSql = (table: string, at: string, byTool: boolean, n: number) => `
INSERT INTO ${table} AS r (${at}, service_name, service_version, operation, model, agent${byTool ? ', tool' : ''}, spans, roots, errors, input_tokens, output_tokens, duration_ns)
SELECT to_timestamp(t), sn, sv, op, mo, ag${byTool ? ', tl' : ''}, n, ro, er, it, ot, du
FROM unnest(${params(n, SPAN_ROLLUP_TYPES)})
  AS d(t, sn, sv, op, mo, ag, tl, n, ro, er, it, ot, du)
ON CONFLICT (${at}, service_name, service_version, operation, model, agent${byTool ? ', tool' : ''}) DO UPDATE SET
  spans = r.spans + EXCLUDED.spans, roots = r.roots + EXCLUDED.roots, errors = r.errors + EXCLUDED.errors,
  input_tokens = r.input_tokens + EXCLUDED.input_tokens, output_tokens = r.output_tokens + EXCLUDED.output_tokens,
  duration_ns = r.duration_ns + EXCLUDED.duration_ns`;

/**
 * The upsert of latency histograms. Each row's histogram arrives flattened
 * (the row's index, bucket and count per entry: arrays of arrays must be
 * rectangular); a row that exists gets the two histograms added bucket by bucket.
 */
const latencyRollupSql = (table: string, at: string, byTool: boolean, n: number) => `
INSERT INTO ${table} AS r (${at}, service_name, operation${byTool ? ', tool' : ''}, spans, buckets, counts)
SELECT to_timestamp(g.t), g.sn, g.op${byTool ? ', g.tl' : ''}, g.n, h.buckets, h.counts
FROM unnest(${params(n, LATENCY_ROLLUP_TYPES.slice(0, 5))}) WITH ORDINALITY AS g(t, sn, op, tl, n, i)
JOIN (
  SELECT i, array_agg(b ORDER BY b) AS buckets, array_agg(c ORDER BY b) AS counts
  FROM unnest(${params(n + 5, LATENCY_ROLLUP_TYPES.slice(5))}) AS e(i, b, c)
  GROUP BY i
) h ON h.i = g.i
ORDER BY g.i
ON CONFLICT (${at}, service_name, operation${byTool ? ', tool' : ''}) DO UPDATE SET
  spans = r.spans + EXCLUDED.spans,
  (buckets, counts) = (
    SELECT array_agg(b ORDER BY b), array_agg(c ORDER BY b)
    FROM (
      SELECT b, sum(c)::int AS c
      FROM unnest(r.buckets || EXCLUDED.buckets, r.counts || EXCLUDED.counts) AS u(b, c)
      GROUP BY b
    ) m
  )`;

const RUN_FLUSH_SQL = `
INSERT INTO verdict.run_rollup AS r
SELECT minute, service_name, service_version, sum(runs), sum(runs_with_error), sum(runs_with_verdict), sum(runs_with_user_verdict),
  sum(runs_with_indirect_verdict), sum(runs_with_llm_judge_verdict), sum(runs_with_rule_verdict), sum(runs_with_reviewer_verdict),
  sum(runs_with_human_verdict)
FROM verdict_run_deltas GROUP BY 1, 2, 3 ORDER BY minute, service_name COLLATE "C", service_version COLLATE "C"
ON CONFLICT (minute, service_name, service_version) DO UPDATE SET
  runs = r.runs + EXCLUDED.runs, runs_with_error = r.runs_with_error + EXCLUDED.runs_with_error,
  runs_with_verdict = r.runs_with_verdict + EXCLUDED.runs_with_verdict,
  runs_with_user_verdict = r.runs_with_user_verdict + EXCLUDED.runs_with_user_verdict,
  runs_with_indirect_verdict = r.runs_with_indirect_verdict + EXCLUDED.runs_with_indirect_verdict,
  runs_with_llm_judge_verdict = r.runs_with_llm_judge_verdict + EXCLUDED.runs_with_llm_judge_verdict,
  runs_with_rule_verdict = r.runs_with_rule_verdict + EXCLUDED.runs_with_rule_verdict,
  runs_with_reviewer_verdict = r.runs_with_reviewer_verdict + EXCLUDED.runs_with_reviewer_verdict,
  runs_with_human_verdict = r.runs_with_human_verdict + EXCLUDED.runs_with_human_verdict`;

const VERDICT_FLUSH_SQL = `
INSERT INTO verdict.verdict_rollup AS r (minute, name, label, source, polarity, service_name, service_version, model, agent, verdicts, score_sum, scored)
SELECT minute, name, label, source, polarity, service_name, service_version, model, agent, sum(verdicts), sum(score_sum), sum(scored)
FROM verdict_verdict_deltas GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
ORDER BY minute, name COLLATE "C", label COLLATE "C", source COLLATE "C", polarity COLLATE "C", service_name COLLATE "C",
  service_version COLLATE "C", model COLLATE "C", agent COLLATE "C"
ON CONFLICT (minute, name, label, source, polarity, service_name, service_version, model, agent) DO UPDATE SET
  verdicts = r.verdicts + EXCLUDED.verdicts, score_sum = r.score_sum + EXCLUDED.score_sum, scored = r.scored + EXCLUDED.scored`;

const CONVERSATION_SUMS = [
  'trace_count', ...COUNTER_COLUMNS.map((c) => `run_${c}`), ...COUNTER_COLUMNS.map((c) => `thread_${c}`),
];
const CONVERSATION_FLUSH_SQL = `
INSERT INTO verdict.conversation_summary AS c (conversation_id, start_time, end_time, ${CONVERSATION_SUMS.join(', ')}, run_verdicts_by_source, thread_verdicts_by_source)
SELECT conversation_id, min(start_time), max(end_time), ${CONVERSATION_SUMS.map((c) => `COALESCE(sum(${c}), 0)`).join(', ')},
  verdict.sum_counts(run_verdicts_by_source), verdict.sum_counts(thread_verdicts_by_source)
FROM verdict_conversation_deltas GROUP BY 1 ORDER BY conversation_id COLLATE "C"
ON CONFLICT (conversation_id) DO UPDATE SET
  start_time = LEAST(c.start_time, EXCLUDED.start_time), end_time = GREATEST(c.end_time, EXCLUDED.end_time),
  ${CONVERSATION_SUMS.map((x) => `${x} = c.${x} + EXCLUDED.${x}`).join(', ')},
  run_verdicts_by_source = verdict.add_counts(c.run_verdicts_by_source, EXCLUDED.run_verdicts_by_source),
  thread_verdicts_by_source = verdict.add_counts(c.thread_verdicts_by_source, EXCLUDED.thread_verdicts_by_source)`;

/**
 * The last statement of a write transaction: the span and latency rollups
 * (per minute and per hour, the rows grainParams gives) of the inserted
 * spans, and the queued run, verdict, layer and conversation changes. One
 * statement, so one round trip: every writer runs the same one, so the
 * shared rows are locked in the same order by all.
 */
const FLUSH_SQL = `
WITH span_minutes AS (${spanRollupSql('verdict.span_rollup', 'minute', false, 0)}),
latency_minutes AS (${latencyRollupSql('verdict.latency_rollup', 'minute', false, 13)}),
span_hours AS (${spanRollupSql('verdict.span_rollup_hourly', 'hour', true, 21)}),
latency_hours AS (${latencyRollupSql('verdict.latency_rollup_hourly', 'hour', true, 34)}),
runs AS (${RUN_FLUSH_SQL}),
verdicts AS (${VERDICT_FLUSH_SQL}),
layers AS (${LAYER_FLUSH_SQL}),
conversations AS (${CONVERSATION_FLUSH_SQL})
SELECT 1 AS done`;

/** The 21 parameters of one grain's two rollup upserts (13 for the spans, 8 for the latency histograms). */
function grainParams(facts: readonly SpanFact[], grain: Grain): unknown[] {
  const spans = spanRollups(facts, grain);
  const latency = latencyRollups(facts, grain);
  const entryRow: number[] = [];
  const entryBucket: number[] = [];
  const entryCount: number[] = [];
  latency.forEach((r, i) => {
    for (let k = 0; k < r.buckets.length; k++) {
      entryRow.push(i + 1);
      entryBucket.push(r.buckets[k] as number);
      entryCount.push(r.counts[k] as number);
    }
  });
  return [
    spans.map((r) => r.at), spans.map((r) => r.serviceName), spans.map((r) => r.serviceVersion), spans.map((r) => r.operation),
    spans.map((r) => r.model), spans.map((r) => r.agent), spans.map((r) => r.tool), spans.map((r) => r.spans), spans.map((r) => r.roots), spans.map((r) => r.errors),
    spans.map((r) => big(r.inputTokens)), spans.map((r) => big(r.outputTokens)), spans.map((r) => r.durationNs),
    latency.map((r) => r.at), latency.map((r) => r.serviceName), latency.map((r) => r.operation), latency.map((r) => r.tool), latency.map((r) => r.spans),
    entryRow, entryBucket, entryCount,
  ];
}

/** Flushes the rollups of the inserted spans (`facts`) and the queued changes (FLUSH_SQL). */
export async function flushRollups(s: Session, facts: readonly SpanFact[]): Promise<void> {
  await s.rows(FLUSH_SQL, [...grainParams(facts, MINUTES), ...grainParams(facts, HOURS)]);
}
