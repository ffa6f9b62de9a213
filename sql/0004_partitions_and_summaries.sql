-- Reads that cost the same at ten million spans as at ten thousand.
--
-- * Spans, log records and verdicts are partitioned by day (declarative range
--   partitioning on their time), so time filters touch only their days and
--   retention drops whole partitions. Partitions are created ahead, and on
--   demand, by verdict.ensure_partition (called by the receiver); rows outside
--   the window it manages land in a default partition.
-- * Resource attributes are stored once, in verdict.resources, keyed by their
--   content; spans and log records reference them (the views still show them).
-- * One row per run (verdict.trace_summary) and per conversation
--   (verdict.conversation_summary), and per-minute rollups for dashboards, are
--   kept at ingest in the same transaction as the rows they summarise.
-- * A verdict is resolved to what it judges (trace, span, and that span's
--   facts) when it arrives, or when its target arrives after it
--   (verdict.pending_verdicts holds those still waiting).
--
-- The SQL contract keeps its names: verdict.spans, verdict.logs,
-- verdict.evaluations, verdict.traces, verdict.trace_evaluations and
-- verdict.conversations read as before (spans and logs are now views over
-- the partitioned verdict.span_rows and verdict.log_rows).

DROP VIEW verdict.conversations;
DROP VIEW verdict.trace_evaluations;
DROP VIEW verdict.traces;
ALTER TABLE verdict.spans RENAME TO spans_0003;
ALTER TABLE verdict.logs RENAME TO logs_0003;
ALTER TABLE verdict.evaluations RENAME TO evaluations_0003;
-- Index names are per schema: free the ones the new tables reuse.
ALTER INDEX verdict.spans_pkey RENAME TO spans_0003_pkey;
ALTER INDEX verdict.logs_pkey RENAME TO logs_0003_pkey;
ALTER INDEX verdict.evaluations_pkey RENAME TO evaluations_0003_pkey;
DROP INDEX verdict.evaluations_trace, verdict.evaluations_response_id, verdict.evaluations_conversation_id,
  verdict.evaluations_time, verdict.evaluations_without_trace;

-- ---------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------

