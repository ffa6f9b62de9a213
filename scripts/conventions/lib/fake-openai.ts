/**
 * A fake OpenAI-compatible model server on loopback, deterministic so that
 * captured fixtures only differ in trace/span IDs and timestamps.
 *
 * Every scenario gets its own base URL, `http://127.0.0.1:PORT/<scenario>/v1`,
 * and its own counters, so `chatcmpl-1` is always the first chat completion
 * of that scenario whatever ran before it.
 *
 * Behaviour:
 * - POST /v1/chat/completions: when tools are offered and the last message is
 *   the user's, answers with a call to the first tool; otherwise with text.
 *   `stream: true` answers with SSE chunks (and a usage chunk when
 *   `stream_options.include_usage` is set, as the real API does).
 * - POST /v1/embeddings: small deterministic vectors, as floats or as base64
 *   (the `openai` client asks for base64 by default).
 * - POST /v1/responses: the Responses API, non-streaming and streaming, needed
 *   by @opentelemetry/instrumentation-openai, whose newer GenAI semconv
 *   (gen_ai.input.messages/output_messages) is only used for Responses calls.
 * - The model `no-such-model` gets a 404 `model_not_found` error (not retried
 *   by the clients), so each library shows how it records a failed call.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MISSING_MODEL } from './script.ts';

const CREATED = 1_750_000_000; // fixed `created` timestamp: fixtures stay comparable

/** The canned result of each tool the fake model may ask for. */
const TOOL_ARGS: Record<string, Record<string, unknown>> = {
  get_weather: { city: 'Paris' },
  lookup_order: { order_id: 'A-1001' },
};

interface Counters {
  chat: number;
  call: number;
  embedding: number;
  response: number;
}

/** Rough, deterministic token count: one token per 4 characters, at least 1. */
function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The model the fake says answered: a dated snapshot of the requested one, as OpenAI does. */
function responseModel(requested: unknown): string {
  const m = typeof requested === 'string' && requested ? requested : 'gpt-4o-mini';
  return /\d{4}-\d{2}-\d{2}$/.test(m) ? m : `${m}-2024-07-18`;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p === 'string' ? p : typeof p?.text === 'string' ? p.text : '')).join('');
  }
  return content == null ? '' : JSON.stringify(content);
}

function toolName(tool: any): string | undefined {
  // Chat Completions: { type: 'function', function: { name } }; Responses: { type: 'function', name }
  return tool?.function?.name ?? tool?.name;
}

/** The fake model's decision, shared by Chat Completions and Responses. */
function decide(lastRole: string | undefined, lastText: string, tools: unknown[] | undefined) {
  const firstTool = Array.isArray(tools) && tools.length > 0 ? toolName(tools[0]) : undefined;
  if (firstTool && lastRole === 'user') {
    return { kind: 'tool' as const, name: firstTool, arguments: JSON.stringify(TOOL_ARGS[firstTool] ?? {}) };
  }
  if (lastRole === 'tool') {
    return { kind: 'text' as const, text: `According to the tool: ${lastText.slice(0, 120)}` };
  }
  return { kind: 'text' as const, text: `Fake answer to: ${lastText.slice(0, 120)}` };
}

function readJson(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fake', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function notFoundModel(res: http.ServerResponse, model: string): void {
  sendJson(res, 404, {
    error: {
      message: `The model \`${model}\` does not exist or you do not have access to it.`,
      type: 'invalid_request_error',
      param: null,
      code: 'model_not_found',
    },
  });
}

function sse(res: http.ServerResponse, events: Array<{ event?: string; data: unknown }>, done: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'req_fake' });
  for (const e of events) {
    if (e.event) res.write(`event: ${e.event}\n`);
    res.write(`data: ${JSON.stringify(e.data)}\n\n`);
  }
  if (done) res.write('data: [DONE]\n\n');
  res.end();
}

function chatCompletions(body: any, c: Counters, res: http.ServerResponse): void {
  if (body.model === MISSING_MODEL) return notFoundModel(res, body.model);
  const messages: any[] = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  const decision = decide(last?.role, textOf(last?.content), body.tools);
  const id = `chatcmpl-${++c.chat}`;
  const model = responseModel(body.model);
  const promptTokens = tokens(JSON.stringify(messages) + (body.tools ? JSON.stringify(body.tools) : ''));
  const callId = decision.kind === 'tool' ? `call_${++c.call}` : undefined;
  const completionText = decision.kind === 'tool' ? decision.name + decision.arguments : decision.text;
  const completionTokens = tokens(completionText);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const finishReason = decision.kind === 'tool' ? 'tool_calls' : 'stop';

  if (!body.stream) {
    const message =
      decision.kind === 'tool'
        ? { role: 'assistant', content: null, tool_calls: [{ id: callId, type: 'function', function: { name: decision.name, arguments: decision.arguments } }], refusal: null }
        : { role: 'assistant', content: decision.text, refusal: null };
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: CREATED,
      model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
      usage,
    });
  }

  const base = { id, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_fake' };
  const chunk = (delta: unknown, finish: string | null = null) => ({ data: { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] } });
  const events: Array<{ data: unknown }> = [];
  if (decision.kind === 'tool') {
    events.push(chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: decision.name, arguments: '' } }] }));
    // Arguments arrive in two pieces, as they do from the real API.
    const half = Math.floor(decision.arguments.length / 2);
    events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: decision.arguments.slice(0, half) } }] }));
    events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: decision.arguments.slice(half) } }] }));
  } else {
    events.push(chunk({ role: 'assistant', content: '' }));
    for (const piece of decision.text.match(/\S+\s*/g) ?? []) events.push(chunk({ content: piece }));
  }
  events.push(chunk({}, finishReason));
  if (body.stream_options?.include_usage) events.push({ data: { ...base, choices: [], usage } });
  sse(res, events, true);
}

