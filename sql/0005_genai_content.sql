-- Every GenAI instrumentation in the GenAI columns: message content in one
-- shape, the user, the tool call; verdicts carried as span attributes; and
-- content that arrives in log records. What fills each column, per
-- convention, is in docs/schema.md ("Where each column comes from").

------------------------------------------------------------------------------
-- Part 1: tables. Added to the partitioned span table, they reach every day's partition.
------------------------------------------------------------------------------

ALTER TABLE verdict.span_rows
  ADD COLUMN user_id                    text,
  ADD COLUMN gen_ai_tool_call_id        text,
  -- The GenAI conventions' shapes: system instructions are a list of parts;
  -- input and output messages lists of {role, parts, finish_reason?}.
  ADD COLUMN gen_ai_system_instructions jsonb,
  ADD COLUMN gen_ai_input_messages      jsonb,
  ADD COLUMN gen_ai_output_messages     jsonb,
  ADD COLUMN gen_ai_tool_call_arguments jsonb,
  ADD COLUMN gen_ai_tool_call_result    jsonb,
  -- Where the input and output messages came from: the span itself, or its log records.
  ADD COLUMN gen_ai_content_source      text CHECK (gen_ai_content_source IN ('span', 'logs')),
  -- Content stored once: a content column that is, byte for byte, the attribute it came from is
  -- left NULL here, and verdict.spans reads it from the attribute. Bits: 1 gen_ai.input.messages,
  -- 2 gen_ai.output.messages, 4 gen_ai.tool.call.arguments, 8 gen_ai.tool.call.result.
  ADD COLUMN content_in_attributes      integer,
  -- The other way round: current GenAI attributes whose column holds exactly
  -- their value are left out of `attributes` (src/normalize/stored-once.ts),
  -- and verdict.spans puts them back from the columns (bits below).
  ADD COLUMN attributes_in_columns      integer;

CREATE INDEX span_rows_user_id ON verdict.span_rows (user_id) WHERE user_id IS NOT NULL;

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
  PRIMARY KEY (trace_id, span_id, log_id, kind)
);

CREATE FUNCTION verdict.span_messages_follow_logs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM verdict.span_messages m USING gone g
  WHERE m.trace_id = g.trace_id AND m.span_id = g.span_id AND m.log_id = g.id;
  RETURN NULL;
END
$$;

-- Deleting log records row by row fires this; dropping a day partition does
-- not, so verdict prune deletes a day's content before it drops the day.
CREATE TRIGGER span_messages_follow_logs AFTER DELETE ON verdict.log_rows
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION verdict.span_messages_follow_logs();

------------------------------------------------------------------------------
-- Part 2: the views show the new columns. A run's user is kept in its
-- summary (the greatest user_id of its spans); its input_text and
-- output_text are its root span's, else the first model call's input and the
-- last model call's output, read from its spans for the rows a query returns.
------------------------------------------------------------------------------

ALTER TABLE verdict.trace_summary ADD COLUMN user_id text;

-- The attributes a span row keeps in its columns only (attributes_in_columns),
-- as they were sent: verdict.spans shows attributes || this.
CREATE FUNCTION verdict.lifted_attributes(s verdict.span_rows) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'gen_ai.operation.name', CASE WHEN s.attributes_in_columns & 1 <> 0 THEN s.gen_ai_operation_name END,
    'gen_ai.provider.name', CASE WHEN s.attributes_in_columns & 2 <> 0 THEN s.gen_ai_provider_name END,
    'gen_ai.request.model', CASE WHEN s.attributes_in_columns & 4 <> 0 THEN s.gen_ai_request_model END,
    'gen_ai.response.model', CASE WHEN s.attributes_in_columns & 8 <> 0 THEN s.gen_ai_response_model END,
    'gen_ai.response.id', CASE WHEN s.attributes_in_columns & 16 <> 0 THEN s.gen_ai_response_id END,
    'gen_ai.conversation.id', CASE WHEN s.attributes_in_columns & 32 <> 0 THEN s.gen_ai_conversation_id END,
    'gen_ai.agent.name', CASE WHEN s.attributes_in_columns & 64 <> 0 THEN s.gen_ai_agent_name END,
    'gen_ai.tool.name', CASE WHEN s.attributes_in_columns & 128 <> 0 THEN s.gen_ai_tool_name END,
    'gen_ai.tool.call.id', CASE WHEN s.attributes_in_columns & 256 <> 0 THEN s.gen_ai_tool_call_id END,
    'gen_ai.usage.input_tokens', CASE WHEN s.attributes_in_columns & 512 <> 0 THEN s.gen_ai_input_tokens END,
    'gen_ai.usage.output_tokens', CASE WHEN s.attributes_in_columns & 1024 <> 0 THEN s.gen_ai_output_tokens END,
    'user.id', CASE WHEN s.attributes_in_columns & 2048 <> 0 THEN s.user_id END))
$$;

-- A span's input and output messages, wherever they are stored (see content_in_attributes).
CREATE FUNCTION verdict.input_messages(s verdict.span_rows) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(s.gen_ai_input_messages, CASE WHEN s.content_in_attributes & 1 <> 0 THEN s.attributes -> 'gen_ai.input.messages' END)
$$;

CREATE FUNCTION verdict.output_messages(s verdict.span_rows) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(s.gen_ai_output_messages, CASE WHEN s.content_in_attributes & 2 <> 0 THEN s.attributes -> 'gen_ai.output.messages' END)
$$;

