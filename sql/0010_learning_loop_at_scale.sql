-- The learning loop at scale: what the drift and task reports need is kept
-- at ingest instead of being looked up in the raw rows at every read, so the
-- Learning loop dashboard costs the same at ten million spans as at ten
-- thousand.
--
-- - Each verdict's three layers (harness version, context version; the model
--   was already kept) are resolved with its target and stored on it
--   (target_harness_version, target_context_version), and settled again
--   when the run's root arrives later (src/store/layer-sql.ts).
-- - verdict.verdict_layer_rollup counts verdicts by hour, name, source,
--   service, the three layers and polarity, kept at ingest like
--   verdict.verdict_rollup; the negative-rate panels, verdict_drift and the
--   "what changed" report read it.
-- - A judged run's task (agent and normalised first request) is stored on
--   its summary (task, task_id), indexed by start time, so the tasks report
--   reads only the judged runs of its range.
--
-- The backfill below computes the same from the stored rows, so an upgraded
-- database answers as one that received its data on this schema.

------------------------------------------------------------------------------
-- Layers of a verdict
------------------------------------------------------------------------------

ALTER TABLE verdict.evaluations
  ADD COLUMN target_harness_version text,
  ADD COLUMN target_context_version text;

-- The harness and context layers of a verdict on `p_span` of run `p_run`
-- (`p_service_version`: the judged span's service.version): the run's root
-- span's gen_ai.agent.version, else the judged span's service.version, else
-- the root's; the configured context attribute on the judged span, else on
-- the root. The span lookups use the run's times, so each reads one day's
-- partition. Ingest and this migration both use it.
CREATE FUNCTION verdict.target_layers(p_run text, p_span text, p_service_version text)
RETURNS TABLE (harness_version text, context_version text)
LANGUAGE sql STABLE AS $$
  SELECT
    COALESCE(root.attributes ->> 'gen_ai.agent.version', p_service_version, t.service_version),
    COALESCE(judged.attributes ->> cfg.context_attribute, root.attributes ->> cfg.context_attribute)
  FROM verdict.loop_settings cfg
  LEFT JOIN verdict.trace_summary t ON t.trace_id = p_run AND t.span_count > 0
  LEFT JOIN LATERAL (
    SELECT s.attributes FROM verdict.span_rows s
    WHERE s.trace_id = t.trace_id AND s.span_id = t.root_span_id AND s.start_time = t.root_start_time
  ) root ON true
  LEFT JOIN LATERAL (
    SELECT s.attributes FROM verdict.span_rows s
    WHERE s.trace_id = t.trace_id AND s.span_id = p_span AND s.start_time BETWEEN t.start_time AND t.end_time
    LIMIT 1
  ) judged ON true
$$;

UPDATE verdict.evaluations e SET target_harness_version = l.harness_version, target_context_version = l.context_version
FROM (
  SELECT x.id, x.time, y.harness_version, y.context_version
  FROM verdict.evaluations x
  CROSS JOIN LATERAL verdict.target_layers(x.target_trace_id, x.target_span_id, x.target_service_version) y
  WHERE x.target_span_id IS NOT NULL
) l
WHERE e.id = l.id AND e.time = l.time AND (l.harness_version IS NOT NULL OR l.context_version IS NOT NULL);

-- Verdicts per hour (of their time) by evaluation name, source, polarity,
-- the judged span's service and the three layers (all NULL while the target
-- has not arrived). A row may hold 0 after verdicts moved out of it.
CREATE TABLE verdict.verdict_layer_rollup (
  hour             timestamptz NOT NULL,
  name             text        NOT NULL,
  source           text,
  service_name     text,
  harness_version  text,
  model            text,
  context_version  text,
  polarity         text,
  verdicts         bigint      NOT NULL,
  UNIQUE NULLS NOT DISTINCT (hour, name, source, service_name, harness_version, model, context_version, polarity)
);
-- verdict_drift is filtered by its UTC day.
CREATE INDEX verdict_layer_rollup_day ON verdict.verdict_layer_rollup (verdict.utc_day(hour));

INSERT INTO verdict.verdict_layer_rollup
SELECT date_trunc('hour', time), name, source, target_service_name, target_harness_version,
  COALESCE(target_response_model, target_request_model), target_context_version, polarity, count(*)
