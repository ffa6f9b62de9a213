/**
 * Real exports of the GenAI instrumentation libraries (test/fixtures/
 * conventions/) replayed through the receiver: every lifted column of every
 * span, message content in the one shape, tool calls, runs and threads,
 * verdicts by response ID, by thread and as OpenInference annotations, the
 * contrib instrumentation's log records in any arrival order, and the rules
 * reading user messages whatever the emitter. On both databases.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogsRequest } from '../../src/otlp/proto.ts';
import { fixture, fixtureFiles, LIBRARIES, SERVICE, type Library, type Rewrite } from '../helpers/conventions.ts';
import { logsJson, postJson, postProto, str, traceJson } from '../helpers/otlp.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';

/** Each library's replay gets its own response IDs and thread (see helpers/conventions.ts). */
const TAG: Record<Library, string> = {
  'openinference-openai': 'oi', 'openinference-langchain': 'lc', 'vercel-ai-genai': 'genai', 'vercel-ai-legacy': 'legacy',
  'vercel-ai-v6': 'v6', traceloop: 'tl', 'otel-openai': 'contrib', langsmith: 'ls',
};

const RULES = `rules:
  - name: asks_capital
    kind: regex
    pattern: 'capital of France'
    label: geography
  - name: same_question_reasked
    kind: repeat
`;

type Row = [name: string, status: string, operation: string | null, provider: string | null, requestModel: string | null, responseModel: string | null,
  responseId: string | null, conversation: string | null, user: string | null, agent: string | null, tool: string | null, toolCallId: string | null,
  inputTokens: number | null, outputTokens: number | null];

const M = 'gpt-4o-mini';
const M_RESP = 'gpt-4o-mini-2024-07-18';
const EMB = 'text-embedding-3-small';
const U = 'user-7';