-- The text of the last message (of those `which` selects, a jsonpath filter)
-- that has text, in messages of the one shape: its text parts, one per line;
-- NULL when there is none. jsonpath keeps this a few microseconds a span.
CREATE FUNCTION verdict.last_text(messages jsonb, which jsonpath) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT nullif(array_to_string(ARRAY(
    SELECT jsonb_array_elements_text(jsonb_path_query_array(
      jsonb_path_query_array(messages, which) -> -1,
      '$.parts[*] ? (@.type == "text" && @.content.type() == "string" && @.content != "").content'))), E'\n'), '')
$$;

-- The last user message that has text (tool results sent as user messages have none).
CREATE FUNCTION verdict.last_user_text(messages jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT verdict.last_text(messages,
    '$[*] ? (@.role == "user" && exists(@.parts[*] ? (@.type == "text" && @.content.type() == "string" && @.content != "")))')
$$;

-- The answer: the last message that has text.
CREATE FUNCTION verdict.answer_text(messages jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT verdict.last_text(messages, '$[*] ? (exists(@.parts[*] ? (@.type == "text" && @.content.type() == "string" && @.content != "")))')
$$;

-- A span's input_text and output_text: the last user message and the answer
-- as plain text, at most 1000 characters, for display, rules and search;
-- derived from the messages, so the text is not stored twice.
CREATE FUNCTION verdict.input_text(s verdict.span_rows) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT left(verdict.last_user_text(verdict.input_messages(s)), 1000)
$$;

CREATE FUNCTION verdict.output_text(s verdict.span_rows) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT left(verdict.answer_text(verdict.output_messages(s)), 1000)
$$;

CREATE OR REPLACE VIEW verdict.spans AS
SELECT
  s.trace_id, s.span_id, s.parent_span_id, s.trace_state, s.name, s.kind, s.start_time, s.end_time,
  s.start_time_unix_nano, s.end_time_unix_nano, s.end_time_unix_nano - s.start_time_unix_nano AS duration_ns,
  s.status_code, s.status_message, s.flags,
  s.service_name, s.scope_name, s.scope_version, s.scope_attributes,
  COALESCE(r.attributes, '{}'::jsonb) AS resource_attributes,
  CASE WHEN s.attributes_in_columns IS NULL THEN s.attributes ELSE s.attributes || verdict.lifted_attributes(s) END AS attributes,
  COALESCE(s.events, '[]'::jsonb) AS events, COALESCE(s.links, '[]'::jsonb) AS links,
  COALESCE(s.dropped_attributes_count, 0) AS dropped_attributes_count, COALESCE(s.dropped_events_count, 0) AS dropped_events_count,
  COALESCE(s.dropped_links_count, 0) AS dropped_links_count,
  r.schema_url AS resource_schema_url, s.scope_schema_url,
  s.gen_ai_operation_name, s.gen_ai_provider_name, s.gen_ai_request_model, s.gen_ai_response_model, s.gen_ai_response_id,
  s.gen_ai_conversation_id, s.gen_ai_agent_name, s.gen_ai_tool_name, s.gen_ai_input_tokens, s.gen_ai_output_tokens,
  s.resource_id, r.service_version,
  s.user_id, s.gen_ai_tool_call_id, s.gen_ai_system_instructions,
  verdict.input_messages(s) AS gen_ai_input_messages,
  verdict.output_messages(s) AS gen_ai_output_messages,
  COALESCE(s.gen_ai_tool_call_arguments, CASE WHEN s.content_in_attributes & 4 <> 0 THEN s.attributes -> 'gen_ai.tool.call.arguments' END) AS gen_ai_tool_call_arguments,
  COALESCE(s.gen_ai_tool_call_result, CASE WHEN s.content_in_attributes & 8 <> 0 THEN s.attributes -> 'gen_ai.tool.call.result' END) AS gen_ai_tool_call_result,
  verdict.input_text(s) AS input_text, verdict.output_text(s) AS output_text, s.gen_ai_content_source
FROM verdict.span_rows s
LEFT JOIN verdict.resources r ON r.resource_id = s.resource_id;

CREATE OR REPLACE VIEW verdict.traces AS
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
  t.verdicts_by_source,
  t.user_id,
  COALESCE(
    (SELECT verdict.input_text(s) FROM verdict.span_rows s
     WHERE s.trace_id = t.trace_id AND s.span_id = t.root_span_id AND s.start_time = t.root_start_time),
    (SELECT x.text FROM verdict.span_rows s CROSS JOIN LATERAL (SELECT verdict.input_text(s) AS text) x
     WHERE s.trace_id = t.trace_id AND s.start_time BETWEEN t.start_time AND t.end_time
       AND s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content') AND x.text IS NOT NULL
     ORDER BY s.start_time_unix_nano, s.span_id COLLATE "C" LIMIT 1)
  ) AS input_text,
  COALESCE(
    (SELECT verdict.output_text(s) FROM verdict.span_rows s
     WHERE s.trace_id = t.trace_id AND s.span_id = t.root_span_id AND s.start_time = t.root_start_time),
    (SELECT x.text FROM verdict.span_rows s CROSS JOIN LATERAL (SELECT verdict.output_text(s) AS text) x
     WHERE s.trace_id = t.trace_id AND s.start_time BETWEEN t.start_time AND t.end_time
       AND s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content') AND x.text IS NOT NULL
     ORDER BY s.end_time_unix_nano DESC, s.span_id COLLATE "C" DESC LIMIT 1)
  ) AS output_text
FROM verdict.trace_summary t
WHERE t.span_count > 0;

CREATE OR REPLACE VIEW verdict.conversations AS
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
  c.end_time AS last_activity,
  (SELECT max(t.user_id) FROM verdict.trace_summary t WHERE t.conversation_id = c.conversation_id AND t.span_count > 0) AS user_id
FROM verdict.conversation_summary c;
