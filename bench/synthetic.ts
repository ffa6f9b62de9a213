/**
 * Synthetic data for the read benchmark, shaped like what the receiver
 * stores from real agents: runs of about ten spans (an invoke_agent root,
 * LLM chat calls with GenAI attributes, token counts and captured messages,
 * tool calls with arguments and results, a retrieval, an HTTP call), spread
 * over a span of days; three agents whose releases change over time;
 * conversations of several runs; verdicts on about a fifth of the runs (a
 * judge's span event on a chat call, users' thumbs on runs and on response
 * IDs, verdicts on threads) and a log record per about five spans.
 *
 * It builds decoded OTLP requests (the form the receiver's decoders produce)
 * directly, so that loading ten million spans spends its time in the
 * receiver's own normaliser and write path, not in encoding.
 */
import type { ExportLogsServiceRequest, ExportTraceServiceRequest, KeyValue, LogRecord, Span } from '../src/otlp/types.ts';
import { contentKey } from '../src/common/util.ts';
import type { EvaluationRow } from '../src/model/rows.ts';
import { rng } from './workload.ts';

const WORDS = 'the agent checks order status refund policy shipping address invoice customer asked about delayed package tracking number warehouse carrier estimate apology credit account email verification'.split(' ');
const AGENTS = [
  { service: 'support-agent', versions: ['1.14.2', '1.15.0', '1.16.0'], models: ['gpt-4o-2024-08-06', 'gpt-4.1-mini-2025-04-14'] },
  { service: 'research-agent', versions: ['0.9.0', '0.10.0'], models: ['claude-sonnet-4-5'] },
  { service: 'billing-agent', versions: ['3.2.1', '3.3.0'], models: ['gemini-2.5-pro', 'gpt-4o-2024-08-06'] },
];
const TOOLS = ['lookup_order', 'search_kb', 'issue_refund', 'send_email'];
const LABELS = [['relevant', 'not_relevant'], ['pass', 'fail'], ['thumbs_up', 'thumbs_down']];

const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const n = (key: string, v: number): KeyValue => ({ key, value: { intValue: v } });
const d = (key: string, v: number): KeyValue => ({ key, value: { doubleValue: v } });

function sentence(r: () => number, words: number): string {
  let out = '';
  for (let i = 0; i < words; i++) out += (i ? ' ' : '') + WORDS[Math.floor(r() * WORDS.length)];
  return out;
}

function id(bytes: number, a: number, b: number): Uint8Array {
  const out = Buffer.alloc(bytes);
  out.writeUInt32BE(a >>> 0, 0);
  out.writeUInt32BE(b >>> 0, 4);
  if (bytes === 16) out.writeUInt32BE(0x5eed, 12);
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export interface SyntheticOptions {
  /** Spans to make (about; whole runs). */
  spans: number;
  /** The data covers this many days, ending now. */
  days: number;
  seed?: number;
  /** Runs per request. */
  runsPerRequest?: number;
}

export interface SyntheticRequest {
  traces: ExportTraceServiceRequest;
  logs: ExportLogsServiceRequest;
  /** Verdicts from the feedback API (users' thumbs on runs and completions, thread verdicts). */
  feedback: EvaluationRow[];
  spans: number;
}

/** Yields requests of `runsPerRequest` runs until about `spans` spans are made; runs are spread evenly over the days. */
export function* synthetic(o: SyntheticOptions): Generator<SyntheticRequest> {
  const r = rng(o.seed ?? 7);
  const runs = Math.ceil(o.spans / 10);
  const per = o.runsPerRequest ?? 50;
  const end = Date.now();
  const start = end - o.days * 86_400_000;
  const step = (end - start) / runs;
  let conversation = 0;
  let conversationLeft = 0;
  for (let first = 0; first < runs; first += per) {
    const byService = new Map<string, { version: string; spans: Span[] }>();
    const logs: LogRecord[] = [];
    const feedback: EvaluationRow[] = [];
    let spans = 0;
    for (let k = first; k < Math.min(runs, first + per); k++) {
      if (conversationLeft <= 0) {
        conversation++;
        conversationLeft = 1 + Math.floor(r() * 7);
      }
      conversationLeft--;
      const t0 = start + k * step;
      const agent = AGENTS[k % AGENTS.length]!;
      const version = agent.versions[Math.min(agent.versions.length - 1, Math.floor(((t0 - start) / (end - start)) * agent.versions.length))]!;
      const run = agentRun(r, k, t0, agent.service, agent.models, `conv-${conversation.toString(36)}`, logs, feedback);
      spans += run.length;
      const key = `${agent.service}|${version}`;
      const entry = byService.get(key) ?? { version, spans: [] };
      entry.spans.push(...run);
      byService.set(key, entry);
    }
    const envelopes = [...byService.entries()].map(([key, e]) => ({ service: key.split('|')[0]!, version: e.version, spans: e.spans }));
    yield {
      traces: {
        resourceSpans: envelopes.map((e) => ({
          resource: { attributes: resource(e.service, e.version), droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: 'verdict-bench', version: '1.0.0', attributes: [], droppedAttributesCount: 0 }, spans: e.spans, schemaUrl: '' }],
          schemaUrl: '',
        })),
      },
      logs: {
        resourceLogs: [{
          resource: { attributes: resource(envelopes[0]!.service, envelopes[0]!.version), droppedAttributesCount: 0 },
          scopeLogs: [{ scope: { name: 'verdict-bench', version: '1.0.0', attributes: [], droppedAttributesCount: 0 }, logRecords: logs, schemaUrl: '' }],
          schemaUrl: '',
        }],
      },
      feedback,
      spans,
    };
  }
}