/** Every span of each capture, in start order: what its GenAI columns must hold (what each library sends: test/fixtures/conventions/README.md). */
const ROWS: Record<Library, Row[]> = {
  'openinference-openai': [
    ['OpenAI Chat Completions', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-oi-1', 'thread-oi', U, null, null, null, 34, 12],
    // Streamed: the instrumentation records no tokens and no response.
    ['OpenAI Chat Completions', 'unset', 'chat', 'openai', M, null, null, 'thread-oi', U, null, null, null, null, null],
    ['OpenAI Chat Completions', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-oi-3', 'thread-oi', U, null, null, null, 97, 7],
    ['weather-agent', 'ok', 'invoke_agent', null, null, null, null, 'thread-oi', U, 'weather-agent', null, null, null, null],
    ['OpenAI Chat Completions', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-oi-4', 'thread-oi', U, null, null, null, 170, 20],
    ['get_weather', 'ok', 'execute_tool', null, null, null, null, 'thread-oi', U, null, 'get_weather', null, null, null],
    ['OpenAI Embeddings', 'ok', 'embeddings', 'openai', EMB, null, null, 'thread-oi', U, null, null, null, null, null],
    ['lookup_order', 'error', 'execute_tool', null, null, null, null, 'thread-oi', U, null, 'lookup_order', null, null, null],
  ],
  'openinference-langchain': [
    ['ChatOpenAI', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-lc-1', 'thread-lc', U, null, null, null, 34, 12],
    ['weather_agent', 'ok', 'invoke_agent', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['__start__', 'ok', 'invoke_workflow', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['model_request', 'ok', 'invoke_workflow', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['ChatOpenAI', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-lc-2', 'thread-lc', U, 'weather_agent', null, null, 118, 7],
    ['RunnableLambda', 'ok', 'invoke_workflow', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['tools', 'ok', 'invoke_workflow', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['get_weather', 'ok', 'execute_tool', null, null, null, null, 'thread-lc', U, 'weather_agent', 'get_weather', 'call_1', null, null],
    ['model_request', 'ok', 'invoke_workflow', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['ChatOpenAI', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-lc-3', 'thread-lc', U, 'weather_agent', null, null, 197, 20],
    ['RunnableLambda', 'ok', 'invoke_workflow', null, null, null, null, 'thread-lc', U, 'weather_agent', null, null, null, null],
    ['ChatOpenAI', 'error', 'chat', 'openai', 'no-such-model', null, null, 'thread-lc', U, null, null, null, null, null],
  ],
  'vercel-ai-genai': [
    ['invoke_agent gpt-4o-mini', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-genai', U, 'chat', null, null, 34, 12],
    // The SDK writes no thread or user on its chat and execute_tool spans.
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-genai-1', null, null, null, null, null, 34, 12],
    ['step 1', 'unset', 'agent_step', null, null, null, null, 'thread-genai', U, null, null, null, null, null],
    ['invoke_agent gpt-4o-mini', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-genai', U, 'chat-stream', null, null, 34, 12],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-genai-2', null, null, null, null, null, 34, 12],
    ['step 1', 'unset', 'agent_step', null, null, null, null, 'thread-genai', U, null, null, null, null, null],
    ['invoke_agent gpt-4o-mini', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-genai', U, 'weather-agent', null, null, 289, 27],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-genai-3', null, null, null, null, null, 110, 7],
    ['step 1', 'unset', 'agent_step', null, null, null, null, 'thread-genai', U, null, null, null, null, null],
    ['execute_tool get_weather', 'unset', 'execute_tool', null, null, null, null, null, null, null, 'get_weather', 'call_1', null, null],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-genai-4', null, null, null, null, null, 179, 20],
    ['step 2', 'unset', 'agent_step', null, null, null, null, 'thread-genai', U, null, null, null, null, null],
    ['embeddings text-embedding-3-small', 'unset', 'embeddings', 'openai', EMB, null, null, 'thread-genai', U, null, null, null, null, null],
    ['embeddings text-embedding-3-small', 'unset', 'embeddings', 'openai', EMB, null, null, 'thread-genai', U, null, null, null, 12, null],
    ['chat no-such-model', 'error', 'chat', 'openai', 'no-such-model', null, null, null, null, null, null, null, null, null],
    ['invoke_agent no-such-model', 'error', 'invoke_agent', 'openai', 'no-such-model', null, null, 'thread-genai', U, 'chat-error', null, null, null, null],
    ['step 1', 'error', 'agent_step', null, null, null, null, 'thread-genai', U, null, null, null, null, null],
  ],
  'vercel-ai-legacy': [
    ['ai.generateText', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-legacy', U, 'chat', null, null, 34, 12],
    ['ai.generateText.doGenerate', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-legacy-1', 'thread-legacy', U, 'chat', null, null, 34, 12],
    ['ai.streamText', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-legacy', U, 'chat-stream', null, null, 34, 12],
    ['ai.streamText.doStream', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-legacy-2', 'thread-legacy', U, 'chat-stream', null, null, 34, 12],
    ['ai.generateText', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-legacy', U, 'weather-agent', null, null, 289, 27],
    ['ai.generateText.doGenerate', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-legacy-3', 'thread-legacy', U, 'weather-agent', null, null, 110, 7],
    ['ai.toolCall', 'unset', 'execute_tool', null, null, null, null, 'thread-legacy', U, 'weather-agent', 'get_weather', 'call_1', null, null],
    ['ai.generateText.doGenerate', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-legacy-4', 'thread-legacy', U, 'weather-agent', null, null, 179, 20],
    // The wrapper repeats its provider call's usage: counted once.
    ['ai.embedMany', 'unset', 'embeddings', 'openai', EMB, null, null, 'thread-legacy', U, 'embed', null, null, null, null],
    ['ai.embedMany.doEmbed', 'unset', 'embeddings', 'openai', EMB, null, null, 'thread-legacy', U, 'embed', null, null, 12, null],
    ['ai.generateText', 'error', 'invoke_agent', 'openai', 'no-such-model', null, null, 'thread-legacy', U, 'chat-error', null, null, null, null],
    ['ai.generateText.doGenerate', 'error', 'chat', 'openai', 'no-such-model', null, null, 'thread-legacy', U, 'chat-error', null, null, null, null],
  ],
  'vercel-ai-v6': [
    ['ai.generateText', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-v6', U, 'chat', null, null, 34, 12],
    ['ai.generateText.doGenerate', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-v6-1', 'thread-v6', U, 'chat', null, null, 34, 12],
    ['ai.streamText', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-v6', U, 'chat-stream', null, null, 34, 12],
    ['ai.streamText.doStream', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-v6-2', 'thread-v6', U, 'chat-stream', null, null, 34, 12],
    ['ai.generateText', 'unset', 'invoke_agent', 'openai', M, null, null, 'thread-v6', U, 'weather-agent', null, null, 289, 27],
    ['ai.generateText.doGenerate', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-v6-3', 'thread-v6', U, 'weather-agent', null, null, 110, 7],
    ['ai.toolCall', 'unset', 'execute_tool', null, null, null, null, 'thread-v6', U, 'weather-agent', 'get_weather', 'call_1', null, null],
    ['ai.generateText.doGenerate', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-v6-4', 'thread-v6', U, 'weather-agent', null, null, 179, 20],
    ['ai.embedMany', 'unset', 'embeddings', 'openai', EMB, null, null, 'thread-v6', U, 'embed', null, null, null, null],
    ['ai.embedMany.doEmbed', 'unset', 'embeddings', 'openai', EMB, null, null, 'thread-v6', U, 'embed', null, null, 12, null],
    ['ai.generateText', 'error', 'invoke_agent', 'openai', 'no-such-model', null, null, 'thread-v6', U, 'chat-error', null, null, null, null],
    ['ai.generateText.doGenerate', 'error', 'chat', 'openai', 'no-such-model', null, null, 'thread-v6', U, 'chat-error', null, null, null, null],
  ],
  traceloop: [
    ['chat_workflow.workflow', 'unset', 'invoke_workflow', null, null, null, null, 'thread-tl', U, null, null, null, null, null],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-tl-1', 'thread-tl', U, null, null, null, 34, 12],
    // Streamed: Traceloop counts tokens itself (tiktoken), not as the server reported them.
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-tl-2', 'thread-tl', U, null, null, null, 16, 11],
    ['weather_agent.agent', 'unset', 'invoke_agent', null, null, null, null, 'thread-tl', U, 'weather_agent', null, null, null, null],
    ['weather_workflow.workflow', 'unset', 'invoke_workflow', null, null, null, null, 'thread-tl', U, null, null, null, null, null],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-tl-3', 'thread-tl', U, 'weather_agent', null, null, 97, 7],
    // A task has no GenAI operation; its output holds a raw response, whose ID stays the chat span's.
    ['plan.task', 'unset', null, null, null, null, null, 'thread-tl', U, 'weather_agent', null, null, null, null],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-tl-4', 'thread-tl', U, 'weather_agent', null, null, 170, 20],
    ['get_weather.tool', 'unset', 'execute_tool', null, null, null, null, 'thread-tl', U, 'weather_agent', 'get_weather', null, null, null],
    ['misc_workflow.workflow', 'unset', 'invoke_workflow', null, null, null, null, 'thread-tl', U, null, null, null, null, null],
  ],
  'otel-openai': [
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-contrib-1', null, null, null, null, null, 34, 12],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-contrib-2', null, null, null, null, null, 34, 12],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-contrib-3', null, null, null, null, null, 97, 7],
    ['weather-agent', 'unset', null, null, null, null, null, null, null, null, null, null, null, null],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'chatcmpl-contrib-4', null, null, null, null, null, 170, 20],
    ['weather-agent-responses', 'unset', null, null, null, null, null, null, null, null, null, null, null, null],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'resp_contrib_1', 'thread-contrib', null, null, null, null, 83, 7],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'resp_contrib_2', 'thread-contrib', null, null, null, null, 156, 20],
    ['chat gpt-4o-mini', 'unset', 'chat', 'openai', M, M_RESP, 'resp_contrib_3', 'thread-contrib', null, null, null, null, 19, 12],
    ['embeddings text-embedding-3-small', 'unset', 'embeddings', 'openai', EMB, EMB, null, null, null, null, null, null, 12, null],
    ['chat no-such-model', 'error', 'chat', 'openai', 'no-such-model', null, null, null, null, null, null, null, null, null],
  ],
  langsmith: [
    ['ChatOpenAI', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-ls-1', 'thread-ls', U, null, null, null, 34, 12],
    ['weather_agent', 'ok', 'invoke_workflow', null, null, null, null, 'thread-ls', U, null, null, null, null, null],
    ['ChatOpenAI', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-ls-3', 'thread-ls', U, null, null, null, 97, 7],
    ['get_weather', 'ok', 'execute_tool', null, null, null, null, 'thread-ls', U, null, 'get_weather', null, null, null],
    ['ChatOpenAI', 'ok', 'chat', 'openai', M, M_RESP, 'chatcmpl-ls-4', 'thread-ls', U, null, null, null, 170, 20],
    ['embed', 'ok', 'embeddings', null, null, EMB, null, 'thread-ls', U, null, null, null, null, null],
    // LangSmith exports the failed call with status OK and an exception event: stored as failed.
    ['ChatOpenAI', 'error', 'chat', 'openai', 'no-such-model', null, null, 'thread-ls', U, null, null, null, null, null],
  ],
};

const text = (content: string) => ({ type: 'text', content });
const SYSTEM_TEXT = 'You are a terse assistant for Verdict tests.';
const SYSTEM = { role: 'system', parts: [text(SYSTEM_TEXT)] };
const ASK = { role: 'user', parts: [text('What is the capital of France?')] };
const ANSWER = { role: 'assistant', parts: [text('Fake answer to: What is the capital of France?')], finish_reason: 'stop' };
const WEATHER_ASK = { role: 'user', parts: [text('What is the weather in Paris right now?')] };
const WEATHER = { city: 'Paris', temperature_c: 18, conditions: 'cloudy' };
const WEATHER_TEXT = JSON.stringify(WEATHER);
const TOOL_CALL = { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] };
const toolResult = (response: unknown) => ({ role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response }] });
const FINAL = { role: 'assistant', parts: [text(`According to the tool: ${WEATHER_TEXT}`)], finish_reason: 'stop' };

/** Per library: the plain chat call, and the agent's call that answers from the tool's result (the library's own response IDs). */
const CONTENT: Record<Library, { chat: string; chatInput: unknown[]; agentCall: string; agentInput: unknown[]; system: unknown; source: 'span' | 'logs' }> = {
  'openinference-openai': { chat: 'chatcmpl-oi-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-oi-4', agentInput: [SYSTEM, WEATHER_ASK, TOOL_CALL, toolResult(WEATHER_TEXT)], system: null, source: 'span' },
  // LangChain's flattened messages lose tool call IDs and the system text: its input.value has them.
  'openinference-langchain': { chat: 'chatcmpl-lc-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-lc-3', agentInput: [SYSTEM, WEATHER_ASK, { ...TOOL_CALL, name: 'weather_agent' }, toolResult(WEATHER_TEXT)], system: null, source: 'span' },
  // The AI SDK keeps the system prompt apart, and tool results as JSON.
  'vercel-ai-genai': { chat: 'chatcmpl-genai-1', chatInput: [ASK], agentCall: 'chatcmpl-genai-4', agentInput: [WEATHER_ASK, TOOL_CALL, toolResult(WEATHER)], system: [text(SYSTEM_TEXT)], source: 'span' },
  'vercel-ai-legacy': { chat: 'chatcmpl-legacy-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-legacy-4', agentInput: [SYSTEM, WEATHER_ASK, TOOL_CALL, toolResult(WEATHER)], system: null, source: 'span' },
  'vercel-ai-v6': { chat: 'chatcmpl-v6-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-v6-4', agentInput: [SYSTEM, WEATHER_ASK, TOOL_CALL, toolResult(WEATHER)], system: null, source: 'span' },
  traceloop: { chat: 'chatcmpl-tl-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-tl-4', agentInput: [SYSTEM, WEATHER_ASK, TOOL_CALL, toolResult(WEATHER_TEXT)], system: null, source: 'span' },
  // Content only in log records.
  'otel-openai': { chat: 'chatcmpl-contrib-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-contrib-4', agentInput: [SYSTEM, WEATHER_ASK, TOOL_CALL, toolResult(WEATHER_TEXT)], system: null, source: 'logs' },
  langsmith: { chat: 'chatcmpl-ls-1', chatInput: [SYSTEM, ASK], agentCall: 'chatcmpl-ls-4', agentInput: [SYSTEM, WEATHER_ASK, TOOL_CALL, toolResult(WEATHER_TEXT)], system: null, source: 'span' },
};

async function replay(t: TestServer, library: Library, rewrite: Rewrite, order: 'logs first' | 'spans first' = 'logs first'): Promise<void> {
  const { traces, logs } = fixtureFiles(library);
  const files = order === 'logs first' ? [...logs, ...traces] : [...traces, ...logs];
  for (const file of files) {
    const res = await postProto(`${t.httpUrl}/v1/${file.startsWith('logs') ? 'logs' : 'traces'}`, fixture(library, file, rewrite));
    expect([file, res.status, res.body.length]).toEqual([file, 200, 0]);
  }
}

describe.each(BACKENDS)('GenAI conventions on %s', (backend) => {
  let t: TestServer;
  /** The traces of each library's first replay (later tests replay some again under other IDs). */
  const base = {} as Record<Library, string[]>;
  const inBase = (library: Library) => `(${base[library].map((id) => `'${id}'`).join(', ')})`;
  const spanBy = async (responseId: string) => (await t.query<Record<string, unknown>>(`SELECT * FROM verdict.spans WHERE gen_ai_response_id = '${responseId}'`))[0] as Record<string, unknown>;
  const tracesOf = async (library: Library) => (await t.query<{ trace_id: string }>(`SELECT DISTINCT trace_id FROM verdict.spans WHERE service_name = '${SERVICE[library]}'`)).map((r) => r.trace_id).sort();

  beforeAll(async () => {
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'verdict-conventions-')), 'rules.yaml');
    writeFileSync(rulesFile, RULES);
    t = await startTestServer(backend, { rulesFile });
    for (const library of LIBRARIES) {
      await replay(t, library, { tag: TAG[library] });
      base[library] = await tracesOf(library);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(LIBRARIES)('%s: every span lands in the GenAI columns', async (library) => {
    const rows = await t.query<Record<string, unknown>>(`
      SELECT name, status_code, gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model, gen_ai_response_model, gen_ai_response_id,
             gen_ai_conversation_id, user_id, gen_ai_agent_name, gen_ai_tool_name, gen_ai_tool_call_id, gen_ai_input_tokens::int, gen_ai_output_tokens::int
      FROM verdict.spans WHERE trace_id IN ${inBase(library)} ORDER BY start_time_unix_nano, name, gen_ai_input_tokens NULLS FIRST`);
    expect(rows.map((r) => Object.values(r))).toEqual(ROWS[library]);
  });

  it.each(LIBRARIES)('%s: model calls carry their messages in the one shape', async (library) => {
    const c = CONTENT[library];
    const chat = await spanBy(c.chat);
    expect(chat).toMatchObject({
      gen_ai_input_messages: c.chatInput, gen_ai_output_messages: [ANSWER], gen_ai_system_instructions: c.system,
      input_text: 'What is the capital of France?', output_text: 'Fake answer to: What is the capital of France?', gen_ai_content_source: c.source,
    });
    const agent = await spanBy(c.agentCall);
    expect(agent).toMatchObject({
      gen_ai_input_messages: c.agentInput, gen_ai_output_messages: [FINAL],
      input_text: 'What is the weather in Paris right now?', output_text: `According to the tool: ${WEATHER_TEXT}`, gen_ai_content_source: c.source,
    });
  });

  it('tool calls keep their arguments and result, whichever convention carried them', async () => {
    const rows = await t.query<Record<string, unknown>>(`
      SELECT service_name, gen_ai_tool_call_arguments AS args, gen_ai_tool_call_result AS result, input_text, output_text
      FROM verdict.spans WHERE gen_ai_tool_name = 'get_weather' ORDER BY service_name`);
    const bySource = Object.fromEntries(rows.map((r) => [r.service_name, r]));
    const json = { args: { city: 'Paris' }, result: WEATHER, input_text: null, output_text: null };
    for (const library of ['openinference-openai', 'vercel-ai-genai', 'vercel-ai-legacy', 'vercel-ai-v6', 'traceloop', 'langsmith'] as const) {
      expect([library, bySource[SERVICE[library]]]).toEqual([library, { service_name: SERVICE[library], ...json }]);
    }
    // LangChain passes a one-argument tool its argument's value, and returns a ToolMessage around the result.
    expect(bySource[SERVICE['openinference-langchain']]).toMatchObject({ args: 'Paris', result: WEATHER, input_text: null, output_text: null });
  });

  it('runs show their input, answer and user; threads their user', async () => {
    const rows = await t.query<Record<string, unknown>>(`
      SELECT t.service_name, t.input_text, t.output_text, t.user_id, t.conversation_id FROM verdict.traces t
      WHERE t.trace_id = ANY (ARRAY(SELECT trace_id FROM verdict.spans WHERE gen_ai_response_id IN (${LIBRARIES.map((l) => `'${CONTENT[l].agentCall}'`).join(', ')})))
      ORDER BY t.service_name`);
    const expected = (library: Library, user: string | null, conversation: string | null) =>
      ({ service_name: SERVICE[library], input_text: 'What is the weather in Paris right now?', output_text: `According to the tool: ${WEATHER_TEXT}`, user_id: user, conversation_id: conversation });
    expect(rows).toEqual([
      expected('langsmith', U, 'thread-ls'), expected('openinference-langchain', U, 'thread-lc'), expected('openinference-openai', U, 'thread-oi'),
      expected('otel-openai', null, null), expected('traceloop', U, 'thread-tl'), expected('vercel-ai-genai', U, 'thread-genai'),
      expected('vercel-ai-legacy', U, 'thread-legacy'), expected('vercel-ai-v6', U, 'thread-v6'),
    ].sort((a, b) => (a.service_name < b.service_name ? -1 : 1)));
    expect(await t.query(`SELECT conversation_id, user_id, trace_count::int FROM verdict.conversations WHERE conversation_id IN ('thread-oi', 'thread-v6', 'thread-contrib') ORDER BY 1`)).toEqual([
      { conversation_id: 'thread-contrib', user_id: null, trace_count: 1 },
      { conversation_id: 'thread-oi', user_id: U, trace_count: base['openinference-openai'].length },
      { conversation_id: 'thread-v6', user_id: U, trace_count: base['vercel-ai-v6'].length },
    ]);
  });

  it('a run\'s input and answer are its root\'s, else its first model call\'s input and its last one\'s answer', async () => {
    const msgs = (role: string, content: string) => str(role === 'user' ? 'gen_ai.input.messages' : 'gen_ai.output.messages', JSON.stringify([{ role, parts: [text(content)] }]));
    const span = (traceId: string, spanId: string, start: number, attrs: object[], parentSpanId?: string) => ({
      traceId, spanId, parentSpanId, name: 's', kind: 1, startTimeUnixNano: `${1767225600 + start}000000000`, endTimeUnixNano: `${1767225600 + start + 1}000000000`, attributes: attrs,
    });
    const run = (traceId: string, rootAttrs: object[]) => [
      span(traceId, 'a'.repeat(16), 0, rootAttrs),
      span(traceId, 'b'.repeat(16), 1, [str('gen_ai.operation.name', 'chat'), msgs('user', 'step one?'), msgs('assistant', 'first')], 'a'.repeat(16)),
      span(traceId, 'c'.repeat(16), 2, [str('gen_ai.operation.name', 'execute_tool'), str('gen_ai.tool.call.result', 'tool output')], 'a'.repeat(16)),
      span(traceId, 'd'.repeat(16), 3, [str('gen_ai.operation.name', 'chat'), msgs('user', 'step two?'), msgs('assistant', 'second')], 'a'.repeat(16)),
    ];
    const [withRoot, bareRoot] = ['5'.repeat(32), '6'.repeat(32)];
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([
      ...run(withRoot, [str('gen_ai.operation.name', 'invoke_agent'), msgs('user', 'Plan my trip'), msgs('assistant', 'Done.')]),
      ...run(bareRoot, []),
    ]))).status).toBe(200);
    expect(await t.query(`SELECT trace_id, input_text, output_text FROM verdict.traces WHERE trace_id IN ('${withRoot}', '${bareRoot}') ORDER BY trace_id`)).toEqual([
      { trace_id: withRoot, input_text: 'Plan my trip', output_text: 'Done.' },
      { trace_id: bareRoot, input_text: 'step one?', output_text: 'second' },
    ]);
  });

  it('caps input_text and output_text at 1000 characters, while rules read the whole message', async () => {
    const traceId = '8'.repeat(32);
    const long = `${'blah '.repeat(1000)}capital of France`;
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([{
      traceId, spanId: '3'.repeat(16), name: 'chat m', kind: 3, startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000',
      attributes: [str('gen_ai.operation.name', 'chat'), str('llm.input_messages.0.message.role', 'user'), str('llm.input_messages.0.message.content', long), str('output.value', long)],
    }]))).status).toBe(200);
    expect(await t.query(`SELECT length(input_text) AS i, length(output_text) AS o, left(input_text, 10) AS start FROM verdict.spans WHERE trace_id = '${traceId}'`)).toEqual([{ i: 1000, o: 1000, start: 'blah blah ' }]);
    expect(await t.query(`SELECT name FROM verdict.evaluations WHERE trace_id = '${traceId}'`)).toEqual([{ name: 'asks_capital' }]);
  });

  it('LangChain\'s first agent call keeps its system prompt, which its flattened messages drop', async () => {
    expect((await spanBy('chatcmpl-lc-2')).gen_ai_input_messages).toEqual([SYSTEM, WEATHER_ASK]);
  });

  it('a verdict by response ID joins OpenInference and AI SDK runs', async () => {
    for (const responseId of ['chatcmpl-oi-1', 'chatcmpl-lc-3', 'chatcmpl-legacy-3', 'chatcmpl-v6-1', 'chatcmpl-genai-4']) {
      const res = await postJson(`${t.httpUrl}/v1/feedback`, { response_id: responseId, name: 'thumbs', score_value: 0, score_label: 'thumbs_down' });
      expect(res.status).toBe(200);
      const span = await spanBy(responseId);
      expect(await t.query(`SELECT trace_id, span_id, span_name, gen_ai_response_model, target FROM verdict.trace_evaluations WHERE id = '${res.json().ids[0]}'`))
        .toEqual([{ trace_id: span.trace_id, span_id: span.span_id, span_name: span.name, gen_ai_response_model: M_RESP, target: 'completion' }]);
    }
  });

  it('a thread verdict joins the runs whose thread key is session.id', async () => {
    const thread = () => t.query<Record<string, unknown>>(`SELECT trace_ids, verdicts::int, user_id FROM verdict.conversations WHERE conversation_id = 'thread-lc'`);
    const [before] = await thread();
    const res = await postJson(`${t.httpUrl}/v1/feedback`, { conversation_id: 'thread-lc', name: 'session_rating', score_value: 2, score_label: 'thumbs_down' });
    expect(res.status).toBe(200);
    const [after] = await thread();
    expect(after).toEqual({ trace_ids: expect.any(Array), verdicts: (before!.verdicts as number) + 1, user_id: U });
    expect([...(after!.trace_ids as string[])].sort()).toEqual(base['openinference-langchain']);
    expect(await t.query(`SELECT conversation_id, target FROM verdict.trace_evaluations WHERE id = '${res.json().ids[0]}'`)).toEqual([{ conversation_id: 'thread-lc', target: 'conversation' }]);
  });

  it('OpenInference annotations and evaluations become verdicts with their source', async () => {
    const annotated = await spanBy('chatcmpl-oi-1');
    expect(await t.query(`
      SELECT name, score_value, score_label, explanation, source, channel, span_id, span_name, conversation_id, gen_ai_response_model, attributes
      FROM verdict.trace_evaluations WHERE trace_id = '${annotated.trace_id}' AND channel = 'span_attribute' ORDER BY name`)).toEqual([
      { name: 'correctness', score_value: 0.9, score_label: 'correct', explanation: 'Paris is right.', source: 'llm_judge', channel: 'span_attribute', span_id: annotated.span_id, span_name: 'OpenAI Chat Completions', conversation_id: 'thread-oi', gen_ai_response_model: M_RESP,
        attributes: { 'annotation.name': 'correctness', 'annotation.score': 0.9, 'annotation.label': 'correct', 'annotation.explanation': 'Paris is right.', 'annotation.annotator_kind': 'LLM', 'annotation.identifier': 'judge-run-1', 'annotation.metadata': '{"judge_model":"gpt-4o-mini"}' } },
      { name: 'helpfulness', score_value: 1, score_label: 'helpful', explanation: 'Answers the question.', source: 'user', channel: 'span_attribute', span_id: annotated.span_id, span_name: 'OpenAI Chat Completions', conversation_id: 'thread-oi', gen_ai_response_model: M_RESP, attributes: expect.any(Object) },
      { name: 'length', score_value: 8, score_label: 'short', explanation: null, source: 'rule', channel: 'span_attribute', span_id: annotated.span_id, span_name: 'OpenAI Chat Completions', conversation_id: 'thread-oi', gen_ai_response_model: M_RESP, attributes: expect.any(Object) },
      { name: 'relevance', score_value: 0.8, score_label: 'relevant', explanation: 'On topic.', source: 'llm_judge', channel: 'span_attribute', span_id: annotated.span_id, span_name: 'OpenAI Chat Completions', conversation_id: 'thread-oi', gen_ai_response_model: M_RESP, attributes: expect.any(Object) },
    ]);
    // Re-sent: stored once.
    await replay(t, 'openinference-openai', { tag: TAG['openinference-openai'] });
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.evaluations WHERE channel = 'span_attribute'`)).toEqual([{ n: 4 }]);
  });

  it('the contrib instrumentation\'s log records fill span content in any arrival order', async () => {
    const content = (tag: string) => t.query<Record<string, unknown>>(`
      SELECT replace(gen_ai_response_id, '${tag}', '') AS id, gen_ai_system_instructions, gen_ai_input_messages, gen_ai_output_messages, input_text, output_text, gen_ai_content_source
      FROM verdict.spans WHERE gen_ai_response_id LIKE '%${tag}%' ORDER BY 1`);
    const logsFirst = await content('contrib');
    expect(logsFirst.filter((r) => r.gen_ai_input_messages !== null).map((r) => r.id)).toEqual(['chatcmpl--1', 'chatcmpl--2', 'chatcmpl--3', 'chatcmpl--4', 'resp__1', 'resp__2', 'resp__3']);

    await replay(t, 'otel-openai', { tag: 'after', traceSalt: 1 }, 'spans first');
    expect(await content('after')).toEqual(logsFirst);

    // The records of one run split around its spans: some before, the rest after.
    const [logs] = fixtureFiles('otel-openai').logs;
    const all = LogsRequest.decode(fixture('otel-openai', logs as string, { tag: 'split', traceSalt: 2 })) as unknown as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: unknown[] }> }> };
    const records = all.resourceLogs[0]!.scopeLogs[0]!.logRecords;
    const half = Math.floor(records.length / 2);
    const part = (from: number, to: number) => {
      all.resourceLogs[0]!.scopeLogs[0]!.logRecords = records.slice(from, to);
      return Buffer.from(LogsRequest.encode(all as never).finish());
    };
    const [first, second] = [part(0, half), part(half, records.length)];
    expect((await postProto(`${t.httpUrl}/v1/logs`, first)).status).toBe(200);
    expect((await postProto(`${t.httpUrl}/v1/traces`, fixture('otel-openai', fixtureFiles('otel-openai').traces[0] as string, { tag: 'split', traceSalt: 2 }))).status).toBe(200);
    expect((await postProto(`${t.httpUrl}/v1/logs`, second)).status).toBe(200);
    expect(await content('split')).toEqual(logsFirst);

    // A retried request changes nothing.
    const before = await t.query(`SELECT count(*)::int AS n FROM verdict.span_messages`);
    expect((await postProto(`${t.httpUrl}/v1/logs`, second)).status).toBe(200);
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.span_messages`)).toEqual(before);
    expect(await content('split')).toEqual(logsFirst);

    // The content goes with its log records (as `verdict prune` deletes them), and only theirs.
    const split = `SELECT trace_id FROM verdict.spans WHERE gen_ai_response_id LIKE '%split%'`;
    const count = async (which: string) => (await t.query<{ n: number }>(`SELECT count(*)::int AS n FROM verdict.span_messages WHERE trace_id ${which} (${split})`))[0]!.n;
    const others = await count('NOT IN');
    const kinds = () => t.query<{ kind: string; n: number }>(`SELECT kind, count(*)::int AS n FROM verdict.span_messages WHERE trace_id IN (${split}) GROUP BY kind ORDER BY kind`);
    const [input, output] = await kinds();
    expect([input, output]).toEqual([{ kind: 'input', n: expect.any(Number) }, { kind: 'output', n: expect.any(Number) }]);
    await t.query(`DELETE FROM verdict.log_rows WHERE trace_id IN (${split}) AND event_name = 'gen_ai.choice'`);
    // The choices are the Chat Completions calls' outputs; the Responses API's outputs are in other records.
    expect((await kinds()).map((k) => k.kind)).toEqual(['input', 'output']);
    expect((await kinds())[0]).toEqual(input);
    expect((await kinds())[1]!.n).toBeLessThan(output!.n);
    await t.query(`DELETE FROM verdict.log_rows WHERE trace_id IN (${split})`);
    expect([await count('IN'), await count('NOT IN')]).toEqual([0, others]);
  });

  it('a span\'s own messages win over its log records\'; system instructions it carries stay unless they repeat', async () => {
    const [traceId, own, bare] = ['7'.repeat(32), '1'.repeat(16), '2'.repeat(16)];
    const chat = (spanId: string, attrs: object[]) => ({ traceId, spanId, name: 'chat m', kind: 3, startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000', attributes: [str('gen_ai.operation.name', 'chat'), ...attrs] });
    const record = (spanId: string, eventName: string, body: object) => ({ traceId, spanId, timeUnixNano: '1767225600500000000', eventName, body: { kvlistValue: { values: Object.entries(body).map(([k, v]) => str(k, v as string)) } } });
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([
      chat(own, [str('gen_ai.input.messages', JSON.stringify([{ role: 'user', parts: [text('from the span')] }]))]),
      chat(bare, [str('gen_ai.system_instructions', 'Be brief.')]),
    ]))).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/logs`, logsJson([
      record(own, 'gen_ai.user.message', { content: 'from a log record' }),
      record(bare, 'gen_ai.user.message', { content: 'only in a log record' }),
    ]))).status).toBe(200);
    expect(await t.query(`SELECT span_id, gen_ai_input_messages, gen_ai_system_instructions, input_text, gen_ai_content_source FROM verdict.spans WHERE trace_id = '${traceId}' ORDER BY span_id`)).toEqual([
      { span_id: own, gen_ai_input_messages: [{ role: 'user', parts: [text('from the span')] }], gen_ai_system_instructions: null, input_text: 'from the span', gen_ai_content_source: 'span' },
      { span_id: bare, gen_ai_input_messages: [{ role: 'user', parts: [text('only in a log record')] }], gen_ai_system_instructions: [text('Be brief.')], input_text: 'only in a log record', gen_ai_content_source: 'logs' },
    ]);
  });

  it('rules read the user\'s messages whatever the emitter', async () => {
    const count = async (library: Library, rule: string) =>
      (await t.query<{ n: number }>(`SELECT count(DISTINCT trace_id)::int AS n FROM verdict.evaluations WHERE channel = 'rule' AND name = '${rule}' AND trace_id IN ${inBase(library)}`))[0]!.n;
    const counts = async (rule: string) => Object.fromEntries(await Promise.all(LIBRARIES.map(async (l) => [l, await count(l, rule)])));
    // Runs that asked for the capital of France: the chat, the streamed chat (where exported) and the failed call (where exported).
    expect(await counts('asks_capital')).toEqual({
      'openinference-openai': 2, 'openinference-langchain': 2, 'vercel-ai-genai': 3, 'vercel-ai-legacy': 3, 'vercel-ai-v6': 3,
      traceloop: 1, 'otel-openai': 4, langsmith: 2,
    });
    // The same question asked again on the same thread in a later run: the earlier runs are marked, for every thread key.
    expect(await counts('same_question_reasked')).toEqual({
      'openinference-openai': 1, 'openinference-langchain': 1, 'vercel-ai-genai': 2, 'vercel-ai-legacy': 2, 'vercel-ai-v6': 2,
      traceloop: 0, 'otel-openai': 0, langsmith: 1,
    });
  });
});
