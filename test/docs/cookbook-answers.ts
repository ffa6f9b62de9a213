/**
 * Each cookbook question asked the slow way: straight from verdict.spans
 * and verdict.evaluations, from the definitions in docs/schema.md, without
 * the summaries and rollups the cookbook reads. cookbook.test.ts compares
 * the two answers row by row.
 */

/** Each run, from its spans: the root (the span without a parent, else the earliest), times, counts, tokens, conversation, model. */
const RUNS = `
  SELECT s.trace_id,
    (array_agg(s.name ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano, s.span_id COLLATE "C"))[1] AS root_name,
    (array_agg(s.service_name ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano, s.span_id COLLATE "C"))[1] AS service_name,
    (array_agg(s.service_version ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano, s.span_id COLLATE "C"))[1] AS service_version,
    (array_agg(s.gen_ai_agent_name ORDER BY s.parent_span_id IS NOT NULL, s.start_time_unix_nano, s.span_id COLLATE "C"))[1] AS agent_name,
    min(s.start_time) AS start_time, max(s.end_time) AS end_time,
    ((max(s.end_time_unix_nano) - min(s.start_time_unix_nano)) / 1e6)::float8 AS duration_ms,
    count(*) AS span_count, count(*) FILTER (WHERE s.status_code = 'error') AS error_count,
    COALESCE(sum(s.gen_ai_input_tokens) FILTER (WHERE COALESCE(s.gen_ai_operation_name, '') NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
             sum(s.gen_ai_input_tokens)) AS input_tokens,
    COALESCE(sum(s.gen_ai_output_tokens) FILTER (WHERE COALESCE(s.gen_ai_operation_name, '') NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')),
             sum(s.gen_ai_output_tokens)) AS output_tokens,
    max(s.gen_ai_conversation_id COLLATE "C") AS conversation_id,
    (array_agg(COALESCE(s.gen_ai_response_model, s.gen_ai_request_model)
       ORDER BY s.end_time_unix_nano DESC, COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) COLLATE "C" DESC)
       FILTER (WHERE COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) IS NOT NULL))[1] AS model
  FROM verdict.spans s
  GROUP BY s.trace_id`;

/** Each verdict with the span it judges (the span named; a run's root; the first span with the response ID) and its run. */
const RESOLVED = `
  SELECT e.*, x.trace_id AS r_trace, x.span_id AS r_span, x.service_name AS r_service, x.service_version AS r_version,
    COALESCE(e.trace_id, x.trace_id) AS run
  FROM verdict.evaluations e
  LEFT JOIN LATERAL (
    SELECT s.* FROM verdict.spans s
    WHERE CASE
      WHEN e.span_id IS NOT NULL THEN s.trace_id = e.trace_id AND s.span_id = e.span_id
      WHEN e.trace_id IS NOT NULL THEN s.trace_id = e.trace_id AND s.parent_span_id IS NULL
      ELSE s.gen_ai_response_id = e.response_id END
    ORDER BY s.start_time, s.span_id COLLATE "C"
    LIMIT 1
  ) x ON true`;

const TRAJECTORY = (trace: string) => `(SELECT string_agg(s.name || CASE WHEN s.status_code = 'error' THEN ' [error]' ELSE '' END, ' → ' ORDER BY s.start_time_unix_nano)
   FROM verdict.spans s WHERE s.trace_id = ${trace})`;

const BUCKET = `CASE WHEN s.duration_ns < 1000000 THEN 0 ELSE floor(log(2, s.duration_ns / 1e6) * 4)::int + 1 END`;

export interface ReferenceAnswer {
  sql: string;
  /** The columns compared, when not all of the question's (a column whose wording differs by design). */
  columns?: string[];
}