function resource(service: string, version: string): KeyValue[] {
  return [
    s('service.name', service), s('service.version', version), s('deployment.environment.name', 'production'),
    s('telemetry.sdk.name', 'opentelemetry'), s('telemetry.sdk.language', 'nodejs'), s('telemetry.sdk.version', '3.1.1'),
    s('host.name', `agent-7f9c6d-${service.slice(0, 4)}`), n('process.pid', 4242), s('cloud.region', 'eu-west-1'),
    s('k8s.pod.name', `${service}-7f9c6d-x2k4p`), s('k8s.namespace.name', 'agents'),
  ];
}

const ns = (ms: number) => BigInt(Math.round(ms * 1000)) * 1000n;

function span(traceId: Uint8Array, spanId: Uint8Array, parent: Uint8Array | null, name: string, kind: number, from: number, to: number, attributes: KeyValue[], error = false): Span {
  return {
    traceId, spanId, parentSpanId: parent ?? new Uint8Array(0), traceState: '', flags: 1, name, kind,
    startTimeUnixNano: ns(from), endTimeUnixNano: ns(to), attributes, droppedAttributesCount: 0, events: [], droppedEventsCount: 0,
    links: [], droppedLinksCount: 0, status: error ? { code: 2, message: 'tool timed out' } : { code: 0, message: '' },
  };
}

function messages(r: () => number, turns: number): string {
  const out = [];
  for (let i = 0; i < turns; i++) out.push({ role: i % 2 === 0 ? 'user' : 'assistant', parts: [{ type: 'text', content: sentence(r, 10 + Math.floor(r() * 40)) }] });
  return JSON.stringify(out);
}