FROM verdict.evaluations
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- One row per verdict with the layers of what it judged, as stored with it.
CREATE OR REPLACE VIEW verdict.verdict_layers AS
SELECT
  e.id,
  e.time,
  verdict.utc_day(e.time) AS day,
  e.name,
  e.source,
  e.polarity,
  e.score_label AS label,
  e.target_trace_id AS trace_id,
  e.target_span_id AS span_id,
  e.target_service_name AS service_name,
  e.target_harness_version AS harness_version,
  COALESCE(e.target_response_model, e.target_request_model) AS model,
  e.target_context_version AS context_version
FROM verdict.evaluations e;

-- Verdicts and the negative rate by UTC day, name, source, service and the
-- three layers, from the hourly rollup. Filter by `day`.
DROP VIEW verdict.verdict_drift;
CREATE VIEW verdict.verdict_drift AS
SELECT
  verdict.utc_day(r.hour) AS day, r.name, r.source, r.service_name, r.harness_version, r.model, r.context_version,
  sum(r.verdicts)::bigint AS verdicts,
  (COALESCE(sum(r.verdicts) FILTER (WHERE r.polarity IS NOT NULL), 0))::bigint AS with_polarity,
  (COALESCE(sum(r.verdicts) FILTER (WHERE r.polarity = 'negative'), 0))::bigint AS negative,
  (sum(r.verdicts) FILTER (WHERE r.polarity = 'negative'))::double precision / NULLIF(sum(r.verdicts) FILTER (WHERE r.polarity IS NOT NULL), 0) AS negative_rate
FROM verdict.verdict_layer_rollup r
WHERE r.verdicts <> 0
GROUP BY verdict.utc_day(r.hour), r.name, r.source, r.service_name, r.harness_version, r.model, r.context_version;

-- What changed between `since` and `until`, by the hour: each value of a
-- layer first seen in an hour of the period (none from seven days before
-- `since`), per evaluation name, source and service, with the negative rate
-- of that evaluation in the seven days before that hour (whatever the layer
-- said) and of the verdicts with the new value in the seven days from it,
-- and a two-proportion z-test: z > 0 is a rise. `significant` needs
-- |z| >= change_z and min_verdicts on both sides (loop_settings); `worse`
-- is a significant rise. Reads the hourly rollup from seven days before
-- `since` to seven days after `until`: its size, not the verdicts'.
DROP VIEW verdict.drift_changes;
DROP FUNCTION verdict.drift_changes_between(timestamptz, timestamptz);
CREATE FUNCTION verdict.drift_changes_between(since timestamptz, until timestamptz)
RETURNS TABLE (
  changed_at timestamptz, layer text, value text, name text, source text, service_name text,
  verdicts_before bigint, negative_before bigint, rate_before double precision,
  verdicts_after bigint, negative_after bigint, rate_after double precision,
  z double precision, significant boolean, worse boolean)
