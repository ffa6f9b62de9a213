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
import { HOURS, latencyRollups, MINUTES, spanRollups, traceDeltas } from './summaries.ts';

/** Temp tables that collect a transaction's changes to shared rows until flushRollups. */
export const DELTA_DDL = `
CREATE TEMP TABLE IF NOT EXISTS verdict_run_deltas (
  minute timestamptz, service_name text, service_version text, runs bigint, runs_with_error bigint, runs_with_verdict bigint,
  runs_with_user_verdict bigint, runs_with_indirect_verdict bigint, runs_with_llm_judge_verdict bigint,
  runs_with_rule_verdict bigint, runs_with_reviewer_verdict bigint, runs_with_human_verdict bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS verdict_verdict_deltas (
  minute timestamptz, name text, label text, source text, polarity text, service_name text, service_version text,
  model text, agent text, verdicts bigint, score_sum double precision, scored bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS verdict_conversation_deltas (
  conversation_id text, start_time timestamptz, end_time timestamptz, trace_count bigint,
  run_verdicts bigint, run_positive_verdicts bigint, run_negative_verdicts bigint, run_neutral_verdicts bigint, run_user_verdicts bigint,
  run_indirect_verdicts bigint, run_llm_judge_verdicts bigint, run_rule_verdicts bigint, run_reviewer_verdicts bigint, run_verdicts_by_source jsonb,
  thread_verdicts bigint, thread_positive_verdicts bigint, thread_negative_verdicts bigint, thread_neutral_verdicts bigint, thread_user_verdicts bigint,
  thread_indirect_verdicts bigint, thread_llm_judge_verdicts bigint, thread_rule_verdicts bigint, thread_reviewer_verdicts bigint,
  thread_verdicts_by_source jsonb) ON COMMIT DELETE ROWS;`;

/** A run's verdict counters, in the order of the run_* and thread_* columns. */
const COUNTER_COLUMNS = [
  'verdicts', 'positive_verdicts', 'negative_verdicts', 'neutral_verdicts', 'user_verdicts', 'indirect_verdicts',
  'llm_judge_verdicts', 'rule_verdicts', 'reviewer_verdicts',
];

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
const rootField = (c: string) => `${c} = CASE WHEN ${BETTER_ROOT} THEN EXCLUDED.${c} ELSE t.${c} END`;
/** The model of the model call that ended last (ties: the greater name), as summaries.ts does. */
const LATER_MODEL = `(EXCLUDED.model IS NOT NULL AND (t.model IS NULL OR (EXCLUDED.model_end_time_unix_nano, EXCLUDED.model COLLATE "C")
  > (t.model_end_time_unix_nano, t.model COLLATE "C")))`;

const TRACE_SQL = `
WITH d AS (
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bool[], $9::bigint[],
    $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[], $16::numeric[], $17::numeric[], $18::numeric[], $19::numeric[], $20::text[])
    AS d(trace_id, spans, errors, start_ns, end_ns, root_span_id, root_name, root_is_root, root_start_ns, service_name, service_version,
         agent_name, conversation_id, model, model_end_ns, leaf_in, leaf_out, agg_in, agg_out, user_id)
),
up AS (
  INSERT INTO verdict.trace_summary AS t (
    trace_id, span_count, error_count, start_time_unix_nano, end_time_unix_nano, start_time, end_time,
    root_span_id, root_name, root_is_root, root_start_time, root_start_time_unix_nano, service_name, service_version, agent_name,
    conversation_id, model, model_end_time_unix_nano, leaf_input_tokens, leaf_output_tokens, aggregate_input_tokens, aggregate_output_tokens,
    user_id)
  SELECT trace_id, spans, errors, start_ns, end_ns, ${NS_TO_TIME('start_ns')}, ${NS_TO_TIME('end_ns')},
    root_span_id, root_name, root_is_root, ${NS_TO_TIME('root_start_ns')}, root_start_ns, service_name, service_version, agent_name,
    conversation_id, model, model_end_ns, leaf_in, leaf_out, agg_in, agg_out, user_id
  FROM d ORDER BY trace_id
  ON CONFLICT (trace_id) DO UPDATE SET
    ${REMEMBER},
    span_count = t.span_count + EXCLUDED.span_count,
    error_count = t.error_count + EXCLUDED.error_count,
    start_time_unix_nano = LEAST(t.start_time_unix_nano, EXCLUDED.start_time_unix_nano),
    end_time_unix_nano = GREATEST(t.end_time_unix_nano, EXCLUDED.end_time_unix_nano),
    start_time = LEAST(t.start_time, EXCLUDED.start_time),
    end_time = GREATEST(t.end_time, EXCLUDED.end_time),
    ${['root_span_id', 'root_name', 'root_is_root', 'root_start_time', 'root_start_time_unix_nano', 'service_name', 'service_version', 'agent_name'].map(rootField).join(',\n    ')},
    conversation_id = GREATEST(t.conversation_id COLLATE "C", EXCLUDED.conversation_id COLLATE "C"),
    user_id = GREATEST(t.user_id COLLATE "C", EXCLUDED.user_id COLLATE "C"),
    model = CASE WHEN ${LATER_MODEL} THEN EXCLUDED.model ELSE t.model END,
    model_end_time_unix_nano = CASE WHEN ${LATER_MODEL} THEN EXCLUDED.model_end_time_unix_nano ELSE t.model_end_time_unix_nano END,
    leaf_input_tokens = verdict.nsum(t.leaf_input_tokens, EXCLUDED.leaf_input_tokens),
    leaf_output_tokens = verdict.nsum(t.leaf_output_tokens, EXCLUDED.leaf_output_tokens),
    aggregate_input_tokens = verdict.nsum(t.aggregate_input_tokens, EXCLUDED.aggregate_input_tokens),
    aggregate_output_tokens = verdict.nsum(t.aggregate_output_tokens, EXCLUDED.aggregate_output_tokens)
  RETURNING ${RUN_FIELDS}
),
${runMoves('up')},
no_verdicts AS (
  SELECT NULL::text AS trace_id, ${COUNTER_COLUMNS.map((c) => `0::bigint AS d_${c}`).join(', ')}, '{}'::jsonb AS d_by_source WHERE false
),
${conversationMoves('up', 'no_verdicts')}
-- Runs already judged whose root is now one of these spans: their verdicts' layers may change (layer-sql.ts).
SELECT COALESCE(array_agg(u.trace_id) FILTER (WHERE u.verdicts > 0 AND u.root_span_id = d.root_span_id), '{}') AS rerooted
FROM up u JOIN d USING (trace_id)`;

