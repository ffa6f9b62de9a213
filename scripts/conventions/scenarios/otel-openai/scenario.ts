/**
 * The official contrib instrumentation, `@opentelemetry/instrumentation-openai`:
 * spans, and message content as log records (events) through a
 * LoggerProvider with an OTLP log exporter.
 *
 * Version 0.22.0 has no OTEL_SEMCONV_STABILITY_OPT_IN switch (nothing in it
 * reads that variable): Chat Completions and Embeddings follow semconv 1.36
 * (gen_ai.system, per-message events), the Responses API follows 1.38
 * (gen_ai.input/output.messages in a `gen_ai.client.inference.operation.details`
 * event). So this scenario calls both APIs. capture.ts sets the opt-in
 * variable anyway (a run without it exported the same attribute and event
 * names, see the fixtures README).
 *
 * It supports openai >=4.19 <7, hence openai 6 here. It patches the module
 * through the CommonJS require hook, so `openai` is loaded with require()
 * after the instrumentation is registered (an ESM import would bypass it
 * unless Node runs with the instrumentation's --import loader hook).
 *
 * The instrumentation has no agent, tool, session or user concepts: the agent
 * loop is grouped under a plain span of the scenario's own, and the thread is
 * the Responses API's `conversation` parameter, the only one it records.
 */
import { createRequire } from 'node:module';
import { context, logs, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type OpenAIType from 'openai';
import {
  AGENT_QUESTION,
  CHAT_MODEL,
  CHAT_QUESTION,
  EMBEDDING_INPUTS,
  EMBEDDING_MODEL,
  expectFailure,
  getWeather,
  MISSING_MODEL,
  scenarioEnv,
  SESSION_ID,
  SYSTEM_PROMPT,
  USER_ID,
  WEATHER_TOOL,
} from '../../lib/script.ts';

const env = scenarioEnv();
const resource = resourceFromAttributes({ 'service.name': 'conventions-otel-openai' });

const tracerProvider = new TracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${env.otlpBaseURL}/v1/traces` }) })],
});
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${env.otlpBaseURL}/v1/logs` }) })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(tracerProvider);
logs.setGlobalLoggerProvider(loggerProvider);

// Content capture on (the same as OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).
registerInstrumentations({ instrumentations: [new OpenAIInstrumentation({ captureMessageContent: true })], tracerProvider, loggerProvider });

const require = createRequire(import.meta.url);
const { OpenAI } = require('openai') as typeof import('openai');
const client: OpenAIType = new OpenAI({ apiKey: 'sk-test', baseURL: env.modelBaseURL, maxRetries: 0 });
const tracer = trace.getTracer('conventions-scenario');

// (a) plain chat: system + user, then streamed
const messages: OpenAIType.Chat.ChatCompletionMessageParam[] = [
  { role: 'system', content: SYSTEM_PROMPT },
  { role: 'user', content: CHAT_QUESTION },
];
const chat = await client.chat.completions.create({ model: CHAT_MODEL, messages, temperature: 0.2, max_tokens: 64, user: USER_ID });
console.log('chat:', chat.choices[0]!.message.content);
const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages, stream: true, stream_options: { include_usage: true } });
let streamed = '';
for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
console.log('stream:', streamed);

// (b) agent loop with one tool over Chat Completions, under a span of our own
await tracer.startActiveSpan('weather-agent', async (span) => {
  const agentMessages: OpenAIType.Chat.ChatCompletionMessageParam[] = [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: AGENT_QUESTION },
  ];
  const tools: OpenAIType.Chat.ChatCompletionTool[] = [{ type: 'function', function: { ...WEATHER_TOOL } }];
  const first = await client.chat.completions.create({ model: CHAT_MODEL, messages: agentMessages, tools, temperature: 0 });
  const call = first.choices[0]!.message.tool_calls![0]!;
  if (call.type !== 'function') throw new Error('expected a function tool call');
  const result = getWeather(JSON.parse(call.function.arguments));
  agentMessages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
  const second = await client.chat.completions.create({ model: CHAT_MODEL, messages: agentMessages, tools, temperature: 0 });
  console.log('agent:', second.choices[0]!.message.content);
  span.end();
});

// (b') the same loop over the Responses API, in a conversation (the newer semconv path)
await tracer.startActiveSpan('weather-agent-responses', async (span) => {
  const tools: OpenAIType.Responses.Tool[] = [{ type: 'function', name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, parameters: { ...WEATHER_TOOL.parameters }, strict: true }];
  const first = await client.responses.create({ model: CHAT_MODEL, instructions: SYSTEM_PROMPT, input: AGENT_QUESTION, tools, conversation: SESSION_ID });
  const call = first.output.find((o) => o.type === 'function_call');
  if (!call || call.type !== 'function_call') throw new Error('expected a function call');
  const result = getWeather(JSON.parse(call.arguments));
  const second = await client.responses.create({
    model: CHAT_MODEL,
    instructions: SYSTEM_PROMPT,
    input: [
      { role: 'user', content: AGENT_QUESTION },
      call,
      { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify(result) },
    ],
    tools,
    conversation: SESSION_ID,
  });
  console.log('agent (responses):', second.output_text);
  // Streamed once, for the streaming path's attributes.
  const rs = await client.responses.create({ model: CHAT_MODEL, instructions: SYSTEM_PROMPT, input: CHAT_QUESTION, stream: true, conversation: SESSION_ID });
  let text = '';
  for await (const ev of rs) if (ev.type === 'response.output_text.delta') text += ev.delta;
  console.log('responses stream:', text);
  span.end();
});

// (d) embeddings
const emb = await client.embeddings.create({ model: EMBEDDING_MODEL, input: EMBEDDING_INPUTS });
console.log('embeddings:', emb.data.length);

// (e) a failed call
await expectFailure('missing model', () => client.chat.completions.create({ model: MISSING_MODEL, messages: [{ role: 'user', content: CHAT_QUESTION }] }));

await tracerProvider.forceFlush();
await loggerProvider.forceFlush();
await tracerProvider.shutdown();
await loggerProvider.shutdown();