LANGUAGE sql STABLE AS $$
  WITH hours AS (
    SELECT r.hour, r.name, r.source, r.service_name, COALESCE(r.source, E'\x1f') AS source_key, COALESCE(r.service_name, E'\x1f') AS service_key,
      r.harness_version, r.model, r.context_version, r.verdicts AS n, CASE WHEN r.polarity = 'negative' THEN r.verdicts ELSE 0 END AS x
    FROM verdict.verdict_layer_rollup r
    WHERE r.hour >= date_trunc('hour', since) - interval '7 days' AND r.hour < until + interval '7 days'
      AND r.polarity IS NOT NULL AND r.verdicts > 0
  ),
  -- The first hour of each value from seven days before `since`: a change when that is in the period. Few groups, however many hours.
  firsts AS (
    SELECT v.layer, v.value, h.name, h.source, h.service_name, h.source_key, h.service_key, min(h.hour) AS changed_at
    FROM hours h
    CROSS JOIN LATERAL (VALUES ('harness', h.harness_version), ('model', h.model), ('context', h.context_version)) AS v(layer, value)
    WHERE v.value IS NOT NULL AND h.hour < until
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING min(h.hour) >= date_trunc('hour', since)
  ),
  -- Joined on equal keys (NULLs made equal), so each change reads only its own evaluation's hours.
  before AS (
    SELECT c.layer, c.value, c.name, c.source_key, c.service_key, COALESCE(sum(h.n), 0)::bigint AS n1, COALESCE(sum(h.x), 0)::bigint AS x1
    FROM firsts c
    LEFT JOIN hours h ON h.name = c.name AND h.source_key = c.source_key AND h.service_key = c.service_key
      AND h.hour >= c.changed_at - interval '7 days' AND h.hour < c.changed_at
    GROUP BY 1, 2, 3, 4, 5
  ),
  after AS (
    SELECT c.layer, c.value, c.name, c.source_key, c.service_key, COALESCE(sum(h.n), 0)::bigint AS n2, COALESCE(sum(h.x), 0)::bigint AS x2
    FROM firsts c
    LEFT JOIN hours h ON h.name = c.name AND h.source_key = c.source_key AND h.service_key = c.service_key
      AND h.hour >= c.changed_at AND h.hour < c.changed_at + interval '7 days'
      AND CASE c.layer WHEN 'harness' THEN h.harness_version WHEN 'model' THEN h.model ELSE h.context_version END = c.value
    GROUP BY 1, 2, 3, 4, 5
  ),
  sides AS (
    SELECT c.changed_at, c.layer, c.value, c.name, c.source, c.service_name, b.n1, b.x1, a.n2, a.x2
    FROM firsts c
    JOIN before b USING (layer, value, name, source_key, service_key)
    JOIN after a USING (layer, value, name, source_key, service_key)
  ),
  scored AS (
    SELECT s.*,
      CASE WHEN s.n1 > 0 AND s.n2 > 0 AND s.x1 + s.x2 > 0 AND s.x1 + s.x2 < s.n1 + s.n2 THEN
        (s.x2::double precision / s.n2 - s.x1::double precision / s.n1)
          / sqrt(((s.x1 + s.x2)::double precision / (s.n1 + s.n2)) * (1 - (s.x1 + s.x2)::double precision / (s.n1 + s.n2)) * (1.0 / s.n1 + 1.0 / s.n2))
      END AS z
    FROM sides s
  )
  SELECT
    s.changed_at, s.layer, s.value, s.name, s.source, s.service_name,
    s.n1, s.x1, s.x1::double precision / NULLIF(s.n1, 0),
    s.n2, s.x2, s.x2::double precision / NULLIF(s.n2, 0),
    s.z,
    COALESCE(abs(s.z) >= cfg.change_z AND s.n1 >= cfg.min_verdicts AND s.n2 >= cfg.min_verdicts, false),
    COALESCE(s.z >= cfg.change_z AND s.n1 >= cfg.min_verdicts AND s.n2 >= cfg.min_verdicts, false)
  FROM scored s CROSS JOIN verdict.loop_settings cfg
  WHERE s.n1 > 0
  ORDER BY s.changed_at, s.layer, s.value, s.name
$$;

-- What changed in the last 30 days.
CREATE VIEW verdict.drift_changes AS
SELECT * FROM verdict.drift_changes_between(now() - interval '30 days', now());

------------------------------------------------------------------------------
-- Tasks of judged runs
------------------------------------------------------------------------------

ALTER TABLE verdict.trace_summary
  ADD COLUMN task text,
  ADD COLUMN task_id text;

