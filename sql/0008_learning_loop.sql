-- The learning loop: can an LLM judge be trusted (its verdicts against the
-- humans' on the same target), what got worse after a change and in which
-- layer (harness, model, retrieved context), and good and bad runs of the
-- same task side by side. docs/closing-the-loop.md has the questions and
-- the SQL; docs/schema.md the columns.
--
-- Every view here is read by time: verdicts by `time` (or the day and week
-- they fall in, through the expression indexes below), runs by `start_time`.
-- The reports over a period (what changed, tasks, comparisons) are
-- functions of that period, each with a view of the last days.

------------------------------------------------------------------------------
-- The `learning_loop:` section of the config file, as SQL reads it. Views
-- cannot read the receiver's configuration, so the receiver writes it here
-- at start-up (src/loop/sync.ts): the one settings row is overwritten and the
-- pairs replaced, in one transaction, so receivers with the same
-- configuration leave the same rows, whichever starts last.
------------------------------------------------------------------------------

CREATE TABLE verdict.loop_settings (
  id                  boolean          PRIMARY KEY DEFAULT true CHECK (id),
  -- A judge's week with a kappa under this is flagged (judge_calibration.below_threshold).
  kappa_threshold     double precision NOT NULL DEFAULT 0.6,
  -- Whether a verdict on a span also pairs with a verdict on its run.
  pair_span_with_run  boolean          NOT NULL DEFAULT true,
  -- The span attribute naming the context version (a retrieval index, a prompt version).
  context_attribute   text             NOT NULL DEFAULT 'verdict.context.version',
  -- A change is significant when |z| of the two-proportion test reaches this
  -- and both sides have at least min_verdicts verdicts with a polarity.
  change_z            double precision NOT NULL DEFAULT 1.96,
  min_verdicts        integer          NOT NULL DEFAULT 20
);
INSERT INTO verdict.loop_settings DEFAULT VALUES;

-- Judge evaluation names paired with human evaluation names
-- (`judge: helpfulness` with `human: thumbs`); verdicts of the same name pair without one.
CREATE TABLE verdict.judge_pairs (
  judge_name  text NOT NULL,
  human_name  text NOT NULL,
  PRIMARY KEY (judge_name, human_name)
);

------------------------------------------------------------------------------
-- Days and weeks in UTC (weeks start on Monday: 2000-01-03 was one).
-- date_bin on timestamptz is immutable, so these can be indexed, and a
-- filter on a view's `day` or `week` reads only the verdicts of those days.
------------------------------------------------------------------------------

CREATE FUNCTION verdict.utc_day(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN date_bin('1 day', t, TIMESTAMPTZ '2000-01-03 00:00:00+00');

CREATE FUNCTION verdict.utc_week(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN date_bin('7 days', t, TIMESTAMPTZ '2000-01-03 00:00:00+00');

CREATE INDEX evaluations_judge_week ON verdict.evaluations (verdict.utc_week(time)) WHERE source = 'llm_judge';
CREATE INDEX evaluations_day ON verdict.evaluations (verdict.utc_day(time));
-- Keyset pagination of runs (the eval export): in start order, ties by trace ID.
CREATE INDEX trace_summary_start_key ON verdict.trace_summary (start_time_unix_nano, trace_id) WHERE span_count > 0;

-- Cohen's kappa from the observed agreement and the agreement chance alone
-- would give (from the two raters' marginals); NULL when chance agreement is total.
CREATE FUNCTION verdict.kappa(observed double precision, expected double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN expected IS NULL OR expected >= 1 THEN NULL ELSE (observed - expected) / (1 - expected) END;

------------------------------------------------------------------------------
-- Judge calibration
------------------------------------------------------------------------------

-- Cohen's kappa on polarity as an aggregate over (judge, human) pairs, for
-- panels and alerts over any grouping: the state is the 3×3 table of
-- polarities (row: the judge's, column: the human's; positive, negative,
-- neutral), pairs missing either polarity left out.
CREATE FUNCTION verdict.polarity_table_add(state bigint[], judge text, human text) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN array_position(ARRAY['positive', 'negative', 'neutral'], judge) IS NULL
    OR array_position(ARRAY['positive', 'negative', 'neutral'], human) IS NULL THEN state
  ELSE (
    SELECT array_agg(CASE WHEN u.k = 3 * (array_position(ARRAY['positive', 'negative', 'neutral'], judge) - 1)
                                   + array_position(ARRAY['positive', 'negative', 'neutral'], human)
                          THEN u.n + 1 ELSE u.n END ORDER BY u.k)
    FROM unnest(state) WITH ORDINALITY AS u(n, k))
END;

CREATE FUNCTION verdict.polarity_table_kappa(s bigint[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
  SELECT verdict.kappa(
    (s[1] + s[5] + s[9])::double precision / n,
    ((s[1] + s[2] + s[3]) * (s[1] + s[4] + s[7]) + (s[4] + s[5] + s[6]) * (s[2] + s[5] + s[8]) + (s[7] + s[8] + s[9]) * (s[3] + s[6] + s[9]))::double precision / (n * n))
  FROM (SELECT NULLIF(s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7] + s[8] + s[9], 0) AS n) t
);

CREATE AGGREGATE verdict.polarity_kappa(text, text) (
  SFUNC = verdict.polarity_table_add, STYPE = bigint[], FINALFUNC = verdict.polarity_table_kappa,
  INITCOND = '{0,0,0,0,0,0,0,0,0}'
);

-- What a verdict is about: a span ('span'; a completion verdict is resolved
-- to its span, so it counts as one), a run ('trace') or a thread ('conversation').
CREATE FUNCTION verdict.verdict_level(trace_id text, span_id text, response_id text, conversation_id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN span_id IS NOT NULL OR (trace_id IS NULL AND response_id IS NOT NULL) THEN 'span'
  WHEN trace_id IS NOT NULL THEN 'trace'
  WHEN conversation_id IS NOT NULL THEN 'conversation'
END;

-- One row per LLM-judge verdict and the human verdict (a user's or a
-- reviewer's) on the same target, matched by evaluation name or by a
-- configured pair: on the same span, on the same run, on the same thread,
-- and (pair_span_with_run) a span's verdict with its run's. A verdict on the
-- run's root span is a verdict on the run: that is how a log record
-- parented to the root says it (judge_target and human_target still say
-- what each verdict named). Of several
-- human verdicts of one name and source on a target, the latest counts (a
-- user who changed their mind). Filter by `time` (the judge's verdict) or `week`.
CREATE VIEW verdict.judge_human_pairs AS
SELECT
  j.time,
  verdict.utc_week(j.time) AS week,
  j.id AS judge_verdict_id,
  COALESCE(j.attributes ->> 'verdict.evaluator.name', j.name) AS judge,
  j.name AS judge_evaluation,
  COALESCE(j.attributes ->> 'gen_ai.response.model', j.attributes ->> 'gen_ai.request.model') AS judge_model,
  j.attributes ->> 'verdict.evaluator.version' AS judge_version,
  verdict.verdict_level(j.trace_id, j.span_id, j.response_id, j.conversation_id) AS judge_target,
  j.polarity AS judge_polarity,
  j.score_value AS judge_score,
  j.score_label AS judge_label,
  j.explanation AS judge_explanation,
  h.id AS human_verdict_id,
  h.name AS human_evaluation,
  h.source AS human_source,
  verdict.verdict_level(h.trace_id, h.span_id, h.response_id, h.conversation_id) AS human_target,
  h.polarity AS human_polarity,
  h.score_value AS human_score,
  h.score_label AS human_label,
  h.explanation AS human_explanation,
  h.correction,
  h.time AS human_time,
  j.target_trace_id AS trace_id,
  j.target_span_id AS span_id,
  j.target_service_name AS service_name,
  COALESCE(j.conversation_id, j.target_conversation_id) AS conversation_id,
  j.polarity = h.polarity AS agree
FROM verdict.evaluations j
CROSS JOIN verdict.loop_settings cfg
-- Only runs some human judged are searched for a match (the run summary counts them).
JOIN verdict.trace_summary t ON t.trace_id = j.target_trace_id AND t.user_verdicts + t.reviewer_verdicts > 0
CROSS JOIN LATERAL (
  SELECT DISTINCT ON (x.name, x.source) x.*
  FROM verdict.evaluations x
  WHERE x.target_trace_id = j.target_trace_id
    AND x.time >= t.start_time
    AND x.source IN ('user', 'reviewer')
    AND (x.name = j.name OR EXISTS (
      SELECT FROM verdict.judge_pairs p
      WHERE p.human_name = x.name AND (p.judge_name = j.name OR p.judge_name = j.attributes ->> 'verdict.evaluator.name')))
    -- The same span (two verdicts on the run share its root), or the run and one of its spans.
    AND (x.target_span_id IS NOT DISTINCT FROM j.target_span_id
      OR (cfg.pair_span_with_run AND (
        verdict.verdict_level(j.trace_id, j.span_id, j.response_id, j.conversation_id) = 'trace' OR j.target_span_id = t.root_span_id
        OR verdict.verdict_level(x.trace_id, x.span_id, x.response_id, x.conversation_id) = 'trace' OR x.target_span_id = t.root_span_id)))
  ORDER BY x.name, x.source, x.time DESC, x.id
) h
WHERE j.source = 'llm_judge' AND j.target_trace_id IS NOT NULL
UNION ALL
-- Verdicts on a thread (no run): matched on the conversation.
SELECT
  j.time, verdict.utc_week(j.time), j.id,
  COALESCE(j.attributes ->> 'verdict.evaluator.name', j.name), j.name,
  COALESCE(j.attributes ->> 'gen_ai.response.model', j.attributes ->> 'gen_ai.request.model'),
  j.attributes ->> 'verdict.evaluator.version', 'conversation',
  j.polarity, j.score_value, j.score_label, j.explanation,
  h.id, h.name, h.source, 'conversation', h.polarity, h.score_value, h.score_label, h.explanation, h.correction, h.time,
  NULL, NULL, NULL, j.conversation_id, j.polarity = h.polarity
FROM verdict.evaluations j
CROSS JOIN LATERAL (
  SELECT DISTINCT ON (x.name, x.source) x.*
  FROM verdict.evaluations x
  WHERE x.conversation_id = j.conversation_id AND x.trace_id IS NULL AND x.response_id IS NULL
    AND x.source IN ('user', 'reviewer')
    AND (x.name = j.name OR EXISTS (
      SELECT FROM verdict.judge_pairs p
      WHERE p.human_name = x.name AND (p.judge_name = j.name OR p.judge_name = j.attributes ->> 'verdict.evaluator.name')))
  ORDER BY x.name, x.source, x.time DESC, x.id
) h
WHERE j.source = 'llm_judge' AND j.trace_id IS NULL AND j.response_id IS NULL AND j.conversation_id IS NOT NULL;

-- Per judge (name, model, evaluator version) and week: the pairs, raw
-- agreement and Cohen's kappa on polarity (pairs where both have one), and
-- on scores (pairs where both have one) the mean absolute error and
-- Pearson's correlation. Filter by `week`.
CREATE VIEW verdict.judge_calibration AS
SELECT
  g.week,
  g.judge,
  g.judge_model,
  g.judge_version,
  g.pairs,
  g.polarity_pairs,
  g.agreements,
  g.agreements::double precision / NULLIF(g.polarity_pairs, 0) AS agreement,
  verdict.kappa(
    g.agreements::double precision / NULLIF(g.polarity_pairs, 0),
    (g.judge_positive * g.human_positive + g.judge_negative * g.human_negative + g.judge_neutral * g.human_neutral)::double precision
      / NULLIF(g.polarity_pairs * g.polarity_pairs, 0)) AS kappa,
  g.scored_pairs,
  g.mae,
  g.pearson,
  g.judge_positive, g.judge_negative, g.judge_neutral,
  g.human_positive, g.human_negative, g.human_neutral,
  cfg.kappa_threshold,
  COALESCE(verdict.kappa(
    g.agreements::double precision / NULLIF(g.polarity_pairs, 0),
    (g.judge_positive * g.human_positive + g.judge_negative * g.human_negative + g.judge_neutral * g.human_neutral)::double precision
      / NULLIF(g.polarity_pairs * g.polarity_pairs, 0)) < cfg.kappa_threshold, false) AS below_threshold
FROM (
  SELECT
    p.week, p.judge, p.judge_model, p.judge_version,
    count(*) AS pairs,
    count(*) FILTER (WHERE p.judge_polarity IS NOT NULL AND p.human_polarity IS NOT NULL) AS polarity_pairs,
    count(*) FILTER (WHERE p.agree) AS agreements,
    count(*) FILTER (WHERE p.judge_polarity = 'positive' AND p.human_polarity IS NOT NULL) AS judge_positive,
    count(*) FILTER (WHERE p.judge_polarity = 'negative' AND p.human_polarity IS NOT NULL) AS judge_negative,
    count(*) FILTER (WHERE p.judge_polarity = 'neutral' AND p.human_polarity IS NOT NULL) AS judge_neutral,
    count(*) FILTER (WHERE p.human_polarity = 'positive' AND p.judge_polarity IS NOT NULL) AS human_positive,
    count(*) FILTER (WHERE p.human_polarity = 'negative' AND p.judge_polarity IS NOT NULL) AS human_negative,
    count(*) FILTER (WHERE p.human_polarity = 'neutral' AND p.judge_polarity IS NOT NULL) AS human_neutral,
    count(*) FILTER (WHERE p.judge_score IS NOT NULL AND p.human_score IS NOT NULL) AS scored_pairs,
    avg(abs(p.judge_score - p.human_score)) AS mae,
    corr(p.judge_score, p.human_score) AS pearson
  FROM verdict.judge_human_pairs p
  GROUP BY p.week, p.judge, p.judge_model, p.judge_version
) g
CROSS JOIN verdict.loop_settings cfg;

-- The pairs where judge and human disagree on polarity, with where to look:
-- the run (the Trace dashboard) and its review page.
CREATE VIEW verdict.judge_disagreements AS
SELECT
  p.time, p.week, p.judge, p.judge_model, p.judge_version, p.judge_evaluation, p.judge_label, p.judge_polarity, p.judge_score,
  p.judge_explanation, p.human_evaluation, p.human_source, p.human_label, p.human_polarity, p.human_score, p.human_explanation,
  p.correction, p.trace_id, p.span_id, p.conversation_id, p.service_name,
  CASE WHEN p.trace_id IS NOT NULL THEN '/review/trace/' || p.trace_id END AS review_path
FROM verdict.judge_human_pairs p
WHERE p.judge_polarity IS NOT NULL AND p.human_polarity IS NOT NULL AND p.judge_polarity <> p.human_polarity;

------------------------------------------------------------------------------
-- Drift by layer: harness, model, context
------------------------------------------------------------------------------

-- One row per verdict with the three layers of what it judged: the harness
-- version (the run's root span's gen_ai.agent.version, else the judged
-- span's service.version), the model (the judged span's response model,
-- else its request model) and the context version (the configured
-- attribute on the judged span, else on the run's root). The span lookups
-- use the run's times, so each reads one day's partition. Filter by `time` or `day`.
CREATE VIEW verdict.verdict_layers AS
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
  COALESCE(e.target_service_name, t.service_name) AS service_name,
  COALESCE(root.attributes ->> 'gen_ai.agent.version', e.target_service_version, t.service_version) AS harness_version,
  COALESCE(e.target_response_model, e.target_request_model) AS model,
  COALESCE(judged.attributes ->> cfg.context_attribute, root.attributes ->> cfg.context_attribute) AS context_version
FROM verdict.evaluations e
CROSS JOIN verdict.loop_settings cfg
LEFT JOIN verdict.trace_summary t ON t.trace_id = e.target_trace_id
LEFT JOIN LATERAL (
  SELECT s.attributes FROM verdict.span_rows s
  WHERE s.trace_id = t.trace_id AND s.span_id = t.root_span_id AND s.start_time = t.root_start_time
) root ON true
LEFT JOIN LATERAL (
  SELECT s.attributes FROM verdict.span_rows s
  WHERE s.trace_id = e.target_trace_id AND s.span_id = e.target_span_id AND s.start_time BETWEEN t.start_time AND t.end_time
  LIMIT 1
) judged ON true;

-- Verdicts and the negative rate (negative verdicts among those with a
-- polarity) by UTC day, evaluation name, source, service and the three
-- layers; `runs` counts the runs judged. Filter by `day`.
CREATE VIEW verdict.verdict_drift AS
SELECT
  l.day, l.name, l.source, l.service_name, l.harness_version, l.model, l.context_version,
  count(*) AS verdicts,
  count(l.polarity) AS with_polarity,
  count(*) FILTER (WHERE l.polarity = 'negative') AS negative,
  (count(*) FILTER (WHERE l.polarity = 'negative'))::double precision / NULLIF(count(l.polarity), 0) AS negative_rate,
  count(DISTINCT l.trace_id) AS runs
FROM verdict.verdict_layers l
GROUP BY l.day, l.name, l.source, l.service_name, l.harness_version, l.model, l.context_version;

-- What changed between `since` and `until`: each value of a layer first
-- seen then (none in the seven days before it), per evaluation name,
-- source and service, with the negative rate of that evaluation in the
-- seven days before the value appeared (whatever the layer said then) and
-- of the verdicts with the new value in the seven days from it, the runs
-- judged on each side, and a two-proportion z-test: z > 0 is a rise.
-- `significant` needs |z| >= change_z and min_verdicts on both sides
-- (loop_settings); `worse` is a significant rise. Reads the verdicts from
-- seven days before `since` to seven days after `until`.
CREATE FUNCTION verdict.drift_changes_between(since timestamptz, until timestamptz)
RETURNS TABLE (
  changed_at timestamptz, layer text, value text, name text, source text, service_name text,
  verdicts_before bigint, negative_before bigint, runs_before bigint, rate_before double precision,
  verdicts_after bigint, negative_after bigint, runs_after bigint, rate_after double precision,
  z double precision, significant boolean, worse boolean)
LANGUAGE sql STABLE AS $$
  WITH facts AS (
    SELECT l.* FROM verdict.verdict_layers l
    WHERE l.time >= since - interval '7 days' AND l.time < until + interval '7 days' AND l.polarity IS NOT NULL
  ),
  layered AS (
    SELECT f.time, f.name, f.source, f.service_name, f.polarity, f.trace_id, x.layer, x.value
    FROM facts f
    CROSS JOIN LATERAL (VALUES ('harness', f.harness_version), ('model', f.model), ('context', f.context_version)) AS x(layer, value)
  ),
  firsts AS (
    SELECT layer, value, name, source, service_name, min(time) AS changed_at
    FROM layered WHERE value IS NOT NULL
    GROUP BY layer, value, name, source, service_name
  ),
  sides AS (
    SELECT
      c.*,
      b.n AS n1, b.x AS x1, b.runs AS runs1,
      a.n AS n2, a.x AS x2, a.runs AS runs2
    FROM firsts c
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, count(*) FILTER (WHERE l.polarity = 'negative') AS x, count(DISTINCT l.trace_id) AS runs
      FROM layered l
      WHERE l.layer = c.layer AND l.name = c.name AND l.source IS NOT DISTINCT FROM c.source
        AND l.service_name IS NOT DISTINCT FROM c.service_name
        AND l.time >= c.changed_at - interval '7 days' AND l.time < c.changed_at
    ) b
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, count(*) FILTER (WHERE l.polarity = 'negative') AS x, count(DISTINCT l.trace_id) AS runs
      FROM layered l
      WHERE l.layer = c.layer AND l.value = c.value AND l.name = c.name AND l.source IS NOT DISTINCT FROM c.source
        AND l.service_name IS NOT DISTINCT FROM c.service_name
        AND l.time >= c.changed_at AND l.time < c.changed_at + interval '7 days'
    ) a
    WHERE c.changed_at >= since AND c.changed_at < until
  ),
  tested AS (
    SELECT s.*,
      CASE WHEN s.n1 > 0 AND s.n2 > 0 THEN (s.x1 + s.x2)::double precision / (s.n1 + s.n2) END AS pooled
    FROM sides s
  ),
  scored AS (
    SELECT t.*,
      CASE WHEN t.pooled > 0 AND t.pooled < 1
        THEN (t.x2::double precision / t.n2 - t.x1::double precision / t.n1) / sqrt(t.pooled * (1 - t.pooled) * (1.0 / t.n1 + 1.0 / t.n2))
      END AS z
    FROM tested t
  )
  SELECT
    s.changed_at, s.layer, s.value, s.name, s.source, s.service_name,
    s.n1, s.x1, s.runs1, s.x1::double precision / NULLIF(s.n1, 0),
    s.n2, s.x2, s.runs2, s.x2::double precision / NULLIF(s.n2, 0),
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
-- Tasks: runs of one agent that got the same first request
------------------------------------------------------------------------------

-- A request as a task key: lower case, white space collapsed, trimmed.
CREATE FUNCTION verdict.normalise_task(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN NULLIF(btrim(regexp_replace(lower($1), '\s+', ' ', 'g')), '');

-- One row per run with its task (the agent and its normalised input: the
-- root's, else the first model call's last user message, as verdict.traces
-- reads it) and how it went: 'bad' with any negative verdict (one is a
-- failure worth a look), 'good' with positive verdicts and no negative one,
-- else 'unjudged'. Filter by `start_time`.
CREATE VIEW verdict.task_runs AS
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
  SELECT t.*, verdict.normalise_task(t.input_text) AS task FROM verdict.traces t
) r
WHERE r.task IS NOT NULL;

-- Tasks with runs started between `since` and `until`: their runs and
-- verdict mix, and the best and the worst run (by positive minus negative
-- verdicts; ties: the latest).
CREATE FUNCTION verdict.tasks_between(since timestamptz, until timestamptz)
RETURNS TABLE (
  task_id text, agent_name text, service_name text, task text, runs bigint, good_runs bigint, bad_runs bigint,
  unjudged_runs bigint, positive_verdicts bigint, negative_verdicts bigint, first_start timestamptz, last_start timestamptz,
  best_trace_id text, worst_trace_id text)
LANGUAGE sql STABLE AS $$
  SELECT
    r.task_id, min(r.agent_name), min(r.service_name), min(r.task),
    count(*), count(*) FILTER (WHERE r.outcome = 'good'), count(*) FILTER (WHERE r.outcome = 'bad'),
    count(*) FILTER (WHERE r.outcome = 'unjudged'),
    sum(r.positive_verdicts)::bigint, sum(r.negative_verdicts)::bigint, min(r.start_time), max(r.start_time),
    (array_agg(r.trace_id ORDER BY r.balance DESC, r.start_time DESC, r.trace_id) FILTER (WHERE r.outcome = 'good'))[1],
    (array_agg(r.trace_id ORDER BY r.balance, r.start_time DESC, r.trace_id) FILTER (WHERE r.outcome = 'bad'))[1]
  FROM verdict.task_runs r
  WHERE r.start_time >= since AND r.start_time < until
  GROUP BY r.task_id
$$;

-- Tasks of the last 7 days.
CREATE VIEW verdict.tasks AS
SELECT * FROM verdict.tasks_between(now() - interval '7 days', now());

-- One run as `verdict compare` shows it: the tools it called in order, its
-- spans, errors, tokens, latency, and its verdicts.
CREATE FUNCTION verdict.run_profile(run text)
RETURNS TABLE (
  trace_id text, start_time timestamptz, duration_ms double precision, span_count bigint, error_count bigint,
  input_tokens numeric, output_tokens numeric, model text, service_version text, tools text[], tool_errors bigint,
  output_text text, verdicts jsonb)
LANGUAGE sql STABLE AS $$
  SELECT
    t.trace_id, t.start_time, t.duration_ms, t.span_count, t.error_count, t.input_tokens, t.output_tokens, t.model, t.service_version,
    COALESCE((SELECT array_agg(s.gen_ai_tool_name ORDER BY s.start_time_unix_nano, s.span_id) FROM verdict.span_rows s
              WHERE s.trace_id = t.trace_id AND s.start_time BETWEEN t.start_time AND t.end_time
                AND s.gen_ai_operation_name = 'execute_tool'), ARRAY[]::text[]),
    (SELECT count(*) FROM verdict.span_rows s
     WHERE s.trace_id = t.trace_id AND s.start_time BETWEEN t.start_time AND t.end_time
       AND s.gen_ai_operation_name = 'execute_tool' AND s.status_code = 'error'),
    t.output_text,
    COALESCE((SELECT jsonb_agg(jsonb_build_object('name', e.name, 'label', e.score_label, 'score', e.score_value, 'source', e.source,
                'polarity', e.polarity, 'explanation', e.explanation) ORDER BY e.time, e.id)
              FROM verdict.evaluations e WHERE e.target_trace_id = t.trace_id), '[]'::jsonb)
  FROM verdict.traces t
  WHERE t.trace_id = run
$$;

-- The best and the worst run of each task with both, side by side, for
-- tasks with runs started between `since` and `until`.
CREATE FUNCTION verdict.task_comparisons_between(since timestamptz, until timestamptz)
RETURNS TABLE (
  task_id text, agent_name text, task text, runs bigint, good_runs bigint, bad_runs bigint,
  good_trace_id text, bad_trace_id text,
  good_tools text[], bad_tools text[], good_spans bigint, bad_spans bigint,
  good_tokens numeric, bad_tokens numeric, good_duration_ms double precision, bad_duration_ms double precision,
  good_errors bigint, bad_errors bigint, good_verdicts jsonb, bad_verdicts jsonb)
LANGUAGE sql STABLE AS $$
  SELECT
    k.task_id, k.agent_name, k.task, k.runs, k.good_runs, k.bad_runs,
    g.trace_id, b.trace_id, g.tools, b.tools, g.span_count, b.span_count,
    COALESCE(g.input_tokens, 0) + COALESCE(g.output_tokens, 0), COALESCE(b.input_tokens, 0) + COALESCE(b.output_tokens, 0),
    g.duration_ms, b.duration_ms, g.error_count, b.error_count, g.verdicts, b.verdicts
  FROM verdict.tasks_between(since, until) k
  CROSS JOIN LATERAL verdict.run_profile(k.best_trace_id) g
  CROSS JOIN LATERAL verdict.run_profile(k.worst_trace_id) b
$$;

-- Tasks of the last 7 days with a good and a bad run, side by side.
CREATE VIEW verdict.task_comparisons AS
SELECT * FROM verdict.task_comparisons_between(now() - interval '7 days', now());
