/**
 * Realistic GenAI agent traces for the benchmark, made with the official
 * OpenTelemetry JS SDK and serialised with its own OTLP protobuf serializer.
 *
 * One trace is an agent run of about ten spans: an invoke_agent root, LLM
 * chat calls with GenAI attributes, token counts and captured messages, and
 * tool calls with arguments and results, plus one gen_ai.evaluation.result
 * event (the verdict) on the root. Attribute sizes follow what content-
 * capturing instrumentation sends (messages of a few hundred bytes to a few
 * kilobytes).
 *
 * A payload is encoded once; `Payload.next()` returns a copy with fresh trace
 * IDs (patched in place at known offsets), so a run of any length stores only
 * unique spans without encoding again.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

const WORDS = 'the agent checks order status refund policy shipping address invoice customer asked about delayed package tracking number warehouse carrier estimate apology credit account email verification'.split(' ');

/** Deterministic pseudo-random numbers (mulberry32), so every run sends the same shapes; the test seed uses it too. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sentence(r: () => number, words: number): string {
  let out = '';
  for (let i = 0; i < words; i++) out += (i ? ' ' : '') + WORDS[Math.floor(r() * WORDS.length)];
  return out;
}

const MODELS = ['gpt-4o-2024-08-06', 'claude-sonnet-4-5', 'gemini-2.5-pro'];
const TOOLS = ['lookup_order', 'search_kb', 'issue_refund', 'send_email'];

function agentRun(tracer: ReturnType<TracerProvider['getTracer']>, r: () => number, t0: number, n: number): void {
  const model = MODELS[n % MODELS.length] as string;
  const conversation = `conv-${uniqueTail(r)}`;
  const root = tracer.startSpan('invoke_agent support-agent', {
    kind: SpanKind.INTERNAL,
    startTime: t0,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'support-agent',
      'gen_ai.agent.id': 'asst_5j66UpCpwteGg4YSxUnt7lPY',
      'gen_ai.conversation.id': conversation,
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': model,
    },
  });
  const ctx = trace.setSpan(context.active(), root);
  let t = t0 + 5;
  let inTok = 0;
  let outTok = 0;
  for (let i = 0; i < 4; i++) {
    const input = Math.floor(200 + r() * 2000);
    const output = Math.floor(20 + r() * 400);
    inTok += input;
    outTok += output;
    const llm: Span = tracer.startSpan(`chat ${model}`, {
      kind: SpanKind.CLIENT,
      startTime: t,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': model,
        'gen_ai.response.model': model,
        'gen_ai.response.id': `chatcmpl-${uniqueTail(r)}`,
        'gen_ai.conversation.id': conversation,
        'gen_ai.request.temperature': 0.2,
        'gen_ai.request.max_tokens': 1024,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.usage.input_tokens': input,
        'gen_ai.usage.output_tokens': output,
        'server.address': 'api.openai.com',
        'server.port': 443,
        'gen_ai.input.messages': JSON.stringify([
          { role: 'system', parts: [{ type: 'text', content: sentence(r, 30) }] },
          { role: 'user', parts: [{ type: 'text', content: sentence(r, 20 + Math.floor(r() * 60)) }] },
        ]),
        'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: sentence(r, 10 + Math.floor(r() * 50)) }], finish_reason: 'stop' }]),
      },
    }, ctx);
    t += 300 + Math.floor(r() * 900);
    llm.end(t);
    const tool = TOOLS[Math.floor(r() * TOOLS.length)] as string;
    const call = tracer.startSpan(`execute_tool ${tool}`, {
      kind: SpanKind.INTERNAL,
      startTime: t,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': tool,
        'gen_ai.tool.type': 'function',
        'gen_ai.tool.call.id': `call_${Math.floor(r() * 1e12).toString(36)}`,
        'gen_ai.tool.call.arguments': JSON.stringify({ order_id: Math.floor(r() * 1e6), query: sentence(r, 6) }),
        'gen_ai.tool.call.result': JSON.stringify({ ok: true, detail: sentence(r, 25) }),
      },
    }, ctx);
    t += 20 + Math.floor(r() * 200);
    if (r() < 0.05) call.setStatus({ code: SpanStatusCode.ERROR, message: 'tool timed out' });
    call.end(t);
  }
  const http = tracer.startSpan('GET', {
    kind: SpanKind.CLIENT,
    startTime: t,
    attributes: { 'http.request.method': 'GET', 'url.full': 'https://crm.internal/api/customers/42', 'http.response.status_code': 200, 'server.address': 'crm.internal' },
  }, ctx);
  http.end(t + 30);
  root.setAttributes({ 'gen_ai.usage.input_tokens': inTok, 'gen_ai.usage.output_tokens': outTok });
  const pass = r() > 0.2;
  root.addEvent('gen_ai.evaluation.result', {
    'gen_ai.evaluation.name': 'task_success',
    'gen_ai.evaluation.score.value': pass ? 1 : 0,
    'gen_ai.evaluation.score.label': pass ? 'pass' : 'fail',
    'gen_ai.evaluation.explanation': sentence(r, 15),
    'verdict.feedback.source': 'llm_judge',
  }, t + 40);
  root.end(t + 50);
}

/** Makes `traces` agent runs as ReadableSpans from the SDK (about 10 spans each). */
export async function makeSpans(traces: number, seed = 1): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'support-agent',
      'service.version': '1.14.2',
      'deployment.environment.name': 'production',
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': '3.1.1',
      'host.name': 'agent-7f9c6d-x2k4p',
      'process.pid': 4242,
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('verdict-bench', '1.0.0');
  const r = rng(seed);
  const t0 = Date.UTC(2026, 10, 1);
  for (let i = 0; i < traces; i++) agentRun(tracer, r, t0 + i * 10_000, i);
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