function agentRun(r: () => number, k: number, t0: number, service: string, models: string[], conversation: string, logs: LogRecord[], feedback: EvaluationRow[]): Span[] {
  const traceId = id(16, 0xbe4c0000 + (k >>> 24), k);
  let seq = 0;
  const next = () => id(8, k, ++seq);
  const rootId = next();
  const out: Span[] = [];
  let t = t0 + 3;
  let inTok = 0;
  let outTok = 0;
  const model = models[k % models.length]!;
  const chats: Array<{ spanId: Uint8Array; responseId: string; start: number }> = [];
  for (let c = 0; c < 3 + (k % 2); c++) {
    const spanId = next();
    const input = 200 + Math.floor(r() * 2000);
    const output = 20 + Math.floor(r() * 400);
    inTok += input;
    outTok += output;
    const responseId = `chatcmpl-${k.toString(36)}-${c}`;
    const dur = 300 + Math.floor(r() * 3000);
    out.push(span(traceId, spanId, rootId, `chat ${model}`, 3, t, t + dur, [
      s('gen_ai.operation.name', 'chat'), s('gen_ai.provider.name', 'openai'), s('gen_ai.request.model', model), s('gen_ai.response.model', model),
      s('gen_ai.response.id', responseId), n('gen_ai.usage.input_tokens', input), n('gen_ai.usage.output_tokens', output),
      d('gen_ai.request.temperature', 0.2), s('gen_ai.conversation.id', conversation),
      s('gen_ai.input.messages', messages(r, 1 + 2 * c)), s('gen_ai.output.messages', messages(r, 1)),
    ]));
    chats.push({ spanId, responseId, start: t });
    t += dur + 5;
    if (c < 3) {
      const tool = TOOLS[(k + c) % TOOLS.length]!;
      const toolDur = 20 + Math.floor(r() * 400);
      out.push(span(traceId, next(), rootId, `execute_tool ${tool}`, 1, t, t + toolDur, [
        s('gen_ai.operation.name', 'execute_tool'), s('gen_ai.tool.name', tool), s('gen_ai.tool.type', 'function'),
        s('gen_ai.tool.call.id', `call_${k}_${c}`), s('gen_ai.tool.call.arguments', JSON.stringify({ order_id: k, query: sentence(r, 6) })),
        s('gen_ai.tool.call.result', JSON.stringify({ ok: true, detail: sentence(r, 25) })),
      ], r() < 0.03));
      t += toolDur + 5;
    }
  }
  out.push(span(traceId, next(), rootId, 'retrieval kb', 1, t, t + 40, [s('gen_ai.operation.name', 'retrieval'), s('gen_ai.data_source.id', 'kb-main')]));
  out.push(span(traceId, next(), rootId, 'GET', 3, t + 45, t + 80, [
    s('http.request.method', 'GET'), s('url.full', `https://crm.internal/api/customers/${k % 1000}`), n('http.response.status_code', 200), s('server.address', 'crm.internal'),
  ]));
  t += 90;
  const root = span(traceId, rootId, null, `invoke_agent ${service}`, 1, t0, t, [
    s('gen_ai.operation.name', 'invoke_agent'), s('gen_ai.agent.name', service), s('gen_ai.request.model', model),
    s('gen_ai.conversation.id', conversation), n('gen_ai.usage.input_tokens', inTok), n('gen_ai.usage.output_tokens', outTok),
  ]);
  out.unshift(root);
  // A log record per about five spans, in the run's context.
  for (let i = 0; i < out.length; i += 5) {
    const at = out[i]!;
    logs.push({
      timeUnixNano: at.startTimeUnixNano, observedTimeUnixNano: at.startTimeUnixNano, severityNumber: 9, severityText: 'INFO',
      body: { stringValue: `step ${at.name} for order ${k}: ${sentence(r, 8)}` }, attributes: [s('code.function', 'handle')],
      droppedAttributesCount: 0, flags: 1, traceId, spanId: at.spanId, eventName: '',
    } as LogRecord);
  }
  // Verdicts on about a fifth of the runs.
  const roll = r();
  if (roll < 0.12) {
    const judged = chats[Math.floor(r() * chats.length)]!;
    const chat = out.find((x) => x.spanId === judged.spanId)!;
    const good = r() > 0.3;
    chat.events.push({
      timeUnixNano: (chat.endTimeUnixNano as bigint) + 5_000_000_000n, name: 'gen_ai.evaluation.result', droppedAttributesCount: 0,
      attributes: [s('gen_ai.evaluation.name', 'Relevance'), s('gen_ai.evaluation.score.label', good ? 'relevant' : 'not_relevant'),
        d('gen_ai.evaluation.score.value', good ? 0.8 + r() * 0.2 : r() * 0.4), s('gen_ai.evaluation.explanation', sentence(r, 12)), s('verdict.feedback.source', 'llm_judge')],
    });
  } else if (roll < 0.17) {
    feedback.push(apiVerdict(r, { trace_id: hex(traceId) }, 'user_rating', LABELS[2]!, t + 60_000, 'user'));
  } else if (roll < 0.19) {
    feedback.push(apiVerdict(r, { response_id: chats[chats.length - 1]!.responseId }, 'thumbs', LABELS[2]!, t + 30_000, 'user'));
  } else if (roll < 0.2) {
    feedback.push(apiVerdict(r, { conversation_id: conversation }, 'resolved', ['yes', 'no'], t + 600_000, 'indirect'));
  }
  return out;
}

function apiVerdict(r: () => number, target: Partial<EvaluationRow>, name: string, labels: string[], timeMs: number, source: string): EvaluationRow {
  const label = labels[r() < 0.7 ? 0 : 1]!;
  return {
    id: contentKey('bench', target, name, timeMs), trace_id: null, span_id: null, response_id: null, conversation_id: null,
    name, score_value: null, score_label: label, explanation: null, error_type: null, time_unix_nano: ns(timeMs), channel: 'api', source,
    polarity: null, service_name: null, attributes: '{}', target: null, ...target,
  };
}
