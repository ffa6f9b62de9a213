/**
 * Storing verdicts, and resolving each to what it judges.
 *
 * A verdict is stored once: its id is registered in verdict.evaluation_keys
 * (the partitioned verdict.evaluations can only be unique on (id, time)). It
 * is counted on its run and in the rollups as soon as it is stored, with what
 * is known of its target then. A verdict whose judged span is not known yet
 * (a log record that arrived before its span, a trace-level verdict before the
 * run's root, a completion verdict before the span with its response ID)
 * waits in verdict.pending_verdicts; when a later write stores spans of its
 * trace or with its response ID, it is resolved: the span's facts are stored
 * on the verdict, its rollup increment moves to the span's dimensions, and a
 * completion verdict is counted on its run. Either arrival order ends the same.
 */
import type { Session } from './driver.ts';
import { layerRollupRows } from './layer-sql.ts';
import { BY_SOURCE, COUNTERS, mergeRuns, queueVerdictCounts, verdictRollupRows } from './summary-sql.ts';
import { EVALUATIONS } from './tables.ts';

const STAGED = EVALUATIONS.staging;

/**
 * Registers the staged verdicts' ids and keeps in the staging table only the
 * verdicts that are new (one row per new id; of copies with the same time,
 * the first staged: a rule that fired twice on one message), and queues
 * their counts on their runs for the run merge (summary-sql.ts), which
 * writes each run's row once for its spans and its verdicts together.
 * Returns how many runs have counts queued.
 */
const KEYS_SQL = `
WITH keys AS (
  INSERT INTO verdict.evaluation_keys (id, time)
  SELECT DISTINCT ON (id) id, time FROM ${STAGED} ORDER BY id, time
  ON CONFLICT (id) DO NOTHING
  RETURNING id, time
),
fresh AS (
  SELECT DISTINCT ON (s.id) s.ctid AS row, s.target_trace_id, s.source, s.polarity
  FROM ${STAGED} s JOIN keys k ON k.id = s.id AND k.time = s.time ORDER BY s.id, s.ctid
),
-- NOT IN, not NOT EXISTS: the planner estimates a CTE at a row or two, so NOT EXISTS became a nested loop that
-- scanned fresh once per staged row (quadratic: 14 ms of a 20 ms statement at 357 verdicts); NOT IN over a
-- subquery is a hashed subplan, one lookup a row. fresh.row is a ctid, never NULL.
stale AS (
  DELETE FROM ${STAGED} s WHERE s.ctid NOT IN (SELECT row FROM fresh)
),
${queueVerdictCounts('fresh')}
SELECT count(*)::int AS runs FROM queued`;

/**
 * Whether a verdict waits on the write's keys ($1 its trace IDs, $2 its
 * response IDs: two index lookups a key). Most writes find none, and so skip
 * the resolve statement, whose planning alone takes milliseconds. The write
 * holds its keys' advisory locks, so nothing starts waiting on them meanwhile.
 */
const WAITING_ON_KEYS = `EXISTS (SELECT 1 FROM verdict.pending_verdicts WHERE trace_id = ANY ($1::text[]) OR response_id = ANY ($2::text[]))`;

/**
 * A staged verdict's columns as inserted: its layers (verdict.target_layers)
 * worked out when its judged span is stored, since the spans of this write
 * are stored by then and a verdict is best inserted with its layers and
 * counted under them at once. (Those resolved later, or whose run gets a new
 * root, are settled after the fact: layer-sql.ts.)
 */
const INSERTED_COLUMNS = EVALUATIONS.columns.map((c) =>
  c === 'target_harness_version' || c === 'target_context_version'
    ? `CASE WHEN s.target_span_id IS NOT NULL THEN l.${c.slice('target_'.length)} ELSE s.${c} END`
    : `s.${c}`).join(', ');

