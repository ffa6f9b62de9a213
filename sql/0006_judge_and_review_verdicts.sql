-- Verdicts Verdict makes or collects itself: an LLM judge's (online
-- evaluators, channel 'judge') and a reviewer's (the review page, channel
-- 'review'), with the reviewer's written correction: the answer the run
-- should have given, which the eval export uses as the expected output.

ALTER TABLE verdict.evaluations DROP CONSTRAINT evaluations_channel_check;
ALTER TABLE verdict.evaluations ADD CONSTRAINT evaluations_channel_check
  CHECK (channel IN ('log', 'span_event', 'span_attribute', 'api', 'rule', 'judge', 'review'));

ALTER TABLE verdict.evaluations ADD COLUMN correction text;

CREATE OR REPLACE VIEW verdict.trace_evaluations AS
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
  e.target_service_version AS service_version,
  e.correction
FROM verdict.evaluations e
LEFT JOIN verdict.trace_summary t ON t.trace_id = e.target_trace_id;
