-- Every GenAI instrumentation in the GenAI columns: message content in one
-- shape, the user, the tool call; verdicts carried as span attributes; and
-- content that arrives in log records. What fills each column, per
-- convention, is in docs/schema.md ("Where each column comes from").

------------------------------------------------------------------------------
-- Part 1: tables. ADD COLUMN works on a plain or a partitioned verdict.spans.
------------------------------------------------------------------------------

ALTER TABLE verdict.spans
  ADD COLUMN user_id                    text,
  ADD COLUMN gen_ai_tool_call_id        text,
  -- The GenAI conventions' shapes: system instructions are a list of parts;
  -- input and output messages lists of {role, parts, finish_reason?}.
  ADD COLUMN gen_ai_system_instructions jsonb,
  ADD COLUMN gen_ai_input_messages      jsonb,
  ADD COLUMN gen_ai_output_messages     jsonb,
  ADD COLUMN gen_ai_tool_call_arguments jsonb,
  ADD COLUMN gen_ai_tool_call_result    jsonb,
  -- The last user message and the answer as plain text, at most 1000
  -- characters.
  ADD COLUMN input_text                 text,
  ADD COLUMN output_text                text,
  -- Where the input and output messages came from: the span itself, or its log records.
  ADD COLUMN gen_ai_content_source      text CHECK (gen_ai_content_source IN ('span', 'logs'));

CREATE INDEX spans_user_id ON verdict.spans (user_id) WHERE user_id IS NOT NULL;

-- Verdicts carried in span attributes (OpenInference annotations and evaluations).
ALTER TABLE verdict.evaluations DROP CONSTRAINT evaluations_channel_check;
ALTER TABLE verdict.evaluations ADD CONSTRAINT evaluations_channel_check
  CHECK (channel IN ('log', 'span_event', 'span_attribute', 'api', 'rule'));

-- Message content that log records carry for their span (converted to the
-- one shape at ingest), kept so that a span arriving after its records, or
-- records arriving in several requests, still get the whole content. Rows
-- go with their log record (the trigger below). No foreign key: its check
-- would lock each record's row as the content is written.
CREATE TABLE verdict.span_messages (
  trace_id        text    NOT NULL,
  span_id         text    NOT NULL,
  log_id          text    NOT NULL,   -- verdict.logs.id
  kind            text    NOT NULL CHECK (kind IN ('input', 'output', 'system')),
  time_unix_nano  bigint  NOT NULL,
  seq             bigint  NOT NULL,   -- the order the receiver read records in: those of one call share a millisecond
  content         jsonb   NOT NULL,   -- messages (input, output) or parts (system)
  text            text,               -- input: the last user message; output: the answer
  PRIMARY KEY (trace_id, span_id, log_id, kind)
);

CREATE FUNCTION verdict.span_messages_follow_logs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM verdict.span_messages m USING gone g
  WHERE m.trace_id = g.trace_id AND m.span_id = g.span_id AND m.log_id = g.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER span_messages_follow_logs AFTER DELETE ON verdict.logs
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION verdict.span_messages_follow_logs();

------------------------------------------------------------------------------
-- Part 2: views that show run and conversation facts. Kept apart so that it
-- can be carried over to a summary table: a run's input_text and
-- output_text are its root span's, else the first model call's input and
-- the last model call's output; user_id is any span's.
------------------------------------------------------------------------------