const big = (n: bigint | number | null) => (n === null ? null : typeof n === 'bigint' ? n.toString() : BigInt(Math.round(n)).toString());

/**
 * Merges the facts of newly inserted spans into verdict.trace_summary (and
 * queues run and conversation changes); returns the runs that had verdicts
 * before and whose root is now one of these spans.
 */
export async function mergeRuns(s: Session, facts: readonly SpanFact[]): Promise<string[]> {
  const deltas = traceDeltas(facts);
  if (deltas.length === 0) return [];
  const col = <T>(f: (d: (typeof deltas)[number]) => T) => deltas.map(f);
  const [r] = await s.rows<{ rerooted: string[] }>(TRACE_SQL, [
    col((d) => d.traceId), col((d) => d.spans), col((d) => d.errors), col((d) => big(d.startNs)), col((d) => big(d.endNs)),
    col((d) => d.rootSpanId), col((d) => d.rootName), col((d) => d.rootIsRoot), col((d) => big(d.rootStartNs)),
    col((d) => d.serviceName), col((d) => d.serviceVersion), col((d) => d.agentName), col((d) => d.conversationId), col((d) => d.model),
    col((d) => big(d.modelEndNs)), col((d) => big(d.leafInputTokens)), col((d) => big(d.leafOutputTokens)),
    col((d) => big(d.aggregateInputTokens)), col((d) => big(d.aggregateOutputTokens)), col((d) => d.userId),
  ]);
  return r?.rerooted ?? [];
}

/**
 * Given a CTE `v` of newly counted verdict rows (target_trace_id, source,
 * polarity), CTEs that add them to their runs' counters (creating a
 * placeholder run for a trace that has not arrived) and queue the runs'
 * rollup moves.
 */
export const countVerdictsOnRuns = (v: string) => `
verdicts_by_run AS (
  SELECT target_trace_id AS trace_id, count(*) AS d_verdicts, ${COUNTER_NAMES.map((c, i) => `${COUNTER_EXPRS[i]} AS d_${c}`).join(', ')},
    ${BY_SOURCE} AS d_by_source
  FROM ${v} WHERE target_trace_id IS NOT NULL GROUP BY 1
),
runs_counted AS (
  INSERT INTO verdict.trace_summary AS t (
    trace_id, verdicts, positive_verdicts, negative_verdicts, neutral_verdicts, user_verdicts, indirect_verdicts,
    llm_judge_verdicts, rule_verdicts, reviewer_verdicts, verdicts_by_source)
  SELECT trace_id, d_verdicts, ${COUNTER_NAMES.map((c) => `d_${c}`).join(', ')}, d_by_source
  FROM verdicts_by_run ORDER BY trace_id
  ON CONFLICT (trace_id) DO UPDATE SET
    ${REMEMBER},
    verdicts = t.verdicts + EXCLUDED.verdicts,
    ${COUNTER_NAMES.map((c) => `${c} = t.${c} + EXCLUDED.${c}`).join(', ')},
    verdicts_by_source = verdict.add_counts(t.verdicts_by_source, EXCLUDED.verdicts_by_source)
  RETURNING ${RUN_FIELDS}
),
${runMoves('runs_counted')},
${conversationMoves('runs_counted', 'verdicts_by_run')}`;

