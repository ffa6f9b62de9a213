-- Feedback intake (issue #4): verdicts on a span, a trace, a completion or a
-- thread; the `repeat` rule's memory of user turns; one row per conversation.

-- What a verdict judges, and the judged span's facts. A trace-level verdict
-- keeps span_id NULL and describes the run by its root span; a verdict with
-- only gen_ai.response.id or only a conversation joins when its target arrives.
CREATE OR REPLACE VIEW verdict.trace_evaluations AS
SELECT
  e.id,
  COALESCE(e.trace_id, r.trace_id) AS trace_id,
  COALESCE(e.span_id, r.span_id) AS span_id,
  e.response_id,
  COALESCE(
    e.conversation_id,
    s.gen_ai_conversation_id,
    (SELECT max(c.gen_ai_conversation_id) FROM verdict.spans c WHERE c.trace_id = COALESCE(e.trace_id, r.trace_id))
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
    WHEN e.span_id IS NOT NULL THEN 'span'
    WHEN e.trace_id IS NOT NULL THEN 'trace'
    WHEN e.response_id IS NOT NULL THEN 'completion'
    WHEN e.conversation_id IS NOT NULL THEN 'conversation'
    ELSE 'none'
  END AS target
FROM verdict.evaluations e
LEFT JOIN LATERAL (
  SELECT x.trace_id, x.span_id
  FROM verdict.spans x
  WHERE e.trace_id IS NULL AND e.response_id IS NOT NULL AND x.gen_ai_response_id = e.response_id
  ORDER BY x.start_time
  LIMIT 1
) r ON true
LEFT JOIN LATERAL (
  SELECT x.span_id
  FROM verdict.spans x
  WHERE e.trace_id IS NOT NULL AND e.span_id IS NULL AND x.trace_id = e.trace_id
  ORDER BY x.parent_span_id IS NOT NULL, x.start_time_unix_nano
  LIMIT 1
) root ON true
LEFT JOIN verdict.spans s
  ON s.trace_id = COALESCE(e.trace_id, r.trace_id)
 AND s.span_id = COALESCE(e.span_id, r.span_id, root.span_id);

-- Conversations: one row per gen_ai.conversation.id, with its runs and the
-- verdicts on any of them (span, trace, completion or thread verdicts).
-- A conversation known only from a thread verdict appears with no runs yet.
CREATE VIEW verdict.conversations AS
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
    sum(t.output_tokens) AS output_tokens
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
  COALESCE(x.verdicts_by_source, '{}'::jsonb) AS verdicts_by_source
FROM runs r
FULL JOIN verdicts v ON v.conversation_id = r.conversation_id
LEFT JOIN crosstab x ON x.conversation_id = COALESCE(r.conversation_id, v.conversation_id);

-- The `repeat` rule's memory: the first time each user message (normalised
-- and hashed) was seen in each run of a conversation. A later run asking the
-- same thing marks the earlier run's answer with an indirect negative verdict.
CREATE TABLE verdict.user_turns (
  conversation_id  text        NOT NULL,
  message_hash     text        NOT NULL,
  trace_id         text        NOT NULL,
  span_id          text        NOT NULL,
  time             timestamptz NOT NULL,
  message          text        NOT NULL,  -- the first 200 characters, for explanations
  PRIMARY KEY (conversation_id, message_hash, trace_id)
);
