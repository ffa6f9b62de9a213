/**
 * Runs of an agent as they reach a receiver (pieces in a shuffled order,
 * roots late or never, batches sent twice, verdicts of every kind before
 * and after their targets), and the summaries and rollups recomputed from
 * the stored rows, written independently of the ingest code from the
 * definitions in docs/schema.md. KEPT reads what ingest kept; REFERENCE
 * computes the same from the spans and verdicts.
 */
import { hexId, int, logsJson, str, traceJson } from './otlp.ts';

/**
 * The runs start at a quarter to the hour, between 1¼ and 2¼ hours ago, so
 * their 40 minutes always cross an hour: the release at the twelfth run is
 * then first seen in the hour after the earlier runs, whatever the time of
 * day (hourly rollups, and what changed, need both sides).
 */
const HOUR_MS = 3_600_000;
const BASE_MS = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS + 45 * 60_000;
const ns = (ms: number) => String(BigInt(Math.round(ms)) * 1_000_000n + 123n);

export interface Plan {
  spans: Array<{ service: string; version: string; span: Record<string, unknown> }>;
  logs: object[];
  feedback: object[];
}

/** First requests: two tasks, each spelt two ways (the same once normalised). */
const TASKS = ['Where is my order?', 'How do I get a refund?', '  where is MY order? ', 'how do i   get a refund?'];

/** A GenAI message-list attribute of one message with one text part. */
const messages = (key: string, role: string, text: string) => str(key, JSON.stringify([{ role, parts: [{ type: 'text', content: text }] }]));

/** Some runs' first model call has its messages in log records instead of attributes. */
const contentInLogs = (t: number, c: number) => c === 0 && (t % 5 === 2 || t % 5 === 4);

