-- A run's input and output text, kept on its summary row at ingest instead
-- of being looked up in its spans at every read.
--
-- verdict.traces took input_text and output_text from four subqueries over
-- the span table, each planned against every day partition: reading one run
-- cost some 3 ms of planning, and the task of every judged run, worked out
-- at ingest from the same text (verdict.run_task), was the largest part of
-- PostgreSQL's time per write. The rule that picks the text merges batch by
-- batch, like the summary's other columns:
--
-- * input: the root's input text (it follows the root, as root_name does),
--   else that of the earliest model call that has one (by start, then span
--   ID);
-- * output: the root's output text, else that of the model call that ended
--   last and has one (by end, then span ID, the greater first).
--
-- Each span's text is verdict.input_text / verdict.output_text of its row;
-- the receiver works it out from the content it writes, and again in SQL
-- where content from log records is copied onto a span later.

ALTER TABLE verdict.trace_summary
  ADD COLUMN root_input_text             text,
  ADD COLUMN root_output_text            text,
  ADD COLUMN first_input_time_unix_nano  bigint,
  ADD COLUMN first_input_span_id         text,
  ADD COLUMN first_input_text            text,
  ADD COLUMN last_output_time_unix_nano  bigint,
  ADD COLUMN last_output_span_id         text,
  ADD COLUMN last_output_text            text;

-- What is stored already, by the definitions the view used until now.
UPDATE verdict.trace_summary t
SET root_input_text = verdict.input_text(s), root_output_text = verdict.output_text(s)
FROM verdict.span_rows s
WHERE s.trace_id = t.trace_id AND s.span_id = t.root_span_id AND s.start_time = t.root_start_time;

UPDATE verdict.trace_summary t
SET first_input_time_unix_nano = f.start_time_unix_nano, first_input_span_id = f.span_id, first_input_text = f.text
FROM (
  SELECT DISTINCT ON (s.trace_id) s.trace_id, s.start_time_unix_nano, s.span_id, x.text
  FROM verdict.span_rows s CROSS JOIN LATERAL (SELECT verdict.input_text(s) AS text) x
  WHERE s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content') AND x.text IS NOT NULL
  ORDER BY s.trace_id, s.start_time_unix_nano, s.span_id COLLATE "C"
) f
WHERE f.trace_id = t.trace_id;

UPDATE verdict.trace_summary t
SET last_output_time_unix_nano = f.end_time_unix_nano, last_output_span_id = f.span_id, last_output_text = f.text
FROM (
  SELECT DISTINCT ON (s.trace_id) s.trace_id, s.end_time_unix_nano, s.span_id, x.text
  FROM verdict.span_rows s CROSS JOIN LATERAL (SELECT verdict.output_text(s) AS text) x
  WHERE s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content') AND x.text IS NOT NULL
  ORDER BY s.trace_id, s.end_time_unix_nano DESC, s.span_id COLLATE "C" DESC
) f
WHERE f.trace_id = t.trace_id;

-- The same columns as before; the text now read from the summary row.
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
  COALESCE(t.root_input_text, t.first_input_text) AS input_text,
  COALESCE(t.root_output_text, t.last_output_text) AS output_text
FROM verdict.trace_summary t
WHERE t.span_count > 0;

-- A run's task from its summary row alone (same definition as before).
CREATE OR REPLACE FUNCTION verdict.run_task(p_run text)
RETURNS TABLE (task text, task_id text)
LANGUAGE sql STABLE AS $$
  SELECT x.task, md5(COALESCE(x.agent_name, x.service_name, '') || E'\x1f' || x.task)
  -- OFFSET 0 keeps the subquery whole, so the task is worked out once, not again for the filter.
  FROM (SELECT t.agent_name, t.service_name, verdict.normalise_task(COALESCE(t.root_input_text, t.first_input_text)) AS task
        FROM verdict.trace_summary t WHERE t.trace_id = p_run AND t.span_count > 0 OFFSET 0) x
  WHERE x.task IS NOT NULL
$$;