/** 16 characters that Payload.renew overwrites, so each request's runs have IDs of their own. */
function uniqueTail(r: () => number): string {
  return Math.floor(r() * 1e12).toString(36).padStart(16, '0');
}

/** Span attributes whose values name a run's context, renewed with the trace IDs (the last 16 characters of each). */
const RENEWED = ['gen_ai.conversation.id', 'gen_ai.response.id'];

/** A pre-encoded ExportTraceServiceRequest whose trace, conversation and response IDs can be renewed per send. */
export class Payload {
  readonly bytes: Uint8Array;
  readonly spans: number;
  readonly traces: number;
  /** Byte offsets of every trace ID occurrence, grouped per trace. */
  readonly #offsets: number[][];
  /** Byte offsets of the last 16 characters of every conversation and response ID, grouped per ID. */
  readonly #tails: number[][];

  constructor(spans: ReadableSpan[]) {
    const bytes = ProtobufTraceSerializer.serializeRequest(spans);
    if (!bytes) throw new Error('serializer produced nothing');
    this.bytes = bytes;
    this.spans = spans.length;
    const ids = [...new Set(spans.map((s) => s.spanContext().traceId))];
    this.traces = ids.length;
    const buf = Buffer.from(bytes);
    this.#offsets = ids.map((id) => {
      const needle = Buffer.from(id, 'hex');
      const at: number[] = [];
      for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + 1)) at.push(i);
      return at;
    });
    const values = [...new Set(spans.flatMap((s) => RENEWED.map((k) => s.attributes[k]).filter((v): v is string => typeof v === 'string')))];
    this.#tails = values.map((v) => {
      const needle = Buffer.from(v);
      const at: number[] = [];
      for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + 1)) at.push(i + needle.length - 16);
      return at;
    });
  }

  /**
   * A copy with every trace ID replaced by (salt, sequence), unique for up to
   * 2^32 traces per salt, and every conversation and response ID likewise: as
   * in real traffic, concurrent requests do not share runs' conversations or
   * model responses (shared ones would make every write wait for the others).
   */
  renew(salt: number, sequence: number): Buffer {
    const out = Buffer.from(this.bytes);
    this.#offsets.forEach((at, i) => {
      for (const o of at) {
        out.writeUInt32BE(salt >>> 0, o);
        out.writeUInt32BE((sequence * this.#offsets.length + i) >>> 0, o + 4);
      }
    });
    const prefix = (salt >>> 0).toString(16).padStart(8, '0');
    this.#tails.forEach((at, i) => {
      const tail = prefix + ((sequence * this.#tails.length + i) >>> 0).toString(16).padStart(8, '0');
      for (const o of at) out.write(tail, o, 'latin1');
    });
    return out;
  }
}