/** Runs of an agent: a root (sometimes of another service), chat and tool calls, a few errors, conversations, verdicts of every kind. */
export function plan(rand: () => number): Plan {
  const spans: Plan['spans'] = [];
  const logs: object[] = [];
  const feedback: object[] = [];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  for (let t = 0; t < 24; t++) {
    const traceId = hexId(16, 1000 + t);
    const conversation = t % 3 === 0 ? null : `conv-${t % 5}`;
    const start = BASE_MS + t * 97_000 + Math.floor(rand() * 50_000);
    // Span IDs differ by seed modulo 255 (hexId): 6 a run, 24 runs.
    const rootId = hexId(8, t * 6);
    const withRoot = t % 7 !== 3;
    const version = t < 12 ? '1.0.0' : '1.1.0';
    if (withRoot) {
      spans.push({
        service: 'gateway', version: '7.0', span: {
          traceId, spanId: rootId, name: 'invoke_agent support', kind: 2, startTimeUnixNano: ns(start), endTimeUnixNano: ns(start + 9_000 + t * 13),
          attributes: [str('gen_ai.operation.name', 'invoke_agent'), str('gen_ai.agent.name', 'support'), int('gen_ai.usage.input_tokens', 999), ...(conversation ? [str('gen_ai.conversation.id', conversation)] : []),
            // Now and then the root carries the run's text itself: it wins over the model calls'.
            ...(t % 4 === 2 ? [messages('gen_ai.input.messages', 'user', TASKS[t % 4] as string), messages('gen_ai.output.messages', 'assistant', `the run's answer ${t}`)] : []),
            // The learning loop's layers, read from the root: the harness version on some, the context version on others.
            ...(t % 2 === 0 ? [str('gen_ai.agent.version', `agent-${t % 3}`)] : []), ...(t % 3 === 1 ? [str('verdict.context.version', `kb-${t % 2}`)] : [])],
          ...(t % 5 === 0 ? { status: { code: 2, message: 'failed' } } : {}),
        },
      });
    }
    const calls = 2 + Math.floor(rand() * 4);
    for (let c = 0; c < calls; c++) {
      const spanId = hexId(8, t * 6 + 1 + c);
      const s = start + 100 + c * 1_500 + Math.floor(rand() * 700);
      const model = pick(['gpt-4o', 'gpt-4o-mini', 'claude']);
      const chat = c % 2 === 0;
      spans.push({
        service: 'agent', version, span: {
          traceId, spanId, parentSpanId: rootId, name: chat ? `chat ${model}` : 'execute_tool lookup', kind: chat ? 3 : 1,
          startTimeUnixNano: ns(s), endTimeUnixNano: ns(s + 37 + Math.floor(rand() * 4_000)),
          attributes: chat
            ? [str('gen_ai.operation.name', 'chat'), str('gen_ai.request.model', model), ...(c > 0 ? [str('gen_ai.response.model', `${model}-2026`)] : []),
               str('gen_ai.response.id', `resp-${t}-${c}`), int('gen_ai.usage.input_tokens', 100 + c), int('gen_ai.usage.output_tokens', 10 + t),
               ...(conversation && c === 0 ? [str('gen_ai.conversation.id', conversation)] : []),
               // Now and then a run names two conversations: the greater wins, and the run moves there whichever came first.
               ...(t % 4 === 1 && c === 2 ? [str('gen_ai.conversation.id', `conv-z${t}`)] : []),
               // The user, on some calls; now and then two in one run (the greatest counts).
               ...(c === 0 && t % 3 !== 2 ? [str('user.id', `user-${t % 4}`)] : []), ...(c === 2 && t % 5 === 1 ? [str('user.id', `user-z${t}`)] : []),
               // The first request (a task), spelt in a few ways; a context version on some model calls, over the root's.
               ...(c === 0 && t % 6 !== 5 && !contentInLogs(t, c) ? [messages('gen_ai.input.messages', 'user', TASKS[t % 4] as string)] : []),
               // A later call asks again in other words: the first call's input is the run's, whichever arrives first.
               ...(c === 2 && t % 2 === 1 ? [messages('gen_ai.input.messages', 'user', TASKS[(t + 2) % 4] as string)] : []),
               // Answers on most model calls; in log records for some (below).
               ...(t % 3 !== 1 && !contentInLogs(t, c) ? [messages('gen_ai.output.messages', 'assistant', `answer ${t}.${c}`)] : []),
               ...(c === 2 && t % 4 === 0 ? [str('verdict.context.version', 'kb-call')] : [])]
            : [str('gen_ai.operation.name', 'execute_tool'), str('gen_ai.tool.name', 'lookup')],
          ...(rand() < 0.15 ? { status: { code: 2 } } : {}),
          // Now and then a judge's verdict rides on the span it judges.
          ...(chat && rand() < 0.3 ? { events: [{ timeUnixNano: ns(s + 5_000), name: 'gen_ai.evaluation.result', attributes: [str('gen_ai.evaluation.name', 'Relevance'), str('gen_ai.evaluation.score.label', pick(['relevant', 'not_relevant'])), { key: 'gen_ai.evaluation.score.value', value: { doubleValue: rand() } }, str('verdict.feedback.source', 'llm_judge')] }] } : {}),
        },
      });
      if (contentInLogs(t, c)) {
        // The call's messages in log records, each its own request: two user messages (the later one is the input text, and
        // until it arrives the earlier one is) and the answer.
        const record = (at: number, eventName: string, body: object) => ({ eventName, timeUnixNano: ns(s + at), traceId, spanId, body: { kvlistValue: { values: Object.entries(body).map(([k, v]) => ({ key: k, value: v })) } } });
        logs.push(record(1, 'gen_ai.user.message', { content: { stringValue: TASKS[(t + 2) % 4] } }));
        logs.push(record(2, 'gen_ai.user.message', { content: { stringValue: TASKS[t % 4] } }));
        logs.push(record(30, 'gen_ai.choice', { index: { intValue: '0' }, message: { kvlistValue: { values: [str('content', `answer from the logs ${t}.${c}`)] } } }));
      }
      if (chat && rand() < 0.5) {
        logs.push({
          eventName: 'gen_ai.evaluation.result', timeUnixNano: ns(s + 60_000), traceId, spanId,
          attributes: [str('gen_ai.evaluation.name', 'Faithfulness'), str('gen_ai.evaluation.score.label', pick(['pass', 'fail'])), str('verdict.feedback.source', 'llm_judge')],
        });
      }
      if (chat && rand() < 0.3) feedback.push({ response_id: `resp-${t}-${c}`, name: 'thumbs', score_label: pick(['thumbs_up', 'thumbs_down']), time: new Date(s + 90_000).toISOString() });
    }
    if (rand() < 0.5) feedback.push({ trace_id: traceId, name: 'resolved', score_label: pick(['yes', 'no']), source: pick(['user', 'indirect', 'reviewer']), time: new Date(start + 120_000).toISOString() });
    if (conversation && rand() < 0.3) feedback.push({ conversation_id: conversation, name: 'frustration', score_label: pick(['frustrated', 'satisfied']), time: new Date(start + 200_000).toISOString() });
  }
  // Verdicts on things that never arrive.
  logs.push({ eventName: 'gen_ai.evaluation.result', timeUnixNano: ns(BASE_MS), traceId: hexId(16, 99), spanId: hexId(8, 250), attributes: [str('gen_ai.evaluation.name', 'Relevance'), str('gen_ai.evaluation.score.label', 'relevant')] });
  feedback.push({ response_id: 'resp-never', name: 'thumbs', score_label: 'thumbs_down', time: new Date(BASE_MS).toISOString() });
  return { spans, logs, feedback };
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

/** Requests in arrival order: pieces of runs and verdicts interleaved, some sent twice. */
export function requests(p: Plan, rand: () => number): Array<{ path: string; body: object }> {
  const out: Array<{ path: string; body: object }> = [];
  const spans = shuffle([...p.spans], rand);
  while (spans.length > 0) {
    const piece = spans.splice(0, 1 + Math.floor(rand() * 6));
    const byResource = new Map<string, object[]>();
    for (const s of piece) {
      const key = `${s.service}|${s.version}`;
      byResource.set(key, [...(byResource.get(key) ?? []), s.span]);
    }
    for (const [key, list] of byResource) {
      const [service, version] = key.split('|') as [string, string];
      out.push({ path: '/v1/traces', body: traceJson(list, [str('service.name', service), str('service.version', version)]) });
    }
  }
  for (const l of shuffle([...p.logs], rand)) out.push({ path: '/v1/logs', body: logsJson([l], [str('service.name', 'judge')]) });
  for (const f of shuffle([...p.feedback], rand)) out.push({ path: '/v1/feedback', body: f });
  shuffle(out, rand);
  // Exporters retry: a fifth of the requests arrive twice.
  for (const r of [...out]) if (rand() < 0.2) out.splice(Math.floor(rand() * out.length), 0, r);
  return out;
}

const ROOT_ORDER = `s.parent_span_id IS NOT NULL, s.start_time_unix_nano, s.span_id COLLATE "C"`;
/** A model call: its text stands for the run's when the root has none. */
const MODEL_CALL = `s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content')`;
const LEAF = `COALESCE(s.gen_ai_operation_name, '') NOT IN ('invoke_agent', 'invoke_workflow', 'create_agent')`;

/** Each verdict's target span, resolved from the stored rows. */
export const RESOLVED = `
  SELECT e.*, x.trace_id AS r_trace, x.span_id AS r_span, x.name AS r_name, x.service_name AS r_service, x.service_version AS r_version,
    x.gen_ai_operation_name AS r_op, x.gen_ai_request_model AS r_req, x.gen_ai_response_model AS r_resp, x.gen_ai_agent_name AS r_agent,
    x.attributes AS r_attributes, COALESCE(e.trace_id, x.trace_id) AS run
  FROM verdict.evaluations e
  LEFT JOIN LATERAL (
    SELECT s.* FROM verdict.spans s
    WHERE CASE
      WHEN e.span_id IS NOT NULL THEN s.trace_id = e.trace_id AND s.span_id = e.span_id
      WHEN e.trace_id IS NOT NULL THEN s.trace_id = e.trace_id AND s.parent_span_id IS NULL
      ELSE s.gen_ai_response_id = e.response_id END
    ORDER BY ${ROOT_ORDER}
    LIMIT 1
  ) x ON true`;

/** Verdict counts by run. */
const RUN_VERDICTS = `
  SELECT run AS trace_id, count(*) AS verdicts,
    count(*) FILTER (WHERE polarity = 'positive') AS positive_verdicts, count(*) FILTER (WHERE polarity = 'negative') AS negative_verdicts,
    count(*) FILTER (WHERE polarity = 'neutral') AS neutral_verdicts, count(*) FILTER (WHERE source = 'user') AS user_verdicts,
    count(*) FILTER (WHERE source = 'indirect') AS indirect_verdicts, count(*) FILTER (WHERE source = 'llm_judge') AS llm_judge_verdicts,
    count(*) FILTER (WHERE source = 'rule') AS rule_verdicts, count(*) FILTER (WHERE source = 'reviewer') AS reviewer_verdicts
  FROM (${RESOLVED}) v WHERE run IS NOT NULL GROUP BY run`;

/**
 * {"source": {"polarity": n}} of a set of verdicts (source, polarity, key),
 * NULL as "unknown", by key: built-in aggregates only, unlike the kept
 * columns' verdict.add_counts.
 */
const bySource = (verdicts: string) => `
  SELECT key, jsonb_object_agg(src, pols) AS verdicts_by_source
  FROM (
    SELECT key, src, jsonb_object_agg(pol, n) AS pols
    FROM (SELECT key, COALESCE(source, 'unknown') AS src, COALESCE(polarity, 'unknown') AS pol, count(*) AS n FROM (${verdicts}) v GROUP BY 1, 2, 3) per_polarity
    GROUP BY 1, 2
  ) per_source
  GROUP BY 1`;

const RUNS = `
  SELECT g.*, COALESCE(b.verdicts_by_source, '{}'::jsonb) AS verdicts_by_source, COALESCE(v.verdicts, 0)::int AS verdicts, COALESCE(v.positive_verdicts, 0)::int AS positive_verdicts,
    COALESCE(v.negative_verdicts, 0)::int AS negative_verdicts, COALESCE(v.neutral_verdicts, 0)::int AS neutral_verdicts,
    COALESCE(v.user_verdicts, 0)::int AS user_verdicts, COALESCE(v.indirect_verdicts, 0)::int AS indirect_verdicts,
    COALESCE(v.llm_judge_verdicts, 0)::int AS llm_judge_verdicts, COALESCE(v.rule_verdicts, 0)::int AS rule_verdicts,
    COALESCE(v.reviewer_verdicts, 0)::int AS reviewer_verdicts
  FROM (
    SELECT s.trace_id,
      (array_agg(s.span_id ORDER BY ${ROOT_ORDER}))[1] AS root_span_id,
      (array_agg(s.name ORDER BY ${ROOT_ORDER}))[1] AS root_name,
      (array_agg(s.service_name ORDER BY ${ROOT_ORDER}))[1] AS service_name,
      (array_agg(s.service_version ORDER BY ${ROOT_ORDER}))[1] AS service_version,
      (array_agg(s.gen_ai_agent_name ORDER BY ${ROOT_ORDER}))[1] AS agent_name,
      bool_or(s.parent_span_id IS NULL) AS has_root,
      min(s.start_time) AS start_time, max(s.end_time) AS end_time,
      ((max(s.end_time_unix_nano) - min(s.start_time_unix_nano)) / 1e6)::float8 AS duration_ms,
      count(*)::int AS span_count, (count(*) FILTER (WHERE s.status_code = 'error'))::int AS error_count,
      COALESCE(sum(s.gen_ai_input_tokens) FILTER (WHERE ${LEAF}), sum(s.gen_ai_input_tokens) FILTER (WHERE NOT ${LEAF}))::int AS input_tokens,
      COALESCE(sum(s.gen_ai_output_tokens) FILTER (WHERE ${LEAF}), sum(s.gen_ai_output_tokens) FILTER (WHERE NOT ${LEAF}))::int AS output_tokens,
      max(s.gen_ai_conversation_id COLLATE "C") AS conversation_id,
      COALESCE((array_agg(s.input_text ORDER BY ${ROOT_ORDER}))[1],
        (array_agg(s.input_text ORDER BY s.start_time_unix_nano, s.span_id COLLATE "C") FILTER (WHERE ${MODEL_CALL} AND s.input_text IS NOT NULL))[1]) AS input_text,
      COALESCE((array_agg(s.output_text ORDER BY ${ROOT_ORDER}))[1],
        (array_agg(s.output_text ORDER BY s.end_time_unix_nano DESC, s.span_id COLLATE "C" DESC) FILTER (WHERE ${MODEL_CALL} AND s.output_text IS NOT NULL))[1]) AS output_text,
      max(s.user_id COLLATE "C") AS user_id,
      (array_agg(COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) ORDER BY s.end_time_unix_nano DESC, COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) COLLATE "C" DESC)
        FILTER (WHERE COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) IS NOT NULL))[1] AS model
    FROM verdict.spans s GROUP BY s.trace_id
  ) g LEFT JOIN (${RUN_VERDICTS}) v USING (trace_id)
  LEFT JOIN (${bySource(`SELECT run AS key, source, polarity FROM (${RESOLVED}) x WHERE run IS NOT NULL`)}) b ON b.key = g.trace_id`;

/** Spans by the minute or hour they started (the hourly rows by tool too), from the spans. */
const spanRollup = (grain: 'minute' | 'hour') => {
  const tool = grain === 'hour' ? ', s.gen_ai_tool_name AS tool' : '';
  const dims = grain === 'hour' ? '1, 2, 3, 4, 5, 6, 7' : '1, 2, 3, 4, 5, 6';
  return `
    SELECT date_trunc('${grain}', s.start_time) AS at, s.service_name, s.service_version, s.gen_ai_operation_name AS operation,
      COALESCE(s.gen_ai_response_model, s.gen_ai_request_model) AS model, s.gen_ai_agent_name AS agent${tool},
      count(*)::int AS spans, (count(*) FILTER (WHERE s.parent_span_id IS NULL))::int AS roots, (count(*) FILTER (WHERE s.status_code = 'error'))::int AS errors,
      COALESCE(sum(s.gen_ai_input_tokens), 0)::int AS input_tokens, COALESCE(sum(s.gen_ai_output_tokens), 0)::int AS output_tokens,
      sum(s.duration_ns)::bigint AS duration_ns
    FROM verdict.spans s GROUP BY ${dims} ORDER BY ${dims}`;
};

/** Latency histograms by the minute or hour (the hourly ones by tool too), from the spans: bucket b ≥ 1 holds [2^((b-1)/4), 2^(b/4)) ms. */
const latencyRollup = (grain: 'minute' | 'hour') => {
  const tool = grain === 'hour' ? ', s.gen_ai_tool_name AS tool' : '';
  const dims = grain === 'hour' ? '1, 2, 3, 4' : '1, 2, 3';
  return `
    SELECT at, service_name, operation${grain === 'hour' ? ', tool' : ''}, sum(n)::int AS spans, array_agg(bucket ORDER BY bucket) AS buckets, array_agg(n ORDER BY bucket) AS counts
    FROM (
      SELECT date_trunc('${grain}', s.start_time) AS at, s.service_name, s.gen_ai_operation_name AS operation${tool},
        (CASE WHEN s.duration_ns < 1000000 THEN 0 ELSE floor(log(2, s.duration_ns / 1e6) * 4)::int + 1 END)::int AS bucket, count(*)::int AS n
      FROM verdict.spans s GROUP BY ${dims}, ${grain === 'hour' ? 5 : 4}
    ) b
    GROUP BY ${dims} ORDER BY ${dims}`;
};

const keptSpanRollup = (table: string, at: string) => {
  const tool = at === 'hour' ? ', tool' : '';
  return `SELECT ${at} AS at, service_name, service_version, operation, model, agent${tool}, spans::int,
      roots::int, errors::int, input_tokens::int, output_tokens::int, duration_ns::bigint
    FROM ${table} WHERE spans <> 0 ORDER BY 1, 2, 3, 4, 5, 6${at === 'hour' ? ', 7' : ''}`;
};

const keptLatencyRollup = (table: string, at: string) => `SELECT ${at} AS at, service_name, operation${at === 'hour' ? ', tool' : ''}, spans::int, buckets::int[], counts
    FROM ${table} WHERE spans <> 0 ORDER BY 1, 2, 3${at === 'hour' ? ', 4' : ''}`;

/** The run's root: the span without a parent, else the earliest. */
const rootOf = (run: string) => `SELECT s.* FROM verdict.spans s WHERE s.trace_id = ${run} ORDER BY ${ROOT_ORDER} LIMIT 1`;

/**
 * Each verdict's layers, once its target is stored: the root's
 * gen_ai.agent.version, else the judged span's service.version (else the
 * root's); the context attribute on the judged span, else on the root.
 */
const LAYERS = `
  SELECT v.*,
    CASE WHEN v.r_span IS NOT NULL THEN COALESCE(root.attributes ->> 'gen_ai.agent.version', v.r_version, root.service_version) END AS harness_version,
    CASE WHEN v.r_span IS NOT NULL THEN COALESCE(v.r_attributes ->> 'verdict.context.version', root.attributes ->> 'verdict.context.version') END AS context_version
  FROM (${RESOLVED}) v
  LEFT JOIN LATERAL (${rootOf('v.run')}) root ON true`;

/** A judged run's task: its root's input, else its first model call's, normalised; with the agent (else the root's service). */
const TASK_OF_RUNS = `
  SELECT r.trace_id, md5(COALESCE(r.agent_name, r.service_name, '') || E'\x1f' || k.task) AS task_id, k.task
  FROM (${RUNS}) r
  CROSS JOIN LATERAL (SELECT verdict.normalise_task(COALESCE(
    (SELECT s.input_text FROM verdict.spans s WHERE s.trace_id = r.trace_id AND s.span_id = r.root_span_id),
    (SELECT s.input_text FROM verdict.spans s WHERE s.trace_id = r.trace_id AND s.input_text IS NOT NULL
       AND s.gen_ai_operation_name IN ('chat', 'text_completion', 'generate_content') ORDER BY s.start_time_unix_nano, s.span_id COLLATE "C" LIMIT 1))) AS task) k
  WHERE (r.positive_verdicts > 0 OR r.negative_verdicts > 0) AND k.task IS NOT NULL`;

export const REFERENCE = {
  traces: `SELECT * FROM (${RUNS}) r ORDER BY trace_id`,
  conversations: `
    WITH threads AS (
      SELECT conversation_id, count(*) AS n, count(*) FILTER (WHERE polarity = 'negative') AS negative,
        count(*) FILTER (WHERE polarity = 'positive') AS positive, count(*) FILTER (WHERE source = 'user') AS by_user
      FROM verdict.evaluations WHERE trace_id IS NULL AND response_id IS NULL AND conversation_id IS NOT NULL GROUP BY 1
    )
    SELECT c.conversation_id, count(r.trace_id)::int AS trace_count, min(r.start_time) AS start_time, max(r.end_time) AS end_time,
      COALESCE(sum(r.span_count), 0)::int AS span_count, COALESCE(sum(r.error_count), 0)::int AS error_count,
      (COALESCE(sum(r.verdicts), 0) + COALESCE(min(th.n), 0))::int AS verdicts,
      (COALESCE(sum(r.negative_verdicts), 0) + COALESCE(min(th.negative), 0))::int AS negative_verdicts,
      (COALESCE(sum(r.positive_verdicts), 0) + COALESCE(min(th.positive), 0))::int AS positive_verdicts,
      (COALESCE(sum(r.user_verdicts), 0) + COALESCE(min(th.by_user), 0))::int AS user_verdicts,
      COALESCE(min(b.verdicts_by_source::text)::jsonb, '{}'::jsonb) AS verdicts_by_source
    FROM (SELECT conversation_id FROM (${RUNS}) x WHERE conversation_id IS NOT NULL UNION SELECT conversation_id FROM threads) c
    LEFT JOIN (${RUNS}) r ON r.conversation_id = c.conversation_id
    LEFT JOIN threads th ON th.conversation_id = c.conversation_id
    LEFT JOIN (${bySource(`
      SELECT r.conversation_id AS key, v.source, v.polarity FROM (${RESOLVED}) v JOIN (${RUNS}) r ON r.trace_id = v.run
      UNION ALL
      SELECT conversation_id, source, polarity FROM verdict.evaluations WHERE trace_id IS NULL AND response_id IS NULL AND conversation_id IS NOT NULL`)}) b
      ON b.key = c.conversation_id
    GROUP BY c.conversation_id ORDER BY 1`,
  spanRollup: spanRollup('minute'),
  spanRollupHourly: spanRollup('hour'),
  latencyRollup: latencyRollup('minute'),
  latencyRollupHourly: latencyRollup('hour'),
  runRollup: `
    SELECT date_trunc('minute', start_time) AS minute, service_name, service_version, count(*)::int AS runs,
      (count(*) FILTER (WHERE error_count > 0))::int AS runs_with_error, (count(*) FILTER (WHERE verdicts > 0))::int AS runs_with_verdict,
      (count(*) FILTER (WHERE user_verdicts > 0))::int AS runs_with_user_verdict, (count(*) FILTER (WHERE indirect_verdicts > 0))::int AS runs_with_indirect_verdict,
      (count(*) FILTER (WHERE llm_judge_verdicts > 0))::int AS runs_with_llm_judge_verdict, (count(*) FILTER (WHERE rule_verdicts > 0))::int AS runs_with_rule_verdict,
      (count(*) FILTER (WHERE reviewer_verdicts > 0))::int AS runs_with_reviewer_verdict,
      (count(*) FILTER (WHERE user_verdicts > 0 OR reviewer_verdicts > 0))::int AS runs_with_human_verdict
    FROM (${RUNS}) r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  verdictRollup: `
    SELECT date_trunc('minute', time) AS minute, name, score_label AS label, source, polarity, r_service AS service_name, r_version AS service_version,
      COALESCE(r_resp, r_req) AS model, r_agent AS agent, count(*)::int AS verdicts
    FROM (${RESOLVED}) v GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9`,
  targets: `SELECT id, run AS trace_id, r_name AS span_name, r_service AS service_name, COALESCE(r_resp, r_req) AS model FROM (${RESOLVED}) v ORDER BY id`,
  verdictLayers: `SELECT id, harness_version, context_version FROM (${LAYERS}) v ORDER BY id`,
  layerRollup: `
    SELECT date_trunc('hour', time) AS hour, name, source, r_service AS service_name, harness_version, COALESCE(r_resp, r_req) AS model,
      context_version, polarity, count(*)::int AS verdicts
    FROM (${LAYERS}) v GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`,
  tasks: `SELECT trace_id, task_id, task FROM (${TASK_OF_RUNS}) k ORDER BY trace_id`,
};

/** A {"source": {"polarity": n}} column without its zero counts (left where a run moved to another conversation). */
const withoutZeros = (column: string) => `(
  SELECT COALESCE(jsonb_object_agg(x.key, x.pols), '{}'::jsonb)
  FROM (SELECT s.key, (SELECT jsonb_object_agg(p.key, p.value) FROM jsonb_each(s.value) p WHERE p.value <> '0') AS pols FROM jsonb_each(${column}) s) x
  WHERE x.pols IS NOT NULL)`;

export const KEPT = {
  traces: `SELECT trace_id, root_span_id, root_name, service_name, service_version, agent_name, has_root, start_time, end_time, duration_ms,
      span_count::int, error_count::int, input_tokens::int, output_tokens::int, conversation_id, input_text, output_text, user_id, model, verdicts_by_source, verdicts::int, positive_verdicts::int,
      negative_verdicts::int, neutral_verdicts::int, user_verdicts::int, indirect_verdicts::int, llm_judge_verdicts::int, rule_verdicts::int,
      reviewer_verdicts::int
    FROM verdict.traces ORDER BY trace_id`,
  conversations: `SELECT conversation_id, trace_count::int, start_time, end_time, span_count::int, error_count::int, verdicts::int, negative_verdicts::int,
      positive_verdicts::int, user_verdicts::int, ${withoutZeros('verdicts_by_source')} AS verdicts_by_source
    FROM verdict.conversations ORDER BY 1`,
  spanRollup: keptSpanRollup('verdict.span_rollup', 'minute'),
  spanRollupHourly: keptSpanRollup('verdict.span_rollup_hourly', 'hour'),
  latencyRollup: keptLatencyRollup('verdict.latency_rollup', 'minute'),
  latencyRollupHourly: keptLatencyRollup('verdict.latency_rollup_hourly', 'hour'),
  runRollup: `SELECT minute, service_name, service_version, runs::int, runs_with_error::int, runs_with_verdict::int, runs_with_user_verdict::int,
      runs_with_indirect_verdict::int, runs_with_llm_judge_verdict::int, runs_with_rule_verdict::int, runs_with_reviewer_verdict::int,
      runs_with_human_verdict::int
    FROM verdict.run_rollup WHERE runs <> 0 OR runs_with_error <> 0 OR runs_with_verdict <> 0 ORDER BY 1, 2, 3`,
  verdictRollup: `SELECT minute, name, label, source, polarity, service_name, service_version, model, agent, verdicts::int
    FROM verdict.verdict_rollup WHERE verdicts <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9`,
  targets: `SELECT id, trace_id, span_name, service_name, COALESCE(gen_ai_response_model, gen_ai_request_model) AS model FROM verdict.trace_evaluations ORDER BY id`,
  verdictLayers: `SELECT id, harness_version, context_version FROM verdict.verdict_layers ORDER BY id`,
  layerRollup: `SELECT hour, name, source, service_name, harness_version, model, context_version, polarity, verdicts::int
    FROM verdict.verdict_layer_rollup WHERE verdicts <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`,
  tasks: `SELECT trace_id, task_id, task FROM verdict.trace_summary WHERE task_id IS NOT NULL ORDER BY trace_id`,
};