-- a + b where NULL means "nothing counted yet" (a sum over no values). Token sums are
-- numeric: a sender's absurd count must not overflow a run's total and refuse the batch.
CREATE FUNCTION verdict.nsum(a numeric, b numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE a + b END;

-- Adds two {"source": {"polarity": n}} counters.
CREATE FUNCTION verdict.add_counts(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
  SELECT COALESCE(jsonb_object_agg(source, polarities), '{}'::jsonb)
  FROM (
    SELECT source, jsonb_object_agg(polarity, n) AS polarities
    FROM (
      SELECT x.key AS source, y.key AS polarity, sum(y.value::bigint) AS n
      FROM (SELECT * FROM jsonb_each(COALESCE(a, '{}'::jsonb)) UNION ALL SELECT * FROM jsonb_each(COALESCE(b, '{}'::jsonb))) x,
           jsonb_each_text(x.value) y
      GROUP BY 1, 2
    ) per_polarity
    GROUP BY source
  ) per_source
);

CREATE AGGREGATE verdict.sum_counts(jsonb) (SFUNC = verdict.add_counts, STYPE = jsonb, INITCOND = '{}');

-- The counters negated, to take them away with add_counts.
CREATE FUNCTION verdict.neg_counts(a jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
  SELECT COALESCE(jsonb_object_agg(x.key, (SELECT jsonb_object_agg(y.key, -(y.value::bigint)) FROM jsonb_each_text(x.value) y)), '{}'::jsonb)
  FROM jsonb_each(COALESCE(a, '{}'::jsonb)) x
);

-- Latency histograms: bucket 0 holds durations under 1 ms; bucket b ≥ 1
-- holds [2^((b-1)/4), 2^(b/4)) ms, so a bucket's upper edge is at most 19 %
-- above any duration in it.
CREATE FUNCTION verdict.latency_bucket_upper_ms(bucket integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN bucket <= 0 THEN 1.0 ELSE power(2.0, bucket::double precision / 4.0) END;

-- The p-quantile (0..1) of a histogram given as parallel arrays of buckets and
-- counts (a bucket may repeat: its counts add up), in ms: the upper edge of
-- the bucket it falls in. For example, over the histograms of
-- verdict.latency_rollup rows:
--   SELECT verdict.latency_percentile(array_agg(h.bucket), array_agg(h.count), 0.95)
--   FROM verdict.latency_rollup r, unnest(r.buckets, r.counts) AS h(bucket, count)
CREATE FUNCTION verdict.latency_percentile(buckets smallint[], counts integer[], p double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
  SELECT verdict.latency_bucket_upper_ms(b)
  FROM (
    SELECT b, sum(sum(n::bigint)) OVER (ORDER BY b) AS cum, sum(sum(n::bigint)) OVER () AS total
    FROM unnest(buckets, counts) AS u(b, n)
    GROUP BY b
  ) x
  WHERE cum >= p * total
  ORDER BY b
  LIMIT 1
);

-- ---------------------------------------------------------------------------
-- Resources
-- ---------------------------------------------------------------------------

CREATE TABLE verdict.resources (
  resource_id      text        PRIMARY KEY,   -- hash of the attributes and schema URL as sent
  service_name     text,
  service_version  text,
  attributes       jsonb       NOT NULL,
  schema_url       text,
  first_seen       timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- Spans, log records and verdicts, partitioned by day
-- ---------------------------------------------------------------------------

CREATE TABLE verdict.span_rows (
  trace_id                 text        NOT NULL,
  span_id                  text        NOT NULL,
  parent_span_id           text,
  trace_state              text,
  name                     text        NOT NULL,
  kind                     text        NOT NULL,
  start_time               timestamptz NOT NULL,
  end_time                 timestamptz NOT NULL,
  start_time_unix_nano     bigint      NOT NULL,
  end_time_unix_nano       bigint      NOT NULL,
  status_code              text        NOT NULL,
  status_message           text,
  flags                    bigint      NOT NULL,
  resource_id              text,
  service_name             text,
  scope_name               text,
  scope_version            text,
  scope_attributes         jsonb       NOT NULL,
  scope_schema_url         text,
  attributes               jsonb       NOT NULL,
  -- What most spans have none of is NULL here (no bytes): no events, no links,
  -- nothing dropped. verdict.spans shows [] and 0, and the duration, end − start.
  events                   jsonb,
  links                    jsonb,
  dropped_attributes_count bigint,
  dropped_events_count     bigint,
  dropped_links_count      bigint,
  gen_ai_operation_name    text,
  gen_ai_provider_name     text,
  gen_ai_request_model     text,
  gen_ai_response_model    text,
  gen_ai_response_id       text,
  gen_ai_conversation_id   text,
  gen_ai_agent_name        text,
  gen_ai_tool_name         text,
  gen_ai_input_tokens      bigint,
  gen_ai_output_tokens     bigint,
  -- The partition key is part of every unique key; a re-sent span has the same start time, so it is still stored once.
  PRIMARY KEY (trace_id, span_id, start_time)
) PARTITION BY RANGE (start_time);

CREATE INDEX span_rows_start_time ON verdict.span_rows USING brin (start_time);
CREATE INDEX span_rows_roots ON verdict.span_rows (start_time) WHERE parent_span_id IS NULL;
CREATE INDEX span_rows_response_id ON verdict.span_rows (gen_ai_response_id) WHERE gen_ai_response_id IS NOT NULL;
CREATE INDEX span_rows_conversation_id ON verdict.span_rows (gen_ai_conversation_id) WHERE gen_ai_conversation_id IS NOT NULL;

CREATE TABLE verdict.log_rows (
  id                       text        NOT NULL,
  trace_id                 text,
  span_id                  text,
  time                     timestamptz NOT NULL,
  observed_time            timestamptz NOT NULL,
  time_unix_nano           bigint      NOT NULL,
  observed_time_unix_nano  bigint      NOT NULL,
  severity_number          integer     NOT NULL,
  severity_text            text,
  event_name               text,
  body                     jsonb,
  attributes               jsonb       NOT NULL,
  resource_id              text,
  service_name             text,
  scope_name               text,
  scope_version            text,
  scope_attributes         jsonb       NOT NULL,
  flags                    bigint      NOT NULL,
  dropped_attributes_count bigint      NOT NULL,
  scope_schema_url         text,
  PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);

CREATE INDEX log_rows_time ON verdict.log_rows USING brin (time);
CREATE INDEX log_rows_trace ON verdict.log_rows (trace_id, span_id) WHERE trace_id IS NOT NULL;

CREATE TABLE verdict.evaluations (
  id                      text             NOT NULL,
  trace_id                text,
  span_id                 text,
  response_id             text,
  conversation_id         text,
  name                    text             NOT NULL,
  score_value             double precision,
  score_label             text,
  explanation             text,
  error_type              text,
  time                    timestamptz      NOT NULL,
  channel                 text             NOT NULL CONSTRAINT evaluations_channel_check CHECK (channel IN ('log', 'span_event', 'api', 'rule')),
  source                  text             CHECK (source IN ('user', 'indirect', 'llm_judge', 'rule', 'reviewer')),
  polarity                text             CHECK (polarity IN ('positive', 'negative', 'neutral')),
  service_name            text,
  attributes              jsonb            NOT NULL,
  -- What the verdict judges, resolved: its trace (given, or through the span
  -- with its response ID), the judged span (for a trace-level verdict, the
  -- run's root) and that span's facts. NULL while the target has not arrived.
  target_trace_id         text,
  target_span_id          text,
  target_span_name        text,
  target_service_name     text,
  target_service_version  text,
  target_operation_name   text,
  target_request_model    text,
  target_response_model   text,
  target_agent_name       text,
  target_conversation_id  text,
  PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);

CREATE INDEX evaluations_target_trace ON verdict.evaluations (target_trace_id, target_span_id) WHERE target_trace_id IS NOT NULL;
CREATE INDEX evaluations_response_id ON verdict.evaluations (response_id) WHERE response_id IS NOT NULL;
CREATE INDEX evaluations_conversation_id ON verdict.evaluations (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX evaluations_time ON verdict.evaluations (time);

-- Every verdict id ever stored, so that a verdict re-sent with another time
-- (a feedback API retry with the caller's id) is still stored once: the
-- partitioned table can only be unique on (id, time).
CREATE TABLE verdict.evaluation_keys (
  id    text        PRIMARY KEY,
  time  timestamptz NOT NULL
);

-- Verdicts whose target has not arrived yet, by what will resolve them.
CREATE TABLE verdict.pending_verdicts (
  id           text        NOT NULL,
  time         timestamptz NOT NULL,
  trace_id     text,        -- a span or trace verdict: waits for the span, or the trace's root
  span_id      text,
  response_id  text,        -- a completion verdict: waits for the span with this response ID
  PRIMARY KEY (id, time)
);
CREATE INDEX pending_verdicts_trace ON verdict.pending_verdicts (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX pending_verdicts_response ON verdict.pending_verdicts (response_id) WHERE response_id IS NOT NULL;

CREATE TABLE verdict.span_rows_default PARTITION OF verdict.span_rows DEFAULT;
CREATE TABLE verdict.log_rows_default PARTITION OF verdict.log_rows DEFAULT;
CREATE TABLE verdict.evaluations_default PARTITION OF verdict.evaluations DEFAULT;

-- Creates the partition of `parent` (span_rows, log_rows or evaluations) for
-- the UTC day `day`, moving any rows of that day out of the default
-- partition first. Idempotent, and serialised across sessions.
CREATE FUNCTION verdict.ensure_partition(parent text, day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  name text := parent || '_' || to_char(day, 'YYYYMMDD');
  key text := CASE parent WHEN 'span_rows' THEN 'start_time' ELSE 'time' END;
  lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF parent NOT IN ('span_rows', 'log_rows', 'evaluations') THEN
    RAISE EXCEPTION 'not a partitioned Verdict table: %', parent;
  END IF;
  IF to_regclass('verdict.' || name) IS NOT NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('verdict.ensure_partition:' || name, 0));
  EXECUTE format('CREATE TABLE verdict.%I (LIKE verdict.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
  EXECUTE format(
    'WITH moved AS (DELETE FROM verdict.%I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO verdict.%I SELECT * FROM moved',
    parent || '_default', key, key, name) USING lo, hi;
  EXECUTE format('ALTER TABLE verdict.%I ATTACH PARTITION verdict.%I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
  RETURN true;
EXCEPTION WHEN duplicate_table THEN
  -- Another session created it first (the lock orders the two, but this one's catalog view predates the other's commit).
  RETURN false;
END
$$;

-- The day partitions that exist, for the receiver's cache and for retention.
CREATE VIEW verdict.partitions AS
SELECT
  parent.relname::text AS parent,
  child.relname::text AS partition,
  to_date(right(child.relname, 8), 'YYYYMMDD') AS day
FROM pg_inherits i
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = 'verdict'
  AND parent.relname IN ('span_rows', 'log_rows', 'evaluations')
  AND child.relname ~ '_[0-9]{8}$';

-- ---------------------------------------------------------------------------
-- Summaries kept at ingest
-- ---------------------------------------------------------------------------

-- One row per run. Merged from each batch's newly stored spans and verdicts.
-- A row with span_count 0 is a placeholder for verdicts whose run has not
-- arrived (verdict.traces does not list it). The prev_* columns hold what the
-- row said before its last change, so that run rollups can move a run from
-- the bucket it was counted in to its new one in the same statement.
CREATE TABLE verdict.trace_summary (
  trace_id                  text        PRIMARY KEY,
  span_count                bigint      NOT NULL DEFAULT 0,
  error_count               bigint      NOT NULL DEFAULT 0,
  start_time_unix_nano      bigint,
  end_time_unix_nano        bigint,
  start_time                timestamptz,
  end_time                  timestamptz,
  -- The root: the span without a parent, else the earliest span so far (ties by span ID).
  root_span_id              text,
  root_name                 text,
  root_is_root              boolean     NOT NULL DEFAULT false,
  root_start_time           timestamptz,
  root_start_time_unix_nano bigint,
  service_name              text,        -- the root's
  service_version           text,
  agent_name                text,
  conversation_id           text,        -- the greatest gen_ai.conversation.id of its spans
  model                     text,        -- the response (else request) model of its last-ending model call
  model_end_time_unix_nano  bigint,
  -- Tokens of inference spans; of agent and workflow spans separately (they usually repeat their children's).
  leaf_input_tokens         numeric,
  leaf_output_tokens        numeric,
  aggregate_input_tokens    numeric,
  aggregate_output_tokens   numeric,
  verdicts                  bigint      NOT NULL DEFAULT 0,
  positive_verdicts         bigint      NOT NULL DEFAULT 0,
  negative_verdicts         bigint      NOT NULL DEFAULT 0,
  neutral_verdicts          bigint      NOT NULL DEFAULT 0,
  user_verdicts             bigint      NOT NULL DEFAULT 0,
  indirect_verdicts         bigint      NOT NULL DEFAULT 0,
  llm_judge_verdicts        bigint      NOT NULL DEFAULT 0,
  rule_verdicts             bigint      NOT NULL DEFAULT 0,
  reviewer_verdicts         bigint      NOT NULL DEFAULT 0,
  verdicts_by_source        jsonb       NOT NULL DEFAULT '{}',
  prev_counted              boolean,
  prev_minute               timestamptz,
  prev_service_name         text,
  prev_service_version      text,
  prev_flags                integer,
  prev_conversation_id      text
);
CREATE INDEX trace_summary_start_time ON verdict.trace_summary (start_time);
CREATE INDEX trace_summary_end_time ON verdict.trace_summary (end_time);
CREATE INDEX trace_summary_conversation ON verdict.trace_summary (conversation_id) WHERE conversation_id IS NOT NULL;

-- What a run counts as in verdict.run_rollup (bits: error, any verdict, a verdict from each source, a human's).
CREATE FUNCTION verdict.run_flags(t verdict.trace_summary) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- (Bitwise operators share one precedence level in PostgreSQL: each shift is parenthesised.)
RETURN (t.error_count > 0)::int
     | ((t.verdicts > 0)::int << 1)
     | ((t.user_verdicts > 0)::int << 2)
     | ((t.indirect_verdicts > 0)::int << 3)
     | ((t.llm_judge_verdicts > 0)::int << 4)
     | ((t.rule_verdicts > 0)::int << 5)
     | ((t.reviewer_verdicts > 0)::int << 6)
     | ((t.user_verdicts > 0 OR t.reviewer_verdicts > 0)::int << 7);

-- One row per conversation: when it was active, how many runs it has, the
-- verdicts on its runs (moved along when a run's conversation is learnt or
-- changes) and the verdicts on the thread itself. Kept at ingest, so lists
-- of conversations sort and filter without reading their runs.
CREATE TABLE verdict.conversation_summary (
  conversation_id             text        PRIMARY KEY,
  start_time                  timestamptz,
  end_time                    timestamptz,
  trace_count                 bigint      NOT NULL DEFAULT 0,
  run_verdicts                bigint      NOT NULL DEFAULT 0,
  run_positive_verdicts       bigint      NOT NULL DEFAULT 0,
  run_negative_verdicts       bigint      NOT NULL DEFAULT 0,
  run_neutral_verdicts        bigint      NOT NULL DEFAULT 0,
  run_user_verdicts           bigint      NOT NULL DEFAULT 0,
  run_indirect_verdicts       bigint      NOT NULL DEFAULT 0,
  run_llm_judge_verdicts      bigint      NOT NULL DEFAULT 0,
  run_rule_verdicts           bigint      NOT NULL DEFAULT 0,
  run_reviewer_verdicts       bigint      NOT NULL DEFAULT 0,
  run_verdicts_by_source      jsonb       NOT NULL DEFAULT '{}',
  thread_verdicts             bigint      NOT NULL DEFAULT 0,
  thread_positive_verdicts    bigint      NOT NULL DEFAULT 0,
  thread_negative_verdicts    bigint      NOT NULL DEFAULT 0,
  thread_neutral_verdicts     bigint      NOT NULL DEFAULT 0,
  thread_user_verdicts        bigint      NOT NULL DEFAULT 0,
  thread_indirect_verdicts    bigint      NOT NULL DEFAULT 0,
  thread_llm_judge_verdicts   bigint      NOT NULL DEFAULT 0,
  thread_rule_verdicts        bigint      NOT NULL DEFAULT 0,
  thread_reviewer_verdicts    bigint      NOT NULL DEFAULT 0,
  thread_verdicts_by_source   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX conversation_summary_end_time ON verdict.conversation_summary (end_time);

-- The repeat rule's memory, pruned and read by time.
CREATE INDEX user_turns_time ON verdict.user_turns (time);

-- ---------------------------------------------------------------------------
-- Rollups for dashboards, per minute and per hour
-- ---------------------------------------------------------------------------
-- Per minute for charts of the last hours and days; per hour for weeks and
-- months, where reading minutes would mean 60 times the rows. Both are kept
-- at ingest, in the same transaction as the spans, and hold the same sums.

-- Spans by the minute they started.
CREATE TABLE verdict.span_rollup (
  minute           timestamptz NOT NULL,
  service_name     text,
  service_version  text,
  operation        text,        -- gen_ai.operation.name
  model            text,        -- response model, else request model
  agent            text,        -- gen_ai.agent.name
  spans            bigint      NOT NULL,
  roots            bigint      NOT NULL,   -- spans without a parent: runs started
  errors           bigint      NOT NULL,
  input_tokens     numeric     NOT NULL,
  output_tokens    numeric     NOT NULL,
  duration_ns      double precision NOT NULL,   -- for averages; a float, so no sender's duration overflows it
  UNIQUE NULLS NOT DISTINCT (minute, service_name, service_version, operation, model, agent)
);

-- The same by the hour they started, and by tool (gen_ai.tool.name) too.
CREATE TABLE verdict.span_rollup_hourly (
  hour             timestamptz NOT NULL,
  service_name     text,
  service_version  text,
  operation        text,
  model            text,
  agent            text,
  tool             text,
  spans            bigint      NOT NULL,
  roots            bigint      NOT NULL,
  errors           bigint      NOT NULL,
  input_tokens     numeric     NOT NULL,
  output_tokens    numeric     NOT NULL,
  duration_ns      double precision NOT NULL,
  UNIQUE NULLS NOT DISTINCT (hour, service_name, service_version, operation, model, agent, tool)
);

-- Span durations by the minute they started: a histogram per service and
-- operation, as parallel arrays (the buckets present, ascending, and the
-- spans in each; see verdict.latency_bucket_upper_ms).
CREATE TABLE verdict.latency_rollup (
  minute        timestamptz NOT NULL,
  service_name  text,
  operation     text,
  spans         bigint      NOT NULL,   -- the sum of counts
  buckets       smallint[]  NOT NULL,
  counts        integer[]   NOT NULL,
  UNIQUE NULLS NOT DISTINCT (minute, service_name, operation)
);

-- The same by the hour they started, and by tool too.
CREATE TABLE verdict.latency_rollup_hourly (
  hour          timestamptz NOT NULL,
  service_name  text,
  operation     text,
  tool          text,
  spans         bigint      NOT NULL,
  buckets       smallint[]  NOT NULL,
  counts        integer[]   NOT NULL,
  UNIQUE NULLS NOT DISTINCT (hour, service_name, operation, tool)
);

-- Runs by the minute they started, with the root's service and version.
CREATE TABLE verdict.run_rollup (
  minute                    timestamptz NOT NULL,
  service_name              text,
  service_version           text,
  runs                      bigint      NOT NULL,
  runs_with_error           bigint      NOT NULL,
  runs_with_verdict         bigint      NOT NULL,
  runs_with_user_verdict    bigint      NOT NULL,
  runs_with_indirect_verdict bigint     NOT NULL,
  runs_with_llm_judge_verdict bigint    NOT NULL,
  runs_with_rule_verdict    bigint      NOT NULL,
  runs_with_reviewer_verdict bigint     NOT NULL,
  runs_with_human_verdict   bigint      NOT NULL,   -- a user's or a reviewer's
  UNIQUE NULLS NOT DISTINCT (minute, service_name, service_version)
);

-- Verdicts by the minute they were made, with the facts of what they judge.
CREATE TABLE verdict.verdict_rollup (
  minute           timestamptz NOT NULL,
  name             text        NOT NULL,
  label            text,
  source           text,
  polarity         text,
  service_name     text,        -- of the judged span (a run: its root)
  service_version  text,
  model            text,        -- the judged span's response model, else its request model
  agent            text,        -- the judged span's gen_ai.agent.name
  verdicts         bigint      NOT NULL,
  score_sum        double precision NOT NULL DEFAULT 0,
  scored           bigint      NOT NULL DEFAULT 0,
  UNIQUE NULLS NOT DISTINCT (minute, name, label, source, polarity, service_name, service_version, model, agent)
);

-- ---------------------------------------------------------------------------
-- The views of the SQL contract
-- ---------------------------------------------------------------------------

CREATE VIEW verdict.spans AS
SELECT
  s.trace_id, s.span_id, s.parent_span_id, s.trace_state, s.name, s.kind, s.start_time, s.end_time,
  s.start_time_unix_nano, s.end_time_unix_nano, s.end_time_unix_nano - s.start_time_unix_nano AS duration_ns,
  s.status_code, s.status_message, s.flags,
  s.service_name, s.scope_name, s.scope_version, s.scope_attributes,
  COALESCE(r.attributes, '{}'::jsonb) AS resource_attributes,
  s.attributes, COALESCE(s.events, '[]'::jsonb) AS events, COALESCE(s.links, '[]'::jsonb) AS links,
  COALESCE(s.dropped_attributes_count, 0) AS dropped_attributes_count, COALESCE(s.dropped_events_count, 0) AS dropped_events_count,
  COALESCE(s.dropped_links_count, 0) AS dropped_links_count,
  r.schema_url AS resource_schema_url, s.scope_schema_url,
  s.gen_ai_operation_name, s.gen_ai_provider_name, s.gen_ai_request_model, s.gen_ai_response_model, s.gen_ai_response_id,
  s.gen_ai_conversation_id, s.gen_ai_agent_name, s.gen_ai_tool_name, s.gen_ai_input_tokens, s.gen_ai_output_tokens,
  s.resource_id, r.service_version
FROM verdict.span_rows s
LEFT JOIN verdict.resources r ON r.resource_id = s.resource_id;

CREATE VIEW verdict.logs AS
SELECT
  l.id, l.trace_id, l.span_id, l.time, l.observed_time, l.time_unix_nano, l.observed_time_unix_nano,
  l.severity_number, l.severity_text, l.event_name, l.body, l.attributes,
  COALESCE(r.attributes, '{}'::jsonb) AS resource_attributes,
  l.service_name, l.scope_name, l.scope_version, l.scope_attributes, l.flags, l.dropped_attributes_count,
  r.schema_url AS resource_schema_url, l.scope_schema_url, l.resource_id
FROM verdict.log_rows l
LEFT JOIN verdict.resources r ON r.resource_id = l.resource_id;

-- One row per run, from the summary kept at ingest. Token totals count
-- inference spans; agent and workflow spans, which usually repeat their
-- children's usage, count only when a run has nothing else.
CREATE VIEW verdict.traces AS
SELECT
  t.trace_id,
  t.root_span_id,
  t.root_name,
  t.service_name,
  t.start_time,
  t.end_time,
  ((t.end_time_unix_nano - t.start_time_unix_nano) / 1e6)::double precision AS duration_ms,
  t.span_count,
  t.error_count,
  COALESCE(t.leaf_input_tokens, t.aggregate_input_tokens) AS input_tokens,
  COALESCE(t.leaf_output_tokens, t.aggregate_output_tokens) AS output_tokens,
  t.conversation_id,
  t.service_version,
  t.agent_name,
  t.model,
  t.root_is_root AS has_root,
  t.verdicts,
  t.positive_verdicts,
  t.negative_verdicts,
  t.neutral_verdicts,
  t.user_verdicts,
  t.indirect_verdicts,
  t.llm_judge_verdicts,
  t.rule_verdicts,
  t.reviewer_verdicts,
  t.verdicts_by_source
FROM verdict.trace_summary t
WHERE t.span_count > 0;

-- One row per verdict with what it judges, resolved at ingest.
CREATE VIEW verdict.trace_evaluations AS
SELECT
  e.id,
  e.target_trace_id AS trace_id,
  CASE WHEN e.trace_id IS NULL THEN e.target_span_id ELSE e.span_id END AS span_id,
  e.response_id,
  COALESCE(e.conversation_id, e.target_conversation_id, t.conversation_id) AS conversation_id,
  e.name,
  e.score_value,
  e.score_label,
  e.explanation,
  e.error_type,
  e.time,
  e.channel,
  e.source,
  e.polarity,
  e.service_name AS evaluator_service_name,
  e.attributes,
  e.target_span_name AS span_name,
  e.target_service_name AS service_name,
  e.target_operation_name AS gen_ai_operation_name,
  e.target_request_model AS gen_ai_request_model,
  e.target_response_model AS gen_ai_response_model,
  e.target_agent_name AS gen_ai_agent_name,
  CASE
    WHEN e.span_id IS NOT NULL THEN 'span'
    WHEN e.trace_id IS NOT NULL THEN 'trace'
    WHEN e.response_id IS NOT NULL THEN 'completion'
    WHEN e.conversation_id IS NOT NULL THEN 'conversation'
    ELSE 'none'
  END AS target,
  e.target_service_version AS service_version
FROM verdict.evaluations e
LEFT JOIN verdict.trace_summary t ON t.trace_id = e.target_trace_id;

-- One row per conversation. Run and verdict counts come from the summary
-- kept at ingest; the runs' own totals are read, through the index on
-- trace_summary.conversation_id, only for the rows a query returns (a
-- LIMIT evaluates them after sorting).
CREATE VIEW verdict.conversations AS
SELECT
  c.conversation_id,
  c.trace_count,
  COALESCE((SELECT array_agg(t.trace_id ORDER BY t.start_time, t.trace_id) FROM verdict.trace_summary t
            WHERE t.conversation_id = c.conversation_id AND t.span_count > 0), ARRAY[]::text[]) AS trace_ids,
  (SELECT min(t.start_time) FROM verdict.trace_summary t WHERE t.conversation_id = c.conversation_id AND t.span_count > 0) AS start_time,
  (SELECT max(t.end_time) FROM verdict.trace_summary t WHERE t.conversation_id = c.conversation_id AND t.span_count > 0) AS end_time,
  (SELECT (extract(epoch FROM max(t.end_time) - min(t.start_time)) * 1000)::double precision FROM verdict.trace_summary t
   WHERE t.conversation_id = c.conversation_id AND t.span_count > 0) AS duration_ms,
  COALESCE((SELECT sum(t.span_count) FROM verdict.trace_summary t WHERE t.conversation_id = c.conversation_id AND t.span_count > 0), 0)::bigint AS span_count,
  COALESCE((SELECT sum(t.error_count) FROM verdict.trace_summary t WHERE t.conversation_id = c.conversation_id AND t.span_count > 0), 0)::bigint AS error_count,
  (SELECT sum(COALESCE(t.leaf_input_tokens, t.aggregate_input_tokens)) FROM verdict.trace_summary t
   WHERE t.conversation_id = c.conversation_id AND t.span_count > 0) AS input_tokens,
  (SELECT sum(COALESCE(t.leaf_output_tokens, t.aggregate_output_tokens)) FROM verdict.trace_summary t
   WHERE t.conversation_id = c.conversation_id AND t.span_count > 0) AS output_tokens,
  c.run_verdicts + c.thread_verdicts AS verdicts,
  c.run_positive_verdicts + c.thread_positive_verdicts AS positive_verdicts,
  c.run_negative_verdicts + c.thread_negative_verdicts AS negative_verdicts,
  c.run_neutral_verdicts + c.thread_neutral_verdicts AS neutral_verdicts,
  c.run_user_verdicts + c.thread_user_verdicts AS user_verdicts,
  c.run_indirect_verdicts + c.thread_indirect_verdicts AS indirect_verdicts,
  c.run_llm_judge_verdicts + c.thread_llm_judge_verdicts AS llm_judge_verdicts,
  c.run_rule_verdicts + c.thread_rule_verdicts AS rule_verdicts,
  c.run_reviewer_verdicts + c.thread_reviewer_verdicts AS reviewer_verdicts,
  verdict.add_counts(c.run_verdicts_by_source, c.thread_verdicts_by_source) AS verdicts_by_source,
  c.end_time AS last_activity
FROM verdict.conversation_summary c;

-- ---------------------------------------------------------------------------
-- Moving what is stored into the new tables
-- ---------------------------------------------------------------------------

-- Day partitions for the days that hold data, within the window the receiver
-- manages (a month back, two days ahead); the rest goes to the default partitions.
SELECT verdict.ensure_partition(p.parent, p.day)
FROM (
  SELECT DISTINCT 'span_rows' AS parent, (start_time AT TIME ZONE 'UTC')::date AS day FROM verdict.spans_0003
  UNION SELECT DISTINCT 'log_rows', (time AT TIME ZONE 'UTC')::date FROM verdict.logs_0003
  UNION SELECT DISTINCT 'evaluations', (time AT TIME ZONE 'UTC')::date FROM verdict.evaluations_0003
) p
WHERE p.day BETWEEN (now() AT TIME ZONE 'UTC')::date - 31 AND (now() AT TIME ZONE 'UTC')::date + 2;

INSERT INTO verdict.resources (resource_id, service_name, service_version, attributes, schema_url)
SELECT DISTINCT ON (id) id, attributes ->> 'service.name', attributes ->> 'service.version', attributes, schema_url
FROM (
  SELECT 'm' || md5(resource_attributes::text || E'\x1f' || COALESCE(resource_schema_url, '')) AS id, resource_attributes AS attributes, resource_schema_url AS schema_url
  FROM verdict.spans_0003
  UNION ALL
  SELECT 'm' || md5(resource_attributes::text || E'\x1f' || COALESCE(resource_schema_url, '')), resource_attributes, resource_schema_url
  FROM verdict.logs_0003
) r
ORDER BY id;

INSERT INTO verdict.span_rows
SELECT
  trace_id, span_id, parent_span_id, trace_state, name, kind, start_time, end_time, start_time_unix_nano, end_time_unix_nano,
  status_code, status_message, flags,
  'm' || md5(resource_attributes::text || E'\x1f' || COALESCE(resource_schema_url, '')),
  service_name, scope_name, scope_version, scope_attributes, scope_schema_url, attributes,
  NULLIF(events, '[]'::jsonb), NULLIF(links, '[]'::jsonb),
  NULLIF(dropped_attributes_count, 0), NULLIF(dropped_events_count, 0), NULLIF(dropped_links_count, 0),
  gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model, gen_ai_response_model, gen_ai_response_id,
  gen_ai_conversation_id, gen_ai_agent_name, gen_ai_tool_name, gen_ai_input_tokens, gen_ai_output_tokens
FROM verdict.spans_0003;

INSERT INTO verdict.log_rows
SELECT
  id, trace_id, span_id, time, observed_time, time_unix_nano, observed_time_unix_nano, severity_number, severity_text,
  event_name, body, attributes,
  'm' || md5(resource_attributes::text || E'\x1f' || COALESCE(resource_schema_url, '')),
  service_name, scope_name, scope_version, scope_attributes, flags, dropped_attributes_count, scope_schema_url
FROM verdict.logs_0003;

-- The summaries, recomputed from the spans (ingest merges the same definitions batch by batch).
INSERT INTO verdict.trace_summary (
  trace_id, span_count, error_count, start_time_unix_nano, end_time_unix_nano, start_time, end_time,
  root_span_id, root_name, root_is_root, root_start_time, root_start_time_unix_nano, service_name, service_version, agent_name,
  conversation_id, model, model_end_time_unix_nano,
  leaf_input_tokens, leaf_output_tokens, aggregate_input_tokens, aggregate_output_tokens)
SELECT
  s.trace_id, count(*), count(*) FILTER (WHERE s.status_code = 'error'),
  min(s.start_time_unix_nano), max(s.end_time_unix_nano), min(s.start_time), max(s.end_time),
  root.span_id, root.name, root.parent_span_id IS NULL, root.start_time, root.start_time_unix_nano, root.service_name, root.service_version, root.gen_ai_agent_name,
  max(s.gen_ai_conversation_id), last_model.model, last_model.end_ns,
  sum(s.gen_ai_input_tokens) FILTER (WHERE s.gen_ai_operation_name IS NULL OR s.gen_ai_operation_name NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
  sum(s.gen_ai_output_tokens) FILTER (WHERE s.gen_ai_operation_name IS NULL OR s.gen_ai_operation_name NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
  sum(s.gen_ai_input_tokens) FILTER (WHERE s.gen_ai_operation_name IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
  sum(s.gen_ai_output_tokens) FILTER (WHERE s.gen_ai_operation_name IN ('invoke_agent', 'invoke_workflow', 'create_agent'))
FROM verdict.spans s
CROSS JOIN LATERAL (
  SELECT x.span_id, x.name, x.parent_span_id, x.start_time, x.start_time_unix_nano, x.service_name, x.service_version, x.gen_ai_agent_name
  FROM verdict.spans x WHERE x.trace_id = s.trace_id
  ORDER BY x.parent_span_id IS NOT NULL, x.start_time_unix_nano, x.span_id LIMIT 1
) root
LEFT JOIN LATERAL (
  SELECT COALESCE(x.gen_ai_response_model, x.gen_ai_request_model) AS model, x.end_time_unix_nano AS end_ns
  FROM verdict.spans x WHERE x.trace_id = s.trace_id AND COALESCE(x.gen_ai_response_model, x.gen_ai_request_model) IS NOT NULL
  ORDER BY x.end_time_unix_nano DESC, x.span_id DESC LIMIT 1
) last_model ON true
GROUP BY s.trace_id, root.span_id, root.name, root.parent_span_id, root.start_time, root.start_time_unix_nano, root.service_name, root.service_version, root.gen_ai_agent_name, last_model.model, last_model.end_ns;

-- Verdicts, resolved to what they judge (the span given; a run's root; the first span with the response ID).
INSERT INTO verdict.evaluations
SELECT
  e.id, e.trace_id, e.span_id, e.response_id, e.conversation_id, e.name, e.score_value, e.score_label, e.explanation, e.error_type,
  e.time, e.channel, e.source, e.polarity, e.service_name, e.attributes,
  COALESCE(e.trace_id, s.trace_id), s.span_id, s.name, s.service_name, s.service_version, s.gen_ai_operation_name,
  s.gen_ai_request_model, s.gen_ai_response_model, s.gen_ai_agent_name, s.gen_ai_conversation_id
FROM verdict.evaluations_0003 e
LEFT JOIN LATERAL (
  SELECT x.* FROM verdict.spans x
  WHERE (e.span_id IS NOT NULL AND x.trace_id = e.trace_id AND x.span_id = e.span_id)
     OR (e.trace_id IS NOT NULL AND e.span_id IS NULL AND x.trace_id = e.trace_id
         AND x.span_id = (SELECT t.root_span_id FROM verdict.trace_summary t WHERE t.trace_id = e.trace_id AND t.root_is_root))
     OR (e.trace_id IS NULL AND e.response_id IS NOT NULL AND x.gen_ai_response_id = e.response_id)
  ORDER BY x.start_time, x.span_id
  LIMIT 1
) s ON true;

INSERT INTO verdict.evaluation_keys (id, time) SELECT id, time FROM verdict.evaluations;

INSERT INTO verdict.pending_verdicts (id, time, trace_id, span_id, response_id)
SELECT id, time, trace_id, span_id, CASE WHEN trace_id IS NULL THEN response_id END
FROM verdict.evaluations
WHERE target_span_id IS NULL AND (trace_id IS NOT NULL OR response_id IS NOT NULL);

-- Verdict counters of runs (placeholders for runs that have not arrived).
INSERT INTO verdict.trace_summary AS t (
  trace_id, verdicts, positive_verdicts, negative_verdicts, neutral_verdicts,
  user_verdicts, indirect_verdicts, llm_judge_verdicts, rule_verdicts, reviewer_verdicts, verdicts_by_source)
SELECT
  v.target_trace_id, sum(v.n),
  COALESCE(sum(v.n) FILTER (WHERE v.polarity = 'positive'), 0), COALESCE(sum(v.n) FILTER (WHERE v.polarity = 'negative'), 0),
  COALESCE(sum(v.n) FILTER (WHERE v.polarity = 'neutral'), 0), COALESCE(sum(v.n) FILTER (WHERE v.source = 'user'), 0),
  COALESCE(sum(v.n) FILTER (WHERE v.source = 'indirect'), 0), COALESCE(sum(v.n) FILTER (WHERE v.source = 'llm_judge'), 0),
  COALESCE(sum(v.n) FILTER (WHERE v.source = 'rule'), 0), COALESCE(sum(v.n) FILTER (WHERE v.source = 'reviewer'), 0),
  verdict.sum_counts(jsonb_build_object(COALESCE(v.source, 'unknown'), jsonb_build_object(COALESCE(v.polarity, 'unknown'), v.n)))
FROM (
  SELECT target_trace_id, source, polarity, count(*) AS n FROM verdict.evaluations WHERE target_trace_id IS NOT NULL GROUP BY 1, 2, 3
) v
GROUP BY v.target_trace_id
ON CONFLICT (trace_id) DO UPDATE SET
  verdicts = EXCLUDED.verdicts, positive_verdicts = EXCLUDED.positive_verdicts, negative_verdicts = EXCLUDED.negative_verdicts,
  neutral_verdicts = EXCLUDED.neutral_verdicts, user_verdicts = EXCLUDED.user_verdicts, indirect_verdicts = EXCLUDED.indirect_verdicts,
  llm_judge_verdicts = EXCLUDED.llm_judge_verdicts, rule_verdicts = EXCLUDED.rule_verdicts, reviewer_verdicts = EXCLUDED.reviewer_verdicts,
  verdicts_by_source = EXCLUDED.verdicts_by_source;

INSERT INTO verdict.conversation_summary (
  conversation_id, start_time, end_time, trace_count, run_verdicts, run_positive_verdicts, run_negative_verdicts, run_neutral_verdicts,
  run_user_verdicts, run_indirect_verdicts, run_llm_judge_verdicts, run_rule_verdicts, run_reviewer_verdicts, run_verdicts_by_source)
SELECT conversation_id, min(start_time), max(end_time), count(*), sum(verdicts), sum(positive_verdicts), sum(negative_verdicts),
  sum(neutral_verdicts), sum(user_verdicts), sum(indirect_verdicts), sum(llm_judge_verdicts), sum(rule_verdicts), sum(reviewer_verdicts),
  verdict.sum_counts(verdicts_by_source)
FROM verdict.trace_summary WHERE conversation_id IS NOT NULL AND span_count > 0 GROUP BY 1;

INSERT INTO verdict.conversation_summary AS c (
  conversation_id, thread_verdicts, thread_positive_verdicts, thread_negative_verdicts, thread_neutral_verdicts,
  thread_user_verdicts, thread_indirect_verdicts, thread_llm_judge_verdicts, thread_rule_verdicts, thread_reviewer_verdicts, thread_verdicts_by_source)
SELECT
  conversation_id, count(*), count(*) FILTER (WHERE polarity = 'positive'), count(*) FILTER (WHERE polarity = 'negative'),
  count(*) FILTER (WHERE polarity = 'neutral'), count(*) FILTER (WHERE source = 'user'), count(*) FILTER (WHERE source = 'indirect'),
  count(*) FILTER (WHERE source = 'llm_judge'), count(*) FILTER (WHERE source = 'rule'), count(*) FILTER (WHERE source = 'reviewer'),
  verdict.sum_counts(jsonb_build_object(COALESCE(source, 'unknown'), jsonb_build_object(COALESCE(polarity, 'unknown'), 1)))
FROM verdict.evaluations
WHERE trace_id IS NULL AND response_id IS NULL AND conversation_id IS NOT NULL
GROUP BY conversation_id
ON CONFLICT (conversation_id) DO UPDATE SET
  thread_verdicts = EXCLUDED.thread_verdicts, thread_positive_verdicts = EXCLUDED.thread_positive_verdicts,
  thread_negative_verdicts = EXCLUDED.thread_negative_verdicts, thread_neutral_verdicts = EXCLUDED.thread_neutral_verdicts,
  thread_user_verdicts = EXCLUDED.thread_user_verdicts, thread_indirect_verdicts = EXCLUDED.thread_indirect_verdicts,
  thread_llm_judge_verdicts = EXCLUDED.thread_llm_judge_verdicts, thread_rule_verdicts = EXCLUDED.thread_rule_verdicts,
  thread_reviewer_verdicts = EXCLUDED.thread_reviewer_verdicts, thread_verdicts_by_source = EXCLUDED.thread_verdicts_by_source;

INSERT INTO verdict.span_rollup_hourly
SELECT
  date_trunc('hour', start_time), service_name, service_version, gen_ai_operation_name,
  COALESCE(gen_ai_response_model, gen_ai_request_model), gen_ai_agent_name, gen_ai_tool_name,
  count(*), count(*) FILTER (WHERE parent_span_id IS NULL), count(*) FILTER (WHERE status_code = 'error'),
  COALESCE(sum(gen_ai_input_tokens), 0), COALESCE(sum(gen_ai_output_tokens), 0), sum(duration_ns)
FROM verdict.spans
GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO verdict.span_rollup
SELECT
  date_trunc('minute', start_time), service_name, service_version, gen_ai_operation_name,
  COALESCE(gen_ai_response_model, gen_ai_request_model), gen_ai_agent_name,
  count(*), count(*) FILTER (WHERE parent_span_id IS NULL), count(*) FILTER (WHERE status_code = 'error'),
  COALESCE(sum(gen_ai_input_tokens), 0), COALESCE(sum(gen_ai_output_tokens), 0), sum(duration_ns)
FROM verdict.spans
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TEMP TABLE latency_0003 ON COMMIT DROP AS
SELECT
  date_trunc('minute', start_time) AS minute, service_name, gen_ai_operation_name AS operation, gen_ai_tool_name AS tool,
  (CASE WHEN duration_ns < 1000000 THEN 0 ELSE least(floor(log(2, duration_ns / 1e6) * 4)::int + 1, 32000) END)::smallint AS bucket,
  count(*)::int AS n
FROM verdict.spans
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO verdict.latency_rollup
SELECT minute, service_name, operation, sum(n), array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
FROM (
  SELECT minute, service_name, operation, bucket, sum(n)::int AS n
  FROM latency_0003 GROUP BY 1, 2, 3, 4
) m
GROUP BY 1, 2, 3;

INSERT INTO verdict.latency_rollup_hourly
SELECT hour, service_name, operation, tool, sum(n), array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
FROM (
  SELECT date_trunc('hour', minute) AS hour, service_name, operation, tool, bucket, sum(n)::int AS n
  FROM latency_0003 GROUP BY 1, 2, 3, 4, 5
) h
GROUP BY 1, 2, 3, 4;

INSERT INTO verdict.run_rollup
SELECT
  date_trunc('minute', t.start_time), t.service_name, t.service_version, count(*),
  count(*) FILTER (WHERE t.error_count > 0), count(*) FILTER (WHERE t.verdicts > 0),
  count(*) FILTER (WHERE t.user_verdicts > 0), count(*) FILTER (WHERE t.indirect_verdicts > 0),
  count(*) FILTER (WHERE t.llm_judge_verdicts > 0), count(*) FILTER (WHERE t.rule_verdicts > 0),
  count(*) FILTER (WHERE t.reviewer_verdicts > 0), count(*) FILTER (WHERE t.user_verdicts > 0 OR t.reviewer_verdicts > 0)
FROM verdict.trace_summary t
WHERE t.span_count > 0
GROUP BY 1, 2, 3;

INSERT INTO verdict.verdict_rollup
SELECT
  date_trunc('minute', time), name, score_label, source, polarity, target_service_name, target_service_version,
  COALESCE(target_response_model, target_request_model), target_agent_name,
  count(*), COALESCE(sum(score_value), 0), count(score_value)
FROM verdict.evaluations
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

DROP TABLE verdict.spans_0003;
DROP TABLE verdict.logs_0003;
DROP TABLE verdict.evaluations_0003;