/** Deterministic unit-ish vector for a string. */
function vector(text: string, dims: number): number[] {
  const v: number[] = [];
  for (let i = 0; i < dims; i++) {
    const code = text.charCodeAt(i % Math.max(1, text.length)) || 1;
    v.push(Math.round((((code * (i + 3)) % 200) / 100 - 1) * 1000) / 1000);
  }
  return v;
}

function embeddings(body: any, c: Counters, res: http.ServerResponse): void {
  if (body.model === MISSING_MODEL) return notFoundModel(res, body.model);
  c.embedding++;
  const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input];
  const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
  const data = inputs.map((input, index) => {
    const v = vector(typeof input === 'string' ? input : JSON.stringify(input), dims);
    const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index, embedding };
  });
  const promptTokens = inputs.reduce<number>((n, i) => n + tokens(String(i)), 0);
  sendJson(res, 200, { object: 'list', data, model: body.model ?? 'text-embedding-3-small', usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
}

function responses(body: any, c: Counters, res: http.ServerResponse): void {
  if (body.model === MISSING_MODEL) return notFoundModel(res, body.model);
  const items: any[] = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? body.input : [];
  const last = items[items.length - 1];
  const lastRole = last?.type === 'function_call_output' ? 'tool' : last?.role;
  const lastText = last?.type === 'function_call_output' ? textOf(last.output) : textOf(last?.content);
  const decision = decide(lastRole, lastText, body.tools);
  const n = ++c.response;
  const id = `resp_${n}`;
  const model = responseModel(body.model);
  const inputTokens = tokens(JSON.stringify(body.input ?? '') + (body.instructions ?? '') + (body.tools ? JSON.stringify(body.tools) : ''));
  const output =
    decision.kind === 'tool'
      ? [{ type: 'function_call', id: `fc_${n}`, call_id: `call_${++c.call}`, name: decision.name, arguments: decision.arguments, status: 'completed' }]
      : [{ type: 'message', id: `msg_${n}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: decision.text, annotations: [] }] }];
  const outputTokens = tokens(decision.kind === 'tool' ? decision.name + decision.arguments : decision.text);
  const response = {
    id,
    object: 'response',
    created_at: CREATED,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    temperature: body.temperature ?? 1,
    top_p: body.top_p ?? 1,
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    },
    metadata: body.metadata ?? {},
    // The Responses API's own thread: echoed back when the request names one.
    ...(body.conversation ? { conversation: { id: typeof body.conversation === 'string' ? body.conversation : body.conversation.id } } : {}),
  };
  if (!body.stream) return sendJson(res, 200, response);

  // The Responses streaming protocol: typed events, no [DONE] sentinel.
  let seq = 0;
  const ev = (type: string, rest: Record<string, unknown>) => ({ event: type, data: { type, sequence_number: seq++, ...rest } });
  const inProgress = { ...response, status: 'in_progress', output: [], usage: null };
  const events = [ev('response.created', { response: inProgress }), ev('response.in_progress', { response: inProgress })];
  const item: any = output[0];
  if (item.type === 'function_call') {
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...item, arguments: '', status: 'in_progress' } }));
    events.push(ev('response.function_call_arguments.delta', { item_id: item.id, output_index: 0, delta: item.arguments }));
    events.push(ev('response.function_call_arguments.done', { item_id: item.id, output_index: 0, arguments: item.arguments }));
  } else {
    const text = item.content[0].text as string;
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }));
    events.push(ev('response.content_part.added', { item_id: item.id, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }));
    for (const piece of text.match(/\S+\s*/g) ?? []) events.push(ev('response.output_text.delta', { item_id: item.id, output_index: 0, content_index: 0, delta: piece }));
    events.push(ev('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text }));
    events.push(ev('response.content_part.done', { item_id: item.id, output_index: 0, content_index: 0, part: item.content[0] }));
  }
  events.push(ev('response.output_item.done', { output_index: 0, item }));
  events.push(ev('response.completed', { response }));
  sse(res, events, false);
}

export interface FakeOpenAI {
  port: number;
  /** The base URL a client of `scenario` should use (ends in `/v1`). */
  baseURL(scenario: string): string;
  /** Requests seen, per scenario, as `METHOD path status`. */
  log: Map<string, string[]>;
  close(): Promise<void>;
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const counters = new Map<string, Counters>();
  const log = new Map<string, string[]>();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    // /<scenario>/v1/<endpoint>
    const m = /^\/([^/]+)\/v1\/(.+)$/.exec(url.pathname);
    const scenario = m?.[1] ?? '-';
    const endpoint = m?.[2] ?? '';
    const seen = log.get(scenario) ?? [];
    log.set(scenario, seen);
    let c = counters.get(scenario);
    if (!c) counters.set(scenario, (c = { chat: 0, call: 0, embedding: 0, response: 0 }));
    res.on('finish', () => seen.push(`${req.method} ${url.pathname} ${res.statusCode}`));
    try {
      if (req.method !== 'POST') return sendJson(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
      const body = await readJson(req);
      if (endpoint === 'chat/completions') return chatCompletions(body, c, res);
      if (endpoint === 'embeddings') return embeddings(body, c, res);
      if (endpoint === 'responses') return responses(body, c, res);
      sendJson(res, 404, { error: { message: `unknown endpoint ${endpoint}`, type: 'invalid_request_error' } });
    } catch (e) {
      sendJson(res, 400, { error: { message: String(e), type: 'invalid_request_error' } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    baseURL: (scenario) => `http://127.0.0.1:${port}/${scenario}/v1`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