CREATE OR REPLACE VIEW verdict.traces AS
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
  max(s.gen_ai_conversation_id) AS conversation_id,
  COALESCE(
    (array_agg(s.input_text ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano))[1],
    (array_agg(s.input_text ORDER BY s.start_time_unix_nano)
      FILTER (WHERE s.input_text IS NOT NULL AND s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content')))[1]
  ) AS input_text,
  COALESCE(
    (array_agg(s.output_text ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano))[1],
    (array_agg(s.output_text ORDER BY s.end_time_unix_nano DESC)
      FILTER (WHERE s.output_text IS NOT NULL AND s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content')))[1]
  ) AS output_text,
  max(s.user_id) AS user_id
FROM verdict.spans s
GROUP BY s.trace_id;

CREATE OR REPLACE VIEW verdict.conversations AS
WITH members AS (
  SELECT gen_ai_conversation_id AS conversation_id, trace_id
  FROM verdict.spans
  WHERE gen_ai_conversation_id IS NOT NULL
  GROUP BY 1, 2
),
runs AS (
  SELECT
    m.conversation_id,
    count(*) AS trace_count,
    array_agg(t.trace_id ORDER BY t.start_time) AS trace_ids,
    min(t.start_time) AS start_time,
    max(t.end_time) AS end_time,
    sum(t.span_count) AS span_count,
    sum(t.error_count) AS error_count,
    sum(t.input_tokens) AS input_tokens,
    sum(t.output_tokens) AS output_tokens,
    max(t.user_id) AS user_id
  FROM members m
  CROSS JOIN LATERAL (SELECT * FROM verdict.traces x WHERE x.trace_id = m.trace_id) t
  GROUP BY m.conversation_id
),
verdicts AS (
  SELECT
    conversation_id,
    count(*) AS verdicts,
    count(*) FILTER (WHERE polarity = 'positive') AS positive_verdicts,
    count(*) FILTER (WHERE polarity = 'negative') AS negative_verdicts,
    count(*) FILTER (WHERE polarity = 'neutral') AS neutral_verdicts,
    count(*) FILTER (WHERE source = 'user') AS user_verdicts,
    count(*) FILTER (WHERE source = 'indirect') AS indirect_verdicts,
    count(*) FILTER (WHERE source = 'llm_judge') AS llm_judge_verdicts,
    count(*) FILTER (WHERE source = 'rule') AS rule_verdicts,
    count(*) FILTER (WHERE source = 'reviewer') AS reviewer_verdicts
  FROM verdict.trace_evaluations
  WHERE conversation_id IS NOT NULL
  GROUP BY conversation_id
),
crosstab AS (
  SELECT conversation_id, jsonb_object_agg(source_key, by_polarity) AS verdicts_by_source
  FROM (
    SELECT conversation_id, COALESCE(source, 'unknown') AS source_key, jsonb_object_agg(polarity_key, n) AS by_polarity
    FROM (
      SELECT conversation_id, source, COALESCE(polarity, 'unknown') AS polarity_key, count(*) AS n
      FROM verdict.trace_evaluations
      WHERE conversation_id IS NOT NULL
      GROUP BY 1, 2, 3
    ) counts
    GROUP BY 1, 2
  ) per_source
  GROUP BY conversation_id
)
SELECT
  COALESCE(r.conversation_id, v.conversation_id) AS conversation_id,
  COALESCE(r.trace_count, 0) AS trace_count,
  COALESCE(r.trace_ids, ARRAY[]::text[]) AS trace_ids,
  r.start_time,
  r.end_time,
  ((extract(epoch FROM r.end_time - r.start_time)) * 1000)::double precision AS duration_ms,
  COALESCE(r.span_count, 0) AS span_count,
  COALESCE(r.error_count, 0) AS error_count,
  r.input_tokens,
  r.output_tokens,
  COALESCE(v.verdicts, 0) AS verdicts,
  COALESCE(v.positive_verdicts, 0) AS positive_verdicts,
  COALESCE(v.negative_verdicts, 0) AS negative_verdicts,
  COALESCE(v.neutral_verdicts, 0) AS neutral_verdicts,
  COALESCE(v.user_verdicts, 0) AS user_verdicts,
  COALESCE(v.indirect_verdicts, 0) AS indirect_verdicts,
  COALESCE(v.llm_judge_verdicts, 0) AS llm_judge_verdicts,
  COALESCE(v.rule_verdicts, 0) AS rule_verdicts,
  COALESCE(v.reviewer_verdicts, 0) AS reviewer_verdicts,
  COALESCE(x.verdicts_by_source, '{}'::jsonb) AS verdicts_by_source,
  r.user_id
FROM runs r
FULL JOIN verdicts v ON v.conversation_id = r.conversation_id
LEFT JOIN crosstab x ON x.conversation_id = COALESCE(r.conversation_id, v.conversation_id);
