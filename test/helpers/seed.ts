/**
 * A small, realistic data set for the dashboard tests: a few hours of GenAI
 * agent runs from three deployments, with application logs and verdicts from
 * every feedback source, made with the official OpenTelemetry JS SDK and sent
 * to a running Verdict over OTLP/HTTP protobuf (so the rows are exactly what
 * ingestion stores).
 *
 * - support-agent 1.14.2 (first two hours) and 1.15.0 (last two hours, which
 *   adds a retrieval step and a cheaper model, and earns more negative
 *   verdicts: the drift the Overview dashboard is there to show);
 *   research-agent 0.9.0 throughout.
 * - Each run: an invoke_agent root, sometimes a retrieval span, one to three
 *   chat calls with token counts and response IDs, tool calls (some failing,
 *   with an `exception` span event), now and then a link to an earlier run.
 * - Each run asks one of a few questions (tasks for the Learning loop
 *   dashboard) and names its knowledge-base version (its context layer).
 * - Logs: an INFO line per run, one per retrieval, a WARN per failed tool.
 * - Verdicts as `gen_ai.evaluation.result` log records parented to the judged
 *   span, from an LLM judge, end users (thumbs), reviewers, a guardrail rule
 *   and indirect signals (regenerate), each with `verdict.feedback.source`;
 *   verdicts as span events without a source (research-agent's self-check);
 *   a few carrying only `gen_ai.response.id`; and a tone judge whose label
 *   has no polarity. Polarity comes from Verdict's feedback configuration
 *   (SEED_FEEDBACK), as in a deployment.
 *
 * Deterministic: seeded random numbers and ID generator, fixed times.
 */