/**
 * Inserts the staged verdicts (KEYS_SQL left only new ones) with their
 * layers, rollups, thread counts and waits. No join in it but the layers'
 * lookups by key, which nested loops over indexes are right for.
 */
const INSERT_SQL = `
WITH ins AS (
  INSERT INTO verdict.evaluations (${EVALUATIONS.columns.join(', ')})
  SELECT ${INSERTED_COLUMNS}
  FROM ${STAGED} s
  LEFT JOIN LATERAL verdict.target_layers(s.target_trace_id, s.target_span_id, s.target_service_version) l ON s.target_span_id IS NOT NULL
  RETURNING *
),
rolled AS (
  INSERT INTO verdict_verdict_deltas ${verdictRollupRows('ins', '1', 'target')}
),
layered AS (
  INSERT INTO verdict_layer_deltas ${layerRollupRows('ins', '1', 'target')}
),
threads AS (
  INSERT INTO verdict_conversation_deltas (conversation_id, thread_verdicts, thread_positive_verdicts, thread_negative_verdicts,
    thread_neutral_verdicts, thread_user_verdicts, thread_indirect_verdicts, thread_llm_judge_verdicts, thread_rule_verdicts,
    thread_reviewer_verdicts, thread_verdicts_by_source)
  SELECT conversation_id, count(*), ${COUNTERS}, ${BY_SOURCE}
  FROM ins WHERE trace_id IS NULL AND response_id IS NULL AND conversation_id IS NOT NULL GROUP BY 1
),
waiting AS (
  INSERT INTO verdict.pending_verdicts (id, time, trace_id, span_id, response_id)
  SELECT id, time, trace_id, span_id, CASE WHEN trace_id IS NULL THEN response_id END
  FROM ins WHERE target_span_id IS NULL AND (trace_id IS NOT NULL OR response_id IS NOT NULL)
  RETURNING 1
)
-- This statement's own waits are not visible to its reads; every verdict's keys are the write's keys.
SELECT ${WAITING_ON_KEYS} OR EXISTS (SELECT 1 FROM waiting) AS waiting`;

/** The facts of a span, as the columns of a judged target. */
const TARGET_OF = (s: string) => `${s}.trace_id, ${s}.span_id, ${s}.name, ${s}.service_name, r.service_version, ${s}.gen_ai_operation_name,
  ${s}.gen_ai_request_model, ${s}.gen_ai_response_model, ${s}.gen_ai_agent_name, ${s}.gen_ai_conversation_id`;

/**
 * Claims the waiting verdicts of some traces and response IDs, resolves those
 * whose target is now stored, and puts the others back.
 */
