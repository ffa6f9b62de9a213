-- verdict.trace_evaluations, reorganised so that `WHERE trace_id = …` reaches
-- the evaluations_trace index: verdicts that name their trace and verdicts
-- resolved through gen_ai.response.id (or on a thread) are two branches of a
-- UNION ALL, and the filter is pushed into each. Same columns, same meaning.
CREATE OR REPLACE VIEW verdict.trace_evaluations AS
SELECT
  e.id,
  e.trace_id,
  e.span_id,
  e.response_id,
  COALESCE(
    e.conversation_id,
    s.gen_ai_conversation_id,
    (SELECT max(c.gen_ai_conversation_id) FROM verdict.spans c WHERE c.trace_id = e.trace_id)
  ) AS conversation_id,
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
  s.gen_ai_agent_name,
  CASE WHEN e.span_id IS NOT NULL THEN 'span' ELSE 'trace' END AS target
FROM verdict.evaluations e
LEFT JOIN LATERAL (
  -- A trace-level verdict is described by the run's root span.
  SELECT x.span_id
  FROM verdict.spans x
  WHERE e.span_id IS NULL AND x.trace_id = e.trace_id
  ORDER BY x.parent_span_id IS NOT NULL, x.start_time_unix_nano
  LIMIT 1
) root ON true
LEFT JOIN verdict.spans s ON s.trace_id = e.trace_id AND s.span_id = COALESCE(e.span_id, root.span_id)
WHERE e.trace_id IS NOT NULL
UNION ALL
SELECT
  e.id,
  r.trace_id,
  r.span_id,
  e.response_id,
  COALESCE(
    e.conversation_id,
    s.gen_ai_conversation_id,
    (SELECT max(c.gen_ai_conversation_id) FROM verdict.spans c WHERE c.trace_id = r.trace_id)
  ) AS conversation_id,
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
  s.gen_ai_agent_name,
  CASE
    WHEN e.response_id IS NOT NULL THEN 'completion'
    WHEN e.conversation_id IS NOT NULL THEN 'conversation'
    ELSE 'none'
  END AS target
FROM verdict.evaluations e
LEFT JOIN LATERAL (
  SELECT x.trace_id, x.span_id
  FROM verdict.spans x
  WHERE e.response_id IS NOT NULL AND x.gen_ai_response_id = e.response_id
  ORDER BY x.start_time
  LIMIT 1
) r ON true
LEFT JOIN verdict.spans s ON s.trace_id = r.trace_id AND s.span_id = r.span_id
WHERE e.trace_id IS NULL;

-- The second branch reads only verdicts without a trace.
CREATE INDEX evaluations_without_trace ON verdict.evaluations (time) WHERE trace_id IS NULL;