-- A run's task as verdict.task_runs defines it: the agent (else the root's
-- service) and the normalised input (the root's, else the first model
-- call's last user message); no row when the run has no input text.
CREATE FUNCTION verdict.run_task(p_run text)
RETURNS TABLE (task text, task_id text)
LANGUAGE sql STABLE AS $$
  SELECT x.task, md5(COALESCE(x.agent_name, x.service_name, '') || E'\x1f' || x.task)
  -- OFFSET 0 keeps the subquery whole, so the input text is worked out once, not again for the filter.
  FROM (SELECT t.agent_name, t.service_name, verdict.normalise_task(t.input_text) AS task FROM verdict.traces t WHERE t.trace_id = p_run OFFSET 0) x
  WHERE x.task IS NOT NULL
$$;

-- Only judged runs (a positive or a negative verdict) carry their task: those
-- are the runs a task report compares.
UPDATE verdict.trace_summary t SET task = k.task, task_id = k.task_id
FROM (
  SELECT r.trace_id, y.task, y.task_id FROM verdict.trace_summary r CROSS JOIN LATERAL verdict.run_task(r.trace_id) y
  WHERE r.span_count > 0 AND (r.positive_verdicts > 0 OR r.negative_verdicts > 0)
) k
WHERE t.trace_id = k.trace_id;

-- The judged runs by start, with what a task report counts (read from the index alone once vacuumed), and a
-- task's runs by start, for the rows a report returns.
CREATE INDEX trace_summary_judged_tasks ON verdict.trace_summary (start_time) INCLUDE (task_id, trace_id, positive_verdicts, negative_verdicts)
  WHERE task_id IS NOT NULL;
CREATE INDEX trace_summary_task_runs ON verdict.trace_summary (task_id, start_time) WHERE task_id IS NOT NULL;

-- One row per run with its task and how it went: the stored task of a judged
-- run, computed from the run's input for the others. Filter by `start_time`
-- (or look a run up by `trace_id`).
CREATE OR REPLACE VIEW verdict.task_runs AS
SELECT
  md5(COALESCE(r.agent_name, r.service_name, '') || E'\x1f' || r.task) AS task_id,
  r.agent_name,
  r.service_name,
  r.task,
  r.trace_id,
  r.start_time,
  r.duration_ms,
  r.span_count,
  r.error_count,
  r.input_tokens,
  r.output_tokens,
  r.model,
  r.service_version,
  r.positive_verdicts,
  r.negative_verdicts,
  r.verdicts,
  CASE
    WHEN r.negative_verdicts > 0 THEN 'bad'
    WHEN r.positive_verdicts > 0 THEN 'good'
    ELSE 'unjudged'
  END AS outcome,
  r.positive_verdicts - r.negative_verdicts AS balance
FROM (
  SELECT t.*, CASE WHEN s.task_id IS NOT NULL THEN s.task ELSE verdict.normalise_task(t.input_text) END AS task
  FROM verdict.traces t JOIN verdict.trace_summary s ON s.trace_id = t.trace_id
) r
WHERE r.task IS NOT NULL;

-- Tasks with judged runs started between `since` and `until`: their good
-- and bad runs (`runs` counts both; unjudged runs are not read, see
-- verdict.task_runs for them), verdict mix, and the best and the worst run
-- (by positive minus negative verdicts; ties: the latest). The counts come
-- from trace_summary_judged_tasks alone; the names and the best and worst
-- run are looked up per task returned, so a filter on the counts (the panel's
-- "both good and bad runs") is applied before those lookups. Only judged runs
-- with spans carry a task_id.
DROP VIEW verdict.task_comparisons;
DROP VIEW verdict.tasks;
DROP FUNCTION verdict.tasks_between(timestamptz, timestamptz);
CREATE FUNCTION verdict.tasks_between(since timestamptz, until timestamptz)
RETURNS TABLE (
  task_id text, agent_name text, service_name text, task text, runs bigint, good_runs bigint, bad_runs bigint,
  positive_verdicts bigint, negative_verdicts bigint, first_start timestamptz, last_start timestamptz,
  best_trace_id text, worst_trace_id text)
LANGUAGE sql STABLE AS $$
  SELECT
    g.task_id, x.agent_name, x.service_name, x.task, g.runs, g.good_runs, g.bad_runs, g.positive_verdicts, g.negative_verdicts,
    g.first_start, g.last_start,
    (SELECT s.trace_id FROM verdict.trace_summary s
     WHERE s.task_id = g.task_id AND s.start_time >= since AND s.start_time < until AND s.negative_verdicts = 0
     ORDER BY s.positive_verdicts - s.negative_verdicts DESC, s.start_time DESC, s.trace_id LIMIT 1),
    (SELECT s.trace_id FROM verdict.trace_summary s
     WHERE s.task_id = g.task_id AND s.start_time >= since AND s.start_time < until AND s.negative_verdicts > 0
     ORDER BY s.positive_verdicts - s.negative_verdicts, s.start_time DESC, s.trace_id LIMIT 1)
  FROM (
    SELECT
      r.task_id, count(*) AS runs, count(*) FILTER (WHERE r.negative_verdicts = 0) AS good_runs,
      count(*) FILTER (WHERE r.negative_verdicts > 0) AS bad_runs, sum(r.positive_verdicts)::bigint AS positive_verdicts,
      sum(r.negative_verdicts)::bigint AS negative_verdicts, min(r.start_time) AS first_start, max(r.start_time) AS last_start
    FROM verdict.trace_summary r
    WHERE r.task_id IS NOT NULL AND r.start_time >= since AND r.start_time < until
    GROUP BY r.task_id
  ) g
  CROSS JOIN LATERAL (
    SELECT min(s.agent_name) AS agent_name, min(s.service_name) AS service_name, min(s.task) AS task
    FROM verdict.trace_summary s
    WHERE s.task_id = g.task_id AND s.start_time >= since AND s.start_time < until
  ) x
$$;

-- Tasks of the last 7 days.
CREATE VIEW verdict.tasks AS
SELECT * FROM verdict.tasks_between(now() - interval '7 days', now());

-- Tasks of the last 7 days with a good and a bad run, side by side.
CREATE VIEW verdict.task_comparisons AS
SELECT * FROM verdict.task_comparisons_between(now() - interval '7 days', now());
