/**
 * What the learning loop keeps at ingest, so its reports read rollups and
 * indexed summaries instead of looking each verdict's spans up: each
 * verdict's layers (the harness version and the context version; the model
 * is one of its target's facts), stored on the verdict once its target is
 * resolved, and counted in verdict.verdict_layer_rollup. (A judged run's
 * task is kept on its summary row by the statements that change what it
 * depends on: summary-sql.ts taskAssign.)
 *
 * The layers depend on spans that may arrive after the verdict (the run's
 * root usually ends, and is exported, last). So they are worked out when a
 * verdict is stored with its target or resolved, and again for a judged
 * run's verdicts when its root arrives. Each time they are recomputed from
 * what is stored, and where they changed, the verdict's rollup count moves
 * from the old values to the new ones. Whatever the arrival order, the end
 * state is the one a recomputation from the stored rows gives. Two writers
 * that touch one run (its root, and a verdict resolved to it through a
 * response ID) both update the run's summary row, so the second waits for
 * the first to commit, and its settling, a later statement, sees what the
 * first stored. The definition is an SQL function of the migration
 * (verdict.target_layers), shared with its backfill.
 */
import type { Session } from './driver.ts';

/**
 * Temp tables: the layer rollup changes a transaction collects until it
 * flushes them, and the verdicts whose layers it must work out (those it
 * stored with their target, or resolved).
 */
export const LAYER_DELTA_DDL = `
CREATE TEMP TABLE IF NOT EXISTS verdict_layer_deltas (
  hour timestamptz, name text, source text, service_name text, harness_version text, model text, context_version text,
  polarity text, verdicts bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS verdict_layers_due (id text, time timestamptz) ON COMMIT DELETE ROWS;`;

const TARGET_DIMS = 'target_service_name, target_harness_version, COALESCE(target_response_model, target_request_model), target_context_version';
const UNKNOWN_DIMS = 'NULL::text, NULL::text, NULL::text, NULL::text';

/**
 * Given a CTE of verdict rows and a sign, a SELECT of their
 * verdict_layer_rollup increments by hour and dimensions: the layers stored
 * on the rows ('target'), or all unknown (before the target was resolved).
 */
export const layerRollupRows = (v: string, sign: string, dims: 'target' | 'unknown') => `
  SELECT date_trunc('hour', time), name, source, ${dims === 'target' ? TARGET_DIMS : UNKNOWN_DIMS}, polarity, ${sign} * count(*)
  FROM ${v} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`;

/**
 * Works out the layers of the verdicts this transaction resolved
 * (verdict_layers_due, found by key), and of every resolved verdict of the
 * runs in $1 (judged before, and given a root now); stores those that
 * changed and moves their rollup counts. (Verdicts stored with their target
 * get their layers before they are inserted: verdict-sql.ts.)
 */
const SETTLE_LAYERS_SQL = `
WITH due AS (
  SELECT id, time FROM verdict_layers_due
  UNION
  SELECT e.id, e.time FROM verdict.evaluations e WHERE e.target_trace_id = ANY ($1::text[]) AND e.target_span_id IS NOT NULL
),
changed AS (
  SELECT e.id, e.time, e.name, e.source, e.polarity, e.target_service_name, COALESCE(e.target_response_model, e.target_request_model) AS model,
    e.target_harness_version AS old_harness, e.target_context_version AS old_context, l.harness_version, l.context_version
  FROM due d
  JOIN verdict.evaluations e ON e.id = d.id AND e.time = d.time AND e.target_span_id IS NOT NULL
  CROSS JOIN LATERAL verdict.target_layers(e.target_trace_id, e.target_span_id, e.target_service_version) l
  WHERE e.target_harness_version IS DISTINCT FROM l.harness_version OR e.target_context_version IS DISTINCT FROM l.context_version
),
updated AS (
  -- The key list bounds the scan of verdict.evaluations whatever plan the statistics suggest.
  UPDATE verdict.evaluations e SET target_harness_version = c.harness_version, target_context_version = c.context_version
  FROM changed c WHERE e.id = ANY (ARRAY(SELECT id FROM changed)) AND e.id = c.id AND e.time = c.time
  RETURNING e.id
),
moved AS (
  INSERT INTO verdict_layer_deltas
  SELECT date_trunc('hour', time), name, source, target_service_name, old_harness, model, old_context, polarity, -count(*)
  FROM changed GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  UNION ALL
  SELECT date_trunc('hour', time), name, source, target_service_name, harness_version, model, context_version, polarity, count(*)
  FROM changed GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
)
SELECT count(*)::int AS n FROM updated`;

/**
 * Settles the layers of the verdicts this write resolved and of the judged
 * runs it gave a root (`rerooted`).
 */
export async function settleLayers(s: Session, rerooted: readonly string[]): Promise<void> {
  await s.rows(SETTLE_LAYERS_SQL, [[...rerooted].sort()]);
}

/** The upsert of the queued layer rollup changes, in key order (see summary-sql.ts). */
export const LAYER_FLUSH_SQL = `
INSERT INTO verdict.verdict_layer_rollup AS r (hour, name, source, service_name, harness_version, model, context_version, polarity, verdicts)
SELECT hour, name, source, service_name, harness_version, model, context_version, polarity, sum(verdicts)
FROM verdict_layer_deltas GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
ORDER BY hour, name COLLATE "C", source COLLATE "C", service_name COLLATE "C", harness_version COLLATE "C", model COLLATE "C",
  context_version COLLATE "C", polarity COLLATE "C"
ON CONFLICT (hour, name, source, service_name, harness_version, model, context_version, polarity) DO UPDATE SET
  verdicts = r.verdicts + EXCLUDED.verdicts`;
