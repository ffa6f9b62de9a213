/**
 * One call to an OpenAI-compatible chat-completions endpoint (OpenAI, and
 * the local servers that copy its API: Ollama, vLLM, llama.cpp server),
 * asking for structured output (`response_format` of type `json_schema`,
 * strict) and reading the answer strictly: anything but the object the
 * schema describes is an invalid answer, kept raw on an error verdict.
 */
import http from 'node:http';
import https from 'node:https';
import type { JudgeModel, OutputSpec } from './config.ts';

export interface JudgeAnswer {
  /** The message content, as received. */
  raw: string;
  responseModel: string | null;
  responseId: string | null;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
}

export type CallFailure = 'rate_limited' | 'server_error' | 'timeout' | 'network' | 'refused' | 'bad_response';

/** A call that produced no answer to judge; `retryable` failures are retried with backoff. */
export class JudgeCallError extends Error {
  readonly kind: CallFailure;
  readonly retryAfterMs: number | null;
  readonly latencyMs: number;
  constructor(kind: CallFailure, message: string, retryAfterMs: number | null = null, latencyMs = 0) {
    super(message);
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
    this.latencyMs = latencyMs;
  }
  get retryable(): boolean {
    return this.kind !== 'refused';
  }
}

/** The JSON schema of the answer (OpenAI structured outputs: every property required, no others). */
export function answerSchema(spec: OutputSpec): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  if (spec.score) properties.score = { type: 'number', minimum: spec.score.min, maximum: spec.score.max };
  if (spec.labels) properties.label = { type: 'string', enum: [...spec.labels.keys()] };
  if (spec.explanation) properties.explanation = { type: 'string' };
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}

/** Connections kept open between calls, as a judge is called many times a second. */
const AGENTS = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
/** A chat completion with a verdict in it is a few KB; a larger response is not one. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

interface Reply {
  status: number;
  retryAfter: string | null;
  text: string;
}

/**
 * One POST with node:http rather than fetch: fetch cost the receiver about
 * 0.7 ms of CPU a call more (web streams, its own abort and header
 * machinery; `npm run bench:judge-cost`), on the cores ingest needs.
 */
function post(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: AGENTS[url.protocol as 'http:' | 'https:'], signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) {
          res.destroy(new Error(`the response is larger than ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function callJudge(model: JudgeModel, prompt: string, spec: OutputSpec, timeoutMs: number, signal?: AbortSignal): Promise<JudgeAnswer> {
  const body = {
    model: model.model,
    messages: [{ role: 'user', content: prompt }],
    temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'verdict', strict: true, schema: answerSchema(spec) } },
  };
  const headers: Record<string, string> = { 'content-type': 'application/json', ...model.headers };
  if (model.apiKey) headers.authorization = `Bearer ${model.apiKey}`;
  const started = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Reply;
  try {
    res = await post(new URL(`${model.baseUrl}/chat/completions`), headers, JSON.stringify(body), signal ? AbortSignal.any([timeout, signal]) : timeout);
  } catch (err) {
    const latency = performance.now() - started;
    if (timeout.aborted) throw new JudgeCallError('timeout', `no answer within ${timeoutMs} ms`, null, latency);
    throw new JudgeCallError('network', (err as Error).message, null, latency);
  }
  const text = res.text;
  const latencyMs = performance.now() - started;
  if (res.status === 429) throw new JudgeCallError('rate_limited', `429 from the judge: ${text.slice(0, 200)}`, retryAfterMs(res.retryAfter), latencyMs);
  if (res.status >= 500 || res.status === 408) throw new JudgeCallError('server_error', `${res.status} from the judge: ${text.slice(0, 200)}`, retryAfterMs(res.retryAfter), latencyMs);
  if (res.status !== 200) throw new JudgeCallError('refused', `${res.status} from the judge: ${text.slice(0, 200)}`, null, latencyMs);
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new JudgeCallError('bad_response', `the judge's response is not JSON: ${text.slice(0, 200)}`, null, latencyMs);
  }
  const content = doc?.choices?.[0]?.message?.content;
  const refusal = doc?.choices?.[0]?.message?.refusal;
  const raw = typeof content === 'string' ? content : typeof refusal === 'string' ? refusal : JSON.stringify(doc?.choices?.[0]?.message ?? doc).slice(0, 64 * 1024);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    raw,
    responseModel: typeof doc?.model === 'string' ? doc.model : null,
    responseId: typeof doc?.id === 'string' ? doc.id : null,
    inputTokens: num(doc?.usage?.prompt_tokens),
    outputTokens: num(doc?.usage?.completion_tokens),
    latencyMs,
  };
}

export interface ParsedAnswer {
  score: number | null;
  label: string | null;
  explanation: string | null;
}

/** Reads the answer against the output spec; throws with the reason when it does not fit. */
export function parseAnswer(raw: string, spec: OutputSpec): ParsedAnswer {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error('the answer is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the answer is not a JSON object');
  const o = v as Record<string, unknown>;
  const allowed = Object.keys((answerSchema(spec).properties as object));
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Error(`the answer has an unexpected field ${JSON.stringify(k)}`);
  let score: number | null = null;
  if (spec.score) {
    if (typeof o.score !== 'number' || !Number.isFinite(o.score)) throw new Error('the answer has no numeric score');
    if (o.score < spec.score.min || o.score > spec.score.max) throw new Error(`the score ${o.score} is outside ${spec.score.min}..${spec.score.max}`);
    score = o.score;
  }
  let label: string | null = null;
  if (spec.labels) {
    if (typeof o.label !== 'string' || !spec.labels.has(o.label)) throw new Error(`the label ${JSON.stringify(o.label)} is not one of ${[...spec.labels.keys()].join(', ')}`);
    label = o.label;
  }
  let explanation: string | null = null;
  if (spec.explanation) {
    if (typeof o.explanation !== 'string') throw new Error('the answer has no explanation');
    explanation = o.explanation.slice(0, 16 * 1024);
  }
  return { score, label, explanation };
}