export const RESOLVE_SQL = `
WITH claimed AS (
  DELETE FROM verdict.pending_verdicts p
  WHERE p.trace_id = ANY ($1::text[]) OR p.response_id = ANY ($2::text[])
  RETURNING p.*
),
found AS (
  SELECT c.id, c.time, x.* FROM claimed c
  CROSS JOIN LATERAL (
    SELECT ${TARGET_OF('s')} FROM verdict.span_rows s LEFT JOIN verdict.resources r ON r.resource_id = s.resource_id
    WHERE s.trace_id = c.trace_id AND s.span_id = c.span_id LIMIT 1
  ) x
  WHERE c.span_id IS NOT NULL
  UNION ALL
  -- A trace-level verdict judges the run, described by its root (the start time names the root's partition).
  SELECT c.id, c.time, x.* FROM claimed c
  JOIN verdict.trace_summary t ON t.trace_id = c.trace_id AND t.root_is_root
  CROSS JOIN LATERAL (
    SELECT ${TARGET_OF('s')} FROM verdict.span_rows s LEFT JOIN verdict.resources r ON r.resource_id = s.resource_id
    WHERE s.trace_id = t.trace_id AND s.span_id = t.root_span_id AND s.start_time = t.root_start_time LIMIT 1
  ) x
  WHERE c.trace_id IS NOT NULL AND c.span_id IS NULL
  UNION ALL
  -- A completion verdict judges the first span with its response ID.
  SELECT c.id, c.time, x.* FROM claimed c
  CROSS JOIN LATERAL (
    SELECT ${TARGET_OF('s')} FROM verdict.span_rows s LEFT JOIN verdict.resources r ON r.resource_id = s.resource_id
    WHERE s.gen_ai_response_id = c.response_id ORDER BY s.start_time, s.span_id COLLATE "C" LIMIT 1
  ) x
  WHERE c.trace_id IS NULL AND c.response_id IS NOT NULL
),
resolved AS (
  UPDATE verdict.evaluations e SET
    target_trace_id = f.trace_id, target_span_id = f.span_id, target_span_name = f.name, target_service_name = f.service_name,
    target_service_version = f.service_version, target_operation_name = f.gen_ai_operation_name,
    target_request_model = f.gen_ai_request_model, target_response_model = f.gen_ai_response_model,
    target_agent_name = f.gen_ai_agent_name, target_conversation_id = f.gen_ai_conversation_id
  FROM found f
  WHERE e.id = f.id AND e.time = f.time
  RETURNING e.*
),
moved AS (
  INSERT INTO verdict_verdict_deltas
  ${verdictRollupRows('resolved', '-1', 'unknown')}
  UNION ALL
  ${verdictRollupRows('resolved', '1', 'target')}
),
layers_moved AS (
  INSERT INTO verdict_layer_deltas
  ${layerRollupRows('resolved', '-1', 'unknown')}
  UNION ALL
  ${layerRollupRows('resolved', '1', 'target')}
),
layers_due AS (
  INSERT INTO verdict_layers_due SELECT id, time FROM resolved
),
-- Completion verdicts now have a run: their counts are queued for the run merge.
newly_on_runs AS (
  SELECT * FROM resolved WHERE trace_id IS NULL
),
${queueVerdictCounts('newly_on_runs')},
still_waiting AS (
  INSERT INTO verdict.pending_verdicts
  SELECT c.* FROM claimed c WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.id = c.id AND f.time = c.time)
)
SELECT (SELECT count(*) FROM queued)::int AS runs`;

/**
 * Keeps the staged verdicts that are new and queues their counts on their
 * runs (KEYS_SQL); the first half of storing them, before the run merge.
 * Returns whether any run has counts queued.
 */
export async function registerStagedVerdicts(s: Session): Promise<boolean> {
  const [r] = await s.rows<{ runs: number }>(KEYS_SQL);
  return (r?.runs ?? 0) > 0;
}

/**
 * Stores the staged verdicts: the second half, after the run merge (their
 * layers read the runs' roots). Says whether anything waits on the write's
 * keys (these verdicts included).
 */
export async function insertStagedVerdicts(s: Session, traceIds: readonly string[], responseIds: readonly string[]): Promise<boolean> {
  const [r] = await s.rows<{ waiting: boolean }>(INSERT_SQL, [traceIds, responseIds]);
  return r?.waiting === true;
}

/** Whether anything waits on these trace and response IDs (a write without verdicts of its own). */
export async function anyWaiting(s: Session, traceIds: readonly string[], responseIds: readonly string[]): Promise<boolean> {
  if (traceIds.length === 0 && responseIds.length === 0) return false;
  const [w] = await s.rows<{ waiting: boolean }>(`SELECT ${WAITING_ON_KEYS} AS waiting`, [traceIds, responseIds]);
  return w?.waiting === true;
}

/**
 * Resolves what waits on these traces and response IDs, and counts the
 * completion verdicts it resolves on their runs (the run merge).
 */
export async function resolveWaiting(s: Session, traceIds: readonly string[], responseIds: readonly string[]): Promise<void> {
  const [r] = await s.rows<{ runs: number }>(RESOLVE_SQL, [traceIds, responseIds]);
  if ((r?.runs ?? 0) > 0) await mergeRuns(s, [], true);
}