export const REFERENCE_ANSWERS: Record<string, ReferenceAnswer> = {
  'Which runs earned a negative verdict, and what did they do?': {
    sql: `
      WITH runs AS (${RUNS}),
      condemned AS (SELECT DISTINCT run FROM (${RESOLVED}) v WHERE v.polarity = 'negative' AND v.run IS NOT NULL)
      SELECT r.trace_id, r.root_name, r.start_time, round(r.duration_ms) AS duration_ms, r.error_count,
        (SELECT string_agg(DISTINCT v.name || ' = ' || COALESCE(v.score_label, v.score_value::text, '?') || ' (' || COALESCE(v.source, 'unknown') || ')', '; ')
         FROM (${RESOLVED}) v WHERE v.run = r.trace_id AND v.polarity = 'negative') AS negative_verdicts,
        ${TRAJECTORY('r.trace_id')} AS trajectory
      FROM runs r JOIN condemned c ON c.run = r.trace_id
      WHERE r.start_time > now() - interval '1 day'
      ORDER BY r.start_time DESC
      LIMIT 20`,
  },
  'A good run and a bad run of the same task, side by side': {
    sql: `
      WITH runs AS (${RUNS}),
      judged AS (
        SELECT r.*, r.input_tokens + r.output_tokens AS tokens,
          bool_or(v.polarity = 'positive') AND NOT bool_or(v.polarity = 'negative') AS good,
          bool_or(v.polarity = 'negative') AND NOT bool_or(v.polarity = 'positive') AS bad
        FROM runs r JOIN (${RESOLVED}) v ON v.run = r.trace_id
        WHERE r.start_time > now() - interval '7 days'
        GROUP BY r.trace_id, r.root_name, r.service_name, r.service_version, r.agent_name, r.start_time, r.end_time, r.duration_ms,
          r.span_count, r.error_count, r.input_tokens, r.output_tokens, r.conversation_id, r.model
      ),
      pairs AS (
        SELECT root_name AS task,
          (array_agg(trace_id ORDER BY start_time DESC) FILTER (WHERE good))[1] AS good_trace_id,
          (array_agg(trace_id ORDER BY start_time DESC) FILTER (WHERE bad))[1] AS bad_trace_id
        FROM judged GROUP BY root_name
      )
      SELECT p.task, p.good_trace_id, p.bad_trace_id, round(g.duration_ms) AS good_duration_ms, round(b.duration_ms) AS bad_duration_ms,
        g.tokens AS good_tokens, b.tokens AS bad_tokens, ${TRAJECTORY('g.trace_id')} AS good_trajectory, ${TRAJECTORY('b.trace_id')} AS bad_trajectory
      FROM pairs p JOIN judged g ON g.trace_id = p.good_trace_id JOIN judged b ON b.trace_id = p.bad_trace_id
      ORDER BY p.task`,
  },
  'Where do the LLM judge and humans disagree?': {
    sql: `
      SELECT j.name AS judge_metric, COALESCE(j.polarity, 'none') AS judge_polarity, COALESCE(h.polarity, 'none') AS human_polarity,
        count(DISTINCT (j.trace_id, j.span_id)) AS spans, min(j.trace_id) AS example_trace_id
      FROM verdict.evaluations j
      JOIN verdict.evaluations h ON h.trace_id = j.trace_id AND h.span_id = j.span_id
      WHERE j.source = 'llm_judge' AND h.source IN ('user', 'reviewer')
        AND j.time > now() - interval '30 days' AND h.time > now() - interval '30 days'
      GROUP BY 1, 2, 3
      ORDER BY 1, 2, 3`,
  },
  "How far can the judge be trusted? (Cohen's kappa)": {
    sql: `
      WITH pairs AS (
        SELECT j.name AS judge_metric, j.polarity = 'positive' AS jp, h.polarity = 'positive' AS hp
        FROM verdict.evaluations j
        JOIN verdict.evaluations h ON h.trace_id = j.trace_id AND h.span_id = j.span_id
        WHERE j.source = 'llm_judge' AND h.source IN ('user', 'reviewer')
          AND j.polarity IN ('positive', 'negative') AND h.polarity IN ('positive', 'negative')
          AND j.time > now() - interval '30 days' AND h.time > now() - interval '30 days'
      ),
      c AS (
        SELECT judge_metric, count(*)::float8 AS n, count(*) FILTER (WHERE jp = hp) / count(*)::float8 AS po,
          (count(*) FILTER (WHERE jp) / count(*)::float8) * (count(*) FILTER (WHERE hp) / count(*)::float8)
            + (1 - count(*) FILTER (WHERE jp) / count(*)::float8) * (1 - count(*) FILTER (WHERE hp) / count(*)::float8) AS pe
        FROM pairs GROUP BY judge_metric
      )
      SELECT judge_metric, n::int AS pairs, round(po::numeric, 3) AS observed_agreement, round(((po - pe) / NULLIF(1 - pe, 0))::numeric, 3) AS cohens_kappa
      FROM c ORDER BY pairs DESC`,
  },
  'Token use and cost by model and week': {
    sql: `
      WITH prices (model, i, o) AS (
        VALUES ('gpt-4o-2024-08-06', 2.50, 10.00), ('gpt-4.1-mini-2025-04-14', 0.40, 1.60), ('claude-sonnet-4-5', 3.00, 15.00), ('gemini-2.5-pro', 1.25, 10.00)
      ),
      calls AS (
        SELECT date_trunc('week', s.start_time) AS week, COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) AS model,
          COALESCE(s.gen_ai_input_tokens, 0) AS input_tokens, COALESCE(s.gen_ai_output_tokens, 0) AS output_tokens
        FROM verdict.spans s
        WHERE s.start_time > now() - interval '12 weeks' AND COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) IS NOT NULL
          AND s.gen_ai_operation_name NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')
      )
      SELECT c.week, c.model, count(*) AS calls, sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens,
        round(sum(c.input_tokens * p.i + c.output_tokens * p.o) / 1e6, 2) AS cost_usd
      FROM calls c LEFT JOIN prices p USING (model)
      GROUP BY 1, 2
      ORDER BY 1, cost_usd DESC NULLS LAST`,
  },
  'The slowest tool calls': {
    sql: `
      WITH calls AS (
        SELECT s.gen_ai_tool_name AS tool, ${BUCKET} AS bucket, s.status_code
        FROM verdict.spans s
        WHERE s.gen_ai_operation_name = 'execute_tool' AND s.start_time > now() - interval '7 days'
      )
      SELECT tool, count(*) AS calls,
        round(verdict.latency_percentile(array_agg(bucket::smallint), array_agg(1), 0.5)::numeric, 1) AS p50_ms,
        round(verdict.latency_percentile(array_agg(bucket::smallint), array_agg(1), 0.95)::numeric, 1) AS p95_ms,
        round(verdict.latency_bucket_upper_ms(max(bucket))::numeric, 1) AS max_ms,
        count(*) FILTER (WHERE status_code = 'error') AS errors
      FROM calls GROUP BY tool
      ORDER BY p95_ms DESC, tool`,
  },
  'Error rate by agent and model': {
    sql: `
      SELECT agent_name AS agent, model, count(*) AS runs, count(*) FILTER (WHERE error_count > 0) AS failed_runs,
        round(count(*) FILTER (WHERE error_count > 0)::numeric / count(*), 3) AS error_rate
      FROM (${RUNS}) r
      WHERE agent_name IS NOT NULL AND start_time > now() - interval '7 days'
      GROUP BY 1, 2
      ORDER BY error_rate DESC, runs DESC`,
  },
  'Drift: the negative-verdict rate by release, week by week': {
    sql: `
      SELECT date_trunc('week', v.time) AS week, v.r_service AS service_name, v.r_version AS service_version, count(*) AS verdicts,
        count(*) FILTER (WHERE v.polarity = 'negative') AS negative,
        round(count(*) FILTER (WHERE v.polarity = 'negative')::numeric / count(*), 3) AS negative_rate
      FROM (${RESOLVED}) v
      WHERE v.polarity IS NOT NULL AND v.r_service IS NOT NULL AND v.time > now() - interval '12 weeks'
      GROUP BY 1, 2, 3
      ORDER BY 1, 2, 3`,
  },
  'Failed runs since the last deploy': {
    sql: `
      WITH runs AS (${RUNS}),
      condemned AS (SELECT run, count(*) FILTER (WHERE polarity = 'negative') AS negative FROM (${RESOLVED}) v WHERE run IS NOT NULL GROUP BY run),
      versions AS (
        SELECT service_name, service_version, min(date_trunc('minute', start_time)) AS deployed_at
        FROM runs WHERE date_trunc('minute', start_time) > now() - interval '30 days' GROUP BY 1, 2
      ),
      latest AS (SELECT DISTINCT ON (service_name) * FROM versions ORDER BY service_name, deployed_at DESC)
      SELECT l.service_name, l.service_version, l.deployed_at, r.trace_id, r.start_time, r.error_count, COALESCE(c.negative, 0) AS negative_verdicts
      FROM latest l
      JOIN runs r ON r.service_name = l.service_name AND r.service_version = l.service_version AND r.start_time >= l.deployed_at
      LEFT JOIN condemned c ON c.run = r.trace_id
      WHERE r.error_count > 0 OR COALESCE(c.negative, 0) > 0
      ORDER BY r.start_time DESC
      LIMIT 50`,
  },
  'Conversations where the user asked the same thing again': {
    // The question's wording is the message as first asked; the reference keeps it normalised.
    columns: ['conversation_id', 'runs', 'first_asked', 'last_asked', 'trace_ids'],
    sql: `
      WITH asks AS (
        SELECT s.gen_ai_conversation_id AS conversation_id, s.trace_id, s.start_time,
          btrim(regexp_replace(lower(q.text), '[^[:alnum:]]+', ' ', 'g')) AS question
        FROM verdict.spans s
        CROSS JOIN LATERAL (
          SELECT (SELECT string_agg(p.part->>'content', '\n') FROM jsonb_array_elements(m.msg->'parts') AS p(part) WHERE p.part->>'type' = 'text') AS text
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.attributes->'gen_ai.input.messages') = 'array' THEN s.attributes->'gen_ai.input.messages' ELSE '[]' END)
            WITH ORDINALITY AS m(msg, i)
          WHERE m.msg->>'role' = 'user'
          ORDER BY m.i DESC LIMIT 1
        ) q
        WHERE s.gen_ai_conversation_id IS NOT NULL
      ),
      first_sightings AS (
        SELECT conversation_id, question, trace_id, min(start_time) AS time FROM asks WHERE question <> '' GROUP BY 1, 2, 3
      )
      SELECT conversation_id, question, count(*) AS runs, min(time) AS first_asked, max(time) AS last_asked, array_agg(trace_id ORDER BY time) AS trace_ids
      FROM first_sightings
      WHERE time > now() - interval '7 days'
      GROUP BY conversation_id, question
      HAVING count(*) > 1
      ORDER BY runs DESC, last_asked DESC`,
  },
  'Verdict coverage by source': {
    sql: `
      WITH runs AS (SELECT * FROM (${RUNS}) r WHERE start_time > now() - interval '7 days'),
      judged AS (SELECT DISTINCT v.run, v.source FROM (${RESOLVED}) v JOIN runs r ON r.trace_id = v.run),
      counts AS (
        SELECT 'any' AS source, count(DISTINCT run) AS n FROM judged
        UNION ALL SELECT source, count(DISTINCT run) FROM judged WHERE source IS NOT NULL GROUP BY source
      )
      SELECT c.source, c.n AS runs_with_verdicts, (SELECT count(*) FROM runs) AS runs,
        round(c.n::numeric / NULLIF((SELECT count(*) FROM runs), 0), 3) AS coverage
      FROM counts c WHERE c.n > 0
      ORDER BY runs_with_verdicts DESC, source`,
  },
  'What goes wrong most often': {
    sql: `
      SELECT name, source, score_label, COALESCE(explanation, '') AS explanation, count(*) AS verdicts, count(DISTINCT run) AS runs
      FROM (${RESOLVED}) v
      WHERE polarity = 'negative' AND time > now() - interval '7 days'
      GROUP BY 1, 2, 3, 4
      ORDER BY verdicts DESC, 1, 2, 3, 4
      LIMIT 20`,
  },
  'The conversations that went worst': {
    columns: ['conversation_id', 'trace_count', 'negative_verdicts', 'positive_verdicts', 'tokens', 'duration_ms'],
    sql: `
      WITH runs AS (${RUNS}),
      verdicts AS (SELECT run, count(*) FILTER (WHERE polarity = 'negative') AS neg, count(*) FILTER (WHERE polarity = 'positive') AS pos FROM (${RESOLVED}) v GROUP BY run),
      threads AS (
        SELECT conversation_id, count(*) FILTER (WHERE polarity = 'negative') AS neg, count(*) FILTER (WHERE polarity = 'positive') AS pos
        FROM verdict.evaluations WHERE trace_id IS NULL AND response_id IS NULL AND conversation_id IS NOT NULL GROUP BY 1
      ),
      conversations AS (
        SELECT r.conversation_id, count(*) AS trace_count, sum(COALESCE(v.neg, 0)) AS neg, sum(COALESCE(v.pos, 0)) AS pos,
          sum(r.input_tokens) + sum(r.output_tokens) AS tokens, max(r.end_time) AS end_time,
          (extract(epoch FROM max(r.end_time) - min(r.start_time)) * 1000)::float8 AS duration_ms
        FROM runs r LEFT JOIN verdicts v ON v.run = r.trace_id
        WHERE r.conversation_id IS NOT NULL GROUP BY 1
      )
      SELECT c.conversation_id, c.trace_count, c.neg + COALESCE(t.neg, 0) AS negative_verdicts, c.pos + COALESCE(t.pos, 0) AS positive_verdicts,
        c.tokens, round(c.duration_ms) AS duration_ms
      FROM conversations c LEFT JOIN threads t USING (conversation_id)
      WHERE c.neg + COALESCE(t.neg, 0) > 0 AND c.end_time > now() - interval '7 days'
      ORDER BY negative_verdicts DESC, trace_count DESC, conversation_id
      LIMIT 20`,
  },
  'Verdicts still waiting for their target': {
    sql: `
      WITH runs AS (${RUNS}),
      waiting AS (
        SELECT v.*, CASE WHEN v.span_id IS NOT NULL THEN 'span' WHEN v.trace_id IS NOT NULL THEN 'trace' ELSE 'completion' END AS target
        FROM (${RESOLVED}) v WHERE v.r_span IS NULL AND (v.trace_id IS NOT NULL OR v.response_id IS NOT NULL)
        UNION ALL
        SELECT v.*, 'conversation' FROM (${RESOLVED}) v
        WHERE v.trace_id IS NULL AND v.response_id IS NULL AND v.conversation_id IS NOT NULL AND v.time > now() - interval '30 days'
          AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.conversation_id = v.conversation_id)
      )
      SELECT target,
        CASE target WHEN 'span' THEN trace_id || '/' || span_id WHEN 'trace' THEN trace_id WHEN 'completion' THEN response_id ELSE conversation_id END AS waiting_for,
        name, source, time, now() - time AS waiting
      FROM waiting ORDER BY time, name`,
  },
};
