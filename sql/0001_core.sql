-- Verdict core schema: spans, log records and evaluations, joined on trace ID.
-- The names below are the SQL contract documented in docs/schema.md; keep them stable.
-- Runs on PostgreSQL 15+ and on PGlite.

CREATE SCHEMA IF NOT EXISTS verdict;

-- One row per OTLP span. IDs are lowercase hex; times are kept twice: as
-- timestamptz (microseconds, for time filters) and as exact nanoseconds.
CREATE TABLE verdict.spans (
  trace_id                 text        NOT NULL,
  span_id                  text        NOT NULL,
  parent_span_id           text,
  trace_state              text,
  name                     text        NOT NULL,
  kind                     text        NOT NULL,   -- unspecified|internal|server|client|producer|consumer
  start_time               timestamptz NOT NULL,
  end_time                 timestamptz NOT NULL,
  start_time_unix_nano     bigint      NOT NULL,
  end_time_unix_nano       bigint      NOT NULL,
  duration_ns              bigint      NOT NULL,
  status_code              text        NOT NULL,   -- unset|ok|error
  status_message           text,
  flags                    bigint      NOT NULL,
  service_name             text,
  scope_name               text,
  scope_version            text,
  scope_attributes         jsonb       NOT NULL,
  resource_attributes      jsonb       NOT NULL,
  attributes               jsonb       NOT NULL,
  events                   jsonb       NOT NULL,   -- [{time_unix_nano, name, attributes, dropped_attributes_count}]
  links                    jsonb       NOT NULL,   -- [{trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags}]
  dropped_attributes_count bigint      NOT NULL,
  dropped_events_count     bigint      NOT NULL,
  dropped_links_count      bigint      NOT NULL,
  resource_schema_url      text,
  scope_schema_url         text,
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
  PRIMARY KEY (trace_id, span_id)
);

-- Few indexes on the hot table: each one costs ingest throughput.
CREATE INDEX spans_start_time ON verdict.spans USING brin (start_time);
CREATE INDEX spans_response_id ON verdict.spans (gen_ai_response_id) WHERE gen_ai_response_id IS NOT NULL;
CREATE INDEX spans_conversation_id ON verdict.spans (gen_ai_conversation_id) WHERE gen_ai_conversation_id IS NOT NULL;

-- Log records that are not evaluations: GenAI message events, application logs.
CREATE TABLE verdict.logs (
  id                       text        PRIMARY KEY,  -- content hash: a re-sent record is stored once
  trace_id                 text,
  span_id                  text,
  time                     timestamptz NOT NULL,     -- time_unix_nano, else observed_time_unix_nano
  observed_time            timestamptz NOT NULL,
  time_unix_nano           bigint      NOT NULL,
  observed_time_unix_nano  bigint      NOT NULL,
  severity_number          integer     NOT NULL,
  severity_text            text,
  event_name               text,
  body                     jsonb,
  attributes               jsonb       NOT NULL,
  resource_attributes      jsonb       NOT NULL,
  service_name             text,
  scope_name               text,
  scope_version            text,
  scope_attributes         jsonb       NOT NULL,
  flags                    bigint      NOT NULL,
  dropped_attributes_count bigint      NOT NULL,
  resource_schema_url      text,
  scope_schema_url         text
);

CREATE INDEX logs_time ON verdict.logs USING brin (time);
CREATE INDEX logs_trace ON verdict.logs (trace_id, span_id) WHERE trace_id IS NOT NULL;

-- Verdicts: gen_ai.evaluation.result events, feedback API calls and rule hits.
-- No foreign key to spans: a verdict may arrive before the span it judges.
CREATE TABLE verdict.evaluations (
  id               text             PRIMARY KEY,
  trace_id         text,
  span_id          text,
  response_id      text,
  conversation_id  text,
  name             text             NOT NULL,
  score_value      double precision,
  score_label      text,
  explanation      text,
  error_type       text,
  time             timestamptz      NOT NULL,
  channel          text             NOT NULL CHECK (channel IN ('log', 'span_event', 'api', 'rule')),
  source           text             CHECK (source IN ('user', 'indirect', 'llm_judge', 'rule', 'reviewer')),
  polarity         text             CHECK (polarity IN ('positive', 'negative', 'neutral')),
  service_name     text,
  attributes       jsonb            NOT NULL
);

CREATE INDEX evaluations_trace ON verdict.evaluations (trace_id, span_id);
CREATE INDEX evaluations_response_id ON verdict.evaluations (response_id) WHERE response_id IS NOT NULL;
CREATE INDEX evaluations_conversation_id ON verdict.evaluations (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX evaluations_time ON verdict.evaluations (time);

-- One row per trace. The root is the span without a parent (or, while it has
-- not arrived, the earliest span). Token totals count inference spans; agent
-- and workflow spans, which usually repeat their children's usage, count
-- only when a trace has nothing else.
CREATE VIEW verdict.traces AS
SELECT
  s.trace_id,
  (array_agg(s.span_id ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano))[1] AS root_span_id,
  (array_agg(s.name ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano))[1] AS root_name,
  (array_agg(s.service_name ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano))[1] AS service_name,
  min(s.start_time) AS start_time,
  max(s.end_time) AS end_time,
  ((max(s.end_time_unix_nano) - min(s.start_time_unix_nano)) / 1e6)::double precision AS duration_ms,
  count(*) AS span_count,
  count(*) FILTER (WHERE s.status_code = 'error') AS error_count,
  COALESCE(
    sum(s.gen_ai_input_tokens) FILTER (WHERE s.gen_ai_operation_name IS NULL OR s.gen_ai_operation_name NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
    sum(s.gen_ai_input_tokens)) AS input_tokens,
  COALESCE(
    sum(s.gen_ai_output_tokens) FILTER (WHERE s.gen_ai_operation_name IS NULL OR s.gen_ai_operation_name NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
    sum(s.gen_ai_output_tokens)) AS output_tokens,
  max(s.gen_ai_conversation_id) AS conversation_id
FROM verdict.spans s
GROUP BY s.trace_id;

-- One row per evaluation with the span it judges. An evaluation without trace
-- context is resolved through gen_ai.response.id; being a join, this is right
-- whichever of the two arrived first.
CREATE VIEW verdict.trace_evaluations AS
SELECT
  e.id,
  COALESCE(e.trace_id, r.trace_id) AS trace_id,
  CASE WHEN e.trace_id IS NULL THEN r.span_id ELSE e.span_id END AS span_id,
  e.response_id,
  COALESCE(e.conversation_id, s.gen_ai_conversation_id) AS conversation_id,
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
  s.name AS span_name,
  s.service_name,
  s.gen_ai_operation_name,
  s.gen_ai_request_model,
  s.gen_ai_response_model,
  s.gen_ai_agent_name
FROM verdict.evaluations e
LEFT JOIN LATERAL (
  SELECT x.trace_id, x.span_id
  FROM verdict.spans x
  WHERE e.trace_id IS NULL AND e.response_id IS NOT NULL AND x.gen_ai_response_id = e.response_id
  ORDER BY x.start_time
  LIMIT 1
) r ON true
LEFT JOIN verdict.spans s
  ON s.trace_id = COALESCE(e.trace_id, r.trace_id)
 AND s.span_id = CASE WHEN e.trace_id IS NULL THEN r.span_id ELSE e.span_id END;