import { context, SeverityNumber, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { readFileSync } from 'node:fs';
import { parseFeedbackConfig, type FeedbackConfig } from '../../src/feedback/policy.ts';
import { parseLoopConfig, type LoopConfig } from '../../src/loop/config.ts';
import { rng } from '../../bench/workload.ts';

/** The seeded runs start here and last four hours. */
export const SEED_START = Date.UTC(2026, 2, 2, 8, 0, 0);
export const SEED_HOURS = 4;
/** A dashboard time range that holds the whole data set (verdicts come up to an hour after their run). */
export const SEED_RANGE = { from: new Date(SEED_START - 30 * 60_000), to: new Date(SEED_START + (SEED_HOURS + 1.5) * 3_600_000) };

/** Labels and their polarity, as the feedback configuration declares them (SEED_FEEDBACK). */
export const POLARITY: Record<string, 'positive' | 'negative' | 'neutral'> = {
  relevant: 'positive', not_relevant: 'negative', partially_relevant: 'neutral',
  thumbs_up: 'positive', thumbs_down: 'negative',
  correct: 'positive', incorrect: 'negative',
  pass: 'positive', fail: 'negative',
  faithful: 'positive', unfaithful: 'negative',
  regenerated: 'negative',
  // 'formal' (the tone judge) is left unmapped: its verdicts keep polarity NULL.
};

export interface SeedData {
  traces: ReadableSpan[][];
  spans: ReadableSpan[];
  logs: ReadableLogRecord[];
  traceIds: string[];
  /** A run with a failed tool, logs, span events, and negative verdicts from several sources. */
  showcaseTraceId: string;
  /** A run whose root span links to an earlier run. */
  linkedTraceId: string;
}

interface Deployment {
  service: string;
  version: string;
  agent: string;
  models: string[];
  retrieval: boolean;
  /** Probability that a run goes badly (and earns negative verdicts). */
  badRate: number;
  startHour: number;
  endHour: number;
  runs: number;
}

const DEPLOYMENTS: Deployment[] = [
  { service: 'support-agent', version: '1.14.2', agent: 'support-agent', models: ['gpt-4o-2024-08-06', 'claude-sonnet-4-5'], retrieval: false, badRate: 0.12, startHour: 0, endHour: 2, runs: 90 },
  { service: 'support-agent', version: '1.15.0', agent: 'support-agent', models: ['gpt-4.1-mini-2025-04-14', 'claude-sonnet-4-5'], retrieval: true, badRate: 0.4, startHour: 2, endHour: 4, runs: 90 },
  { service: 'research-agent', version: '0.9.0', agent: 'research-agent', models: ['gemini-2.5-pro'], retrieval: true, badRate: 0.25, startHour: 0, endHour: 4, runs: 60 },
];

const TOOLS = ['lookup_order', 'search_kb', 'issue_refund', 'send_email'];
/**
 * What users ask (runs of one agent with the same question are one task in
 * verdict.tasks): three per deployment, each once in a conversation, so the
 * cookbook's `repeat` rule does not fire on them (the two support-agent
 * deployments reuse conversation IDs, so they ask different questions).
 */
const QUESTIONS = [
  'Where is my parcel?', 'How do I get a refund for a delayed parcel?', 'Can I change my delivery address?',
  'My parcel is late, what now?', 'Can I get my money back?', 'Please send it to my office instead.',
];

function idGenerator(r: () => number) {
  const hex = (bytes: number): string => {
    let out = '';
    for (let i = 0; i < bytes; i++) out += Math.floor(r() * 256).toString(16).padStart(2, '0');
    return /^0+$/.test(out) ? hex(bytes) : out;
  };
  return { generateTraceId: () => hex(16), generateSpanId: () => hex(8) };
}

interface Emitter {
  provider: LoggerProvider;
  exporter: InMemoryLogRecordExporter;
  logger: ReturnType<LoggerProvider['getLogger']>;
}

function emitter(service: string, version: string): Emitter {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.version': version }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  return { provider, exporter, logger: provider.getLogger(service, version) };
}

/** Makes the data set in memory (240 runs: about 1,200 spans, 800 log records of which 450 are verdicts). */
export async function makeSeed(seed = 5): Promise<SeedData> {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const between = (lo: number, hi: number) => Math.floor(lo + r() * (hi - lo));

  const evaluators = {
    judge: emitter('judge-service', '2.3.0'),
    web: emitter('support-web', '5.1.0'),
    review: emitter('review-console', '1.0.0'),
    guardrails: emitter('guardrails', '0.4.1'),
  };
  const allSpans: ReadableSpan[] = [];
  const agentLogs: ReadableLogRecord[] = [];
  const traceIds: string[] = [];
  let previousRoot: Span | null = null;
  let responseOnly = 0;

  // Which feedback sources judged each run, to pick the showcase run.
  const sources = new Map<string, Set<string>>();
  const evaluate = (em: Emitter, ctx: Context | undefined, time: number, attrs: Record<string, string | number>) => {
    const traceId = ctx ? trace.getSpanContext(ctx)?.traceId : undefined;
    if (traceId) sources.set(traceId, (sources.get(traceId) ?? new Set()).add(String(attrs['verdict.feedback.source'])));
    em.logger.emit({ eventName: 'gen_ai.evaluation.result', timestamp: time, attributes: attrs, ...(ctx ? { context: ctx } : {}) });
  };
  const candidates: string[] = [];
  const linked: string[] = [];

  for (const d of DEPLOYMENTS) {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({
        'service.name': d.service,
        'service.version': d.version,
        'deployment.environment.name': 'production',
        'telemetry.sdk.language': 'nodejs',
      }),
      idGenerator: idGenerator(r),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer(`${d.agent}-instrumentation`, '1.2.0');
    const agentLog = emitter(d.service, d.version);
    const span0 = SEED_START + d.startHour * 3_600_000;
    const spacing = ((d.endHour - d.startHour) * 3_600_000) / d.runs;
    let conversation = '';

    for (let i = 0; i < d.runs; i++) {
      const t0 = Math.floor(span0 + i * spacing + r() * spacing * 0.5);
      const model = pick(d.models);
      const bad = r() < d.badRate;
      const providerName = model.startsWith('claude') ? 'anthropic' : model.startsWith('gemini') ? 'gcp.gemini' : 'openai';
      if (i % 3 === 0 || conversation === '') conversation = `conv-${d.agent}-${i}`;
      const root = tracer.startSpan(`invoke_agent ${d.agent}`, {
        kind: SpanKind.SERVER,
        startTime: t0,
        attributes: {
          'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': d.agent, 'gen_ai.conversation.id': conversation,
          'gen_ai.provider.name': providerName, 'gen_ai.request.model': model,
          // The knowledge base the run read (the learning loop's context layer); 1.15.0 moved to a new index.
          'verdict.context.version': d.retrieval && d.service === 'support-agent' ? 'kb-2026-03' : 'kb-2026-02',
        },
        // Now and then a run follows up an earlier one: a span link (the Traces panel's references).
        links: previousRoot && i % 20 === 5 ? [{ context: previousRoot.spanContext(), attributes: { 'link.reason': 'follow_up' } }] : [],
      });
      const rootCtx = trace.setSpan(context.active(), root);
      traceIds.push(root.spanContext().traceId);
      if (previousRoot && i % 20 === 5) linked.push(root.spanContext().traceId);
      agentLog.logger.emit({ body: `handling request in ${conversation}`, severityNumber: SeverityNumber.INFO, severityText: 'INFO', timestamp: t0 + 1, context: rootCtx });
      let t = t0 + 5;

      if (d.retrieval) {
        const docs = bad ? between(0, 2) : between(3, 8);
        const ret = tracer.startSpan('retrieval kb-main', {
          kind: SpanKind.CLIENT, startTime: t,
          attributes: { 'gen_ai.operation.name': 'retrieval', 'gen_ai.data_source.id': 'kb-main', 'gen_ai.retrieval.query.text': 'refund policy for delayed parcels' },
        }, rootCtx);
        t += between(40, 300);
        agentLog.logger.emit({ body: `retrieved ${docs} documents`, severityNumber: SeverityNumber.INFO, severityText: 'INFO', timestamp: t - 1, attributes: { 'retrieval.documents': docs }, context: trace.setSpan(context.active(), ret) });
        ret.end(t);
      }

      const chats: Span[] = [];
      let toolFailed: Span | null = null;
      const calls = between(1, 4);
      for (let c = 0; c < calls; c++) {
        const input = between(300, 2500);
        const output = between(20, 500);
        const chat = tracer.startSpan(`chat ${model}`, {
          kind: SpanKind.CLIENT, startTime: t,
          attributes: {
            'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': providerName, 'gen_ai.request.model': model, 'gen_ai.response.model': model,
            'gen_ai.response.id': `resp-${d.agent}-${d.version}-${i}-${c}`, 'gen_ai.conversation.id': conversation,
            'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': output, 'gen_ai.response.finish_reasons': ['stop'],
            'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: QUESTIONS[((3 * DEPLOYMENTS.indexOf(d)) % QUESTIONS.length) + (i % 3)] }] }]),
            'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: bad ? 'I am not sure.' : 'Your parcel ships today.' }], finish_reason: 'stop' }]),
          },
        }, rootCtx);
        t += between(300, bad ? 4000 : 1500);
        chat.end(t);
        chats.push(chat);
        if (c < calls - 1 || r() < 0.5) {
          const tool = pick(TOOLS);
          const call = tracer.startSpan(`execute_tool ${tool}`, {
            kind: SpanKind.INTERNAL, startTime: t,
            attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, 'gen_ai.tool.call.arguments': JSON.stringify({ order_id: between(1000, 9999) }) },
          }, rootCtx);
          t += between(20, 400);
          if (bad && !toolFailed && r() < 0.4) {
            call.addEvent('exception', { 'exception.type': 'TimeoutError', 'exception.message': `${tool} timed out` }, t - 1);
            call.setStatus({ code: SpanStatusCode.ERROR, message: `${tool} timed out` });
            agentLog.logger.emit({ body: `tool ${tool} timed out`, severityNumber: SeverityNumber.WARN, severityText: 'WARN', timestamp: t, context: trace.setSpan(context.active(), call) });
            toolFailed = call;
          }
          call.end(t);
        }
      }
      const end = t + 20;
      if (d.agent === 'research-agent') {
        // The agent grades itself: a verdict as a span event, with no feedback source.
        root.addEvent('gen_ai.evaluation.result', { 'gen_ai.evaluation.name': 'self_check', 'gen_ai.evaluation.score.label': bad ? 'fail' : 'pass', 'gen_ai.evaluation.score.value': bad ? 0 : 1 }, end - 1);
      }
      if (toolFailed && bad && r() < 0.5) root.setStatus({ code: SpanStatusCode.ERROR, message: 'run failed' });
      root.end(end);
      previousRoot = root;

      const last = chats.at(-1) as Span;
      const lastCtx = trace.setSpan(context.active(), last);
      // LLM judge on the final answer.
      if (r() < 0.85) {
        const label = bad ? (r() < 0.85 ? 'not_relevant' : 'partially_relevant') : r() < 0.95 ? 'relevant' : 'partially_relevant';
        const score = label === 'relevant' ? 0.7 + r() * 0.3 : label === 'partially_relevant' ? 0.5 : r() * 0.4;
        evaluate(evaluators.judge, lastCtx, end + between(1000, 30_000), {
          'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.value': Math.round(score * 100) / 100, 'gen_ai.evaluation.score.label': label,
          'gen_ai.evaluation.explanation': bad ? 'The answer does not address the question.' : 'On topic.', 'verdict.feedback.source': 'llm_judge',
        });
      }
      if (r() < 0.1) {
        evaluate(evaluators.judge, lastCtx, end + between(1000, 30_000), { 'gen_ai.evaluation.name': 'Tone', 'gen_ai.evaluation.score.label': 'formal', 'verdict.feedback.source': 'llm_judge' });
      }
      // The end user's thumbs, on the run.
      if (r() < 0.35) {
        const down = bad ? r() < 0.8 : r() < 0.05;
        evaluate(evaluators.web, rootCtx, end + between(10_000, 300_000), {
          'gen_ai.evaluation.name': 'user_feedback', 'gen_ai.evaluation.score.value': down ? 0 : 1, 'gen_ai.evaluation.score.label': down ? 'thumbs_down' : 'thumbs_up',
          ...(down ? { 'gen_ai.evaluation.explanation': 'Did not answer my question' } : {}), 'verdict.feedback.source': 'user',
        });
      }
      // The user asked again: an indirect signal.
      if (bad && r() < 0.3) {
        evaluate(evaluators.web, rootCtx, end + between(5000, 60_000), { 'gen_ai.evaluation.name': 'regenerate', 'gen_ai.evaluation.score.label': 'regenerated', 'verdict.feedback.source': 'indirect' });
      }
      // A reviewer samples runs.
      if (r() < 0.1) {
        evaluate(evaluators.review, rootCtx, end + between(600_000, 3_600_000), {
          'gen_ai.evaluation.name': 'human_review', 'gen_ai.evaluation.score.label': bad ? 'incorrect' : 'correct', 'verdict.feedback.source': 'reviewer',
        });
      }
      // A guardrail rule flags failed tool calls.
      if (toolFailed) {
        evaluate(evaluators.guardrails, trace.setSpan(context.active(), toolFailed), end + 100, {
          'gen_ai.evaluation.name': 'tool_error', 'gen_ai.evaluation.score.label': 'fail', 'gen_ai.evaluation.explanation': 'A tool call failed', 'verdict.feedback.source': 'rule',
        });
      }
      // An offline judge that only knows the completion's response ID.
      if (i % 15 === 7) {
        responseOnly++;
        evaluate(evaluators.judge, undefined, end + between(60_000, 600_000), {
          'gen_ai.evaluation.name': 'Faithfulness', 'gen_ai.evaluation.score.label': bad ? 'unfaithful' : 'faithful',
          'gen_ai.response.id': `resp-${d.agent}-${d.version}-${i}-0`, 'verdict.feedback.source': 'llm_judge',
        });
      }
      if (toolFailed && d.agent === 'research-agent') candidates.push(root.spanContext().traceId);
    }
    await provider.forceFlush();
    await agentLog.provider.forceFlush();
    allSpans.push(...exporter.getFinishedSpans());
    agentLogs.push(...agentLog.exporter.getFinishedLogRecords());
  }
  const evaluationLogs: ReadableLogRecord[] = [];
  for (const e of Object.values(evaluators)) {
    await e.provider.forceFlush();
    evaluationLogs.push(...e.exporter.getFinishedLogRecords());
  }
  // The showcase: a research-agent run (span events, retrieval) with a failed tool and the most feedback sources.
  const linkedTraceId = linked.find((id) => sources.has(id)) ?? '';
  const showcaseTraceId = candidates.sort((a, b) => (sources.get(b)?.size ?? 0) - (sources.get(a)?.size ?? 0))[0] ?? '';
  if (!showcaseTraceId || (sources.get(showcaseTraceId)?.size ?? 0) < 3 || !linkedTraceId || responseOnly === 0) throw new Error('seed: the generator no longer makes a showcase run; change the seed');
  const byTrace = new Map<string, ReadableSpan[]>();
  for (const s of allSpans) byTrace.set(s.spanContext().traceId, [...(byTrace.get(s.spanContext().traceId) ?? []), s]);
  return { traces: [...byTrace.values()], spans: allSpans, logs: [...agentLogs, ...evaluationLogs], traceIds, showcaseTraceId, linkedTraceId };
}