const COUNTER_NAMES = [
  'positive_verdicts', 'negative_verdicts', 'neutral_verdicts', 'user_verdicts', 'indirect_verdicts', 'llm_judge_verdicts', 'rule_verdicts', 'reviewer_verdicts',
];
/** COUNTER_NAMES' aggregates over a group of verdict rows. */
const COUNTER_EXPRS = [
  "count(*) FILTER (WHERE polarity = 'positive')", "count(*) FILTER (WHERE polarity = 'negative')", "count(*) FILTER (WHERE polarity = 'neutral')",
  "count(*) FILTER (WHERE source = 'user')", "count(*) FILTER (WHERE source = 'indirect')", "count(*) FILTER (WHERE source = 'llm_judge')",
  "count(*) FILTER (WHERE source = 'rule')", "count(*) FILTER (WHERE source = 'reviewer')",
];
/** The counters in COUNTER_NAMES order, over a group of verdict rows. */
export const COUNTERS = COUNTER_EXPRS.join(', ');
/** {"source": {"polarity": n}} over a group of verdict rows (NULL as "unknown"). */
export const BY_SOURCE = `verdict.sum_counts(jsonb_build_object(COALESCE(source, 'unknown'), jsonb_build_object(COALESCE(polarity, 'unknown'), 1)))`;

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

/** The upsert of span rollup increments into the minute table, or (by tool too) the hourly one. */
const spanRollupSql = (table: string, at: string, byTool: boolean) => `
INSERT INTO ${table} AS r (${at}, service_name, service_version, operation, model, agent${byTool ? ', tool' : ''}, spans, roots, errors, input_tokens, output_tokens, duration_ns)
SELECT to_timestamp(t), sn, sv, op, mo, ag${byTool ? ', tl' : ''}, n, ro, er, it, ot, du
FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[], $12::numeric[], $13::float8[])
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
const latencyRollupSql = (table: string, at: string, byTool: boolean) => `
INSERT INTO ${table} AS r (${at}, service_name, operation${byTool ? ', tool' : ''}, spans, buckets, counts)
SELECT to_timestamp(g.t), g.sn, g.op${byTool ? ', g.tl' : ''}, g.n, h.buckets, h.counts
FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS g(t, sn, op, tl, n, i)
JOIN (
  SELECT i, array_agg(b ORDER BY b) AS buckets, array_agg(c ORDER BY b) AS counts
  FROM unnest($6::int[], $7::smallint[], $8::int[]) AS e(i, b, c)
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

/** Each rollup grain with its two tables' upserts. */
const ROLLUPS = [
  { grain: MINUTES, spans: spanRollupSql('verdict.span_rollup', 'minute', false), latency: latencyRollupSql('verdict.latency_rollup', 'minute', false) },
  { grain: HOURS, spans: spanRollupSql('verdict.span_rollup_hourly', 'hour', true), latency: latencyRollupSql('verdict.latency_rollup_hourly', 'hour', true) },
];

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
 * The last statements of a write transaction: the span and latency rollups
 * (per minute and per hour) of the inserted spans, and the queued run,
 * verdict and conversation changes.
 */
export async function flushRollups(s: Session, facts: readonly SpanFact[], queued: boolean): Promise<void> {
  if (facts.length > 0) {
    for (const { grain, spans: spanSql, latency: latencySql } of ROLLUPS) {
      const spans = spanRollups(facts, grain);
      await s.rows(spanSql, [
        spans.map((r) => r.at), spans.map((r) => r.serviceName), spans.map((r) => r.serviceVersion), spans.map((r) => r.operation),
        spans.map((r) => r.model), spans.map((r) => r.agent), spans.map((r) => r.tool), spans.map((r) => r.spans), spans.map((r) => r.roots), spans.map((r) => r.errors),
        spans.map((r) => big(r.inputTokens)), spans.map((r) => big(r.outputTokens)), spans.map((r) => r.durationNs),
      ]);
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
      await s.rows(latencySql, [
        latency.map((r) => r.at), latency.map((r) => r.serviceName), latency.map((r) => r.operation), latency.map((r) => r.tool), latency.map((r) => r.spans),
        entryRow, entryBucket, entryCount,
      ]);
    }
  }
  if (!queued) return;
  await s.exec(RUN_FLUSH_SQL);
  await s.exec(VERDICT_FLUSH_SQL);
  await s.exec(LAYER_FLUSH_SQL);
  await s.exec(CONVERSATION_FLUSH_SQL);
}