/** Something that can run SQL against the seeded database. */
export interface Queryable {
  query<T = Record<string, unknown>>(text: string): Promise<T[]>;
}

async function post(url: string, body: Uint8Array): Promise<void> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
  const bytes = new Uint8Array(await res.arrayBuffer());
  // 200 with an empty body: everything stored (a partial success would carry a body).
  if (res.status !== 200 || bytes.length !== 0) throw new Error(`seed: ${url} answered ${res.status} with ${bytes.length} bytes`);
}

/**
 * The feedback configuration (the `feedback:` section of Verdict's config
 * file) to start the server with: it gives every label of the data set its
 * polarity at ingest, as a deployment would configure it ('regenerated' is
 * not among Verdict's default labels).
 */
export const SEED_FEEDBACK: FeedbackConfig = parseFeedbackConfig({ polarity: { labels: POLARITY } });

/** The learning loop's configuration for the seed: the relevance judge is compared with the users' thumbs and the reviewers. */
export const SEED_LOOP: LoopConfig = parseLoopConfig({ judge_pairs: [{ judge: 'Relevance', human: ['user_feedback', 'human_review'] }] });

/**
 * Sends the data set to a running Verdict (OTLP/HTTP protobuf), then checks
 * that the verdicts got the polarity POLARITY gives their label, which needs
 * the server to run with SEED_FEEDBACK.
 */
export async function loadSeed(httpUrl: string, db: Queryable, data: SeedData): Promise<void> {
  // A few hundred spans per request, like an SDK's batch processor.
  for (let i = 0; i < data.traces.length; i += 40) {
    const bytes = ProtobufTraceSerializer.serializeRequest(data.traces.slice(i, i + 40).flat());
    if (!bytes) throw new Error('seed: the trace serializer produced nothing');
    await post(`${httpUrl}/v1/traces`, bytes);
  }
  for (let i = 0; i < data.logs.length; i += 300) {
    const bytes = ProtobufLogsSerializer.serializeRequest(data.logs.slice(i, i + 300));
    if (!bytes) throw new Error('seed: the logs serializer produced nothing');
    await post(`${httpUrl}/v1/logs`, bytes);
  }
  const cases = Object.entries(POLARITY).map(([label, p]) => `WHEN '${label}' THEN '${p}'`).join(' ');
  const [wrong] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM verdict.evaluations WHERE polarity IS DISTINCT FROM (CASE score_label ${cases} END)`,
  );
  if (wrong?.n !== 0) throw new Error(`seed: ${wrong?.n} verdicts lack the polarity of their label; start the server with SEED_FEEDBACK`);
  for (const statement of SEED_JUDGE_JOBS_SQL.split(';').filter((x) => x.trim() !== '')) await db.query(statement);
}

/**
 * The online judges' queue and spend as if the seed's LLM-judge verdicts had
 * been made by Verdict's evaluators (the Evaluators dashboard reads them): a
 * done job per verdict, a failed job for every tenth run judged, a few jobs
 * still waiting, and each evaluator's calls and tokens per day.
 */
const SEED_JUDGE_JOBS_SQL = `
INSERT INTO verdict.judge_jobs (evaluator, evaluator_version, target, target_kind, trace_id, span_id, status, not_before, attempts, verdict_id, created_at, finished_at)
SELECT name, 'seed', id, 'span', target_trace_id, target_span_id, 'done', time, 1, id, time, time
FROM verdict.evaluations WHERE source = 'llm_judge';
INSERT INTO verdict.judge_jobs (evaluator, evaluator_version, target, target_kind, trace_id, status, not_before, attempts, last_error, created_at, finished_at)
SELECT name, 'seed', 'failed/' || id, 'trace', target_trace_id, 'failed', time, 4, 'server_error: 500 from the judge', time, time + interval '2 minutes'
FROM verdict.evaluations WHERE source = 'llm_judge' AND right(id, 1) = '0';
INSERT INTO verdict.judge_jobs (evaluator, evaluator_version, target, target_kind, trace_id, status, not_before)
SELECT name, 'seed', 'queued/' || id, 'trace', target_trace_id, 'queued', time + interval '1 day'
FROM verdict.evaluations WHERE source = 'llm_judge' AND right(id, 2) = '01';
INSERT INTO verdict.judge_usage (evaluator, period, window_start, calls, tokens)
SELECT name, 'day', date_trunc('day', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*), count(*) * 120
FROM verdict.evaluations WHERE source = 'llm_judge' GROUP BY 1, 3;`;

/** The init script that creates Grafana's read-only role (run by the postgres image on an empty database). */
export const READER_INIT_SQL = new URL('../../deploy/postgres-init/10-grafana-reader.sql', import.meta.url);
export const READER_ROLE = 'grafana_reader';

/**
 * The init script with the role renamed: roles are cluster-wide, so each test
 * file makes its own (and drops it), rather than share one on the test server.
 */
export function readerInitSql(role: string): string {
  return readFileSync(READER_INIT_SQL, 'utf8').replace(new RegExp(`\\b${READER_ROLE}\\b`, 'g'), role);
}
