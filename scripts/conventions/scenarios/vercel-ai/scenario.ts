/**
 * The Vercel AI SDK (`ai` 7) with its OpenTelemetry integrations from
 * `@ai-sdk/otel`. Since ai 7, telemetry is an integration registered with
 * `registerTelemetry()`, and which integration decides the span format:
 *
 *   AI_SDK_TELEMETRY=OpenTelemetry        -> `OpenTelemetry`: gen_ai.* (GenAI semconv) spans
 *   AI_SDK_TELEMETRY=LegacyOpenTelemetry  -> `LegacyOpenTelemetry`: the older ai.* spans
 *
 * Per-call settings use `telemetry` (ai 7's name; `experimental_telemetry`
 * is a deprecated alias with the same effect). ai 7 dropped
 * `telemetry.metadata`: thread and user travel in `runtimeContext`, and reach
 * the spans only for the keys listed in `telemetry.includeRuntimeContext`
 * (plus, for `OpenTelemetry`, its `runtimeContext: true` option).
 *
 * The provider is `@ai-sdk/openai` in Chat Completions mode (`openai.chat()`;
 * plain `openai()` would use the Responses API).
 */
import { createOpenAI } from '@ai-sdk/openai';
import { LegacyOpenTelemetry, OpenTelemetry } from '@ai-sdk/otel';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { embedMany, generateText, registerTelemetry, streamText, tool, ToolLoopAgent } from 'ai';
import { z } from 'zod';
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
const mode = process.env.AI_SDK_TELEMETRY;
if (mode !== 'OpenTelemetry' && mode !== 'LegacyOpenTelemetry') throw new Error('AI_SDK_TELEMETRY must be OpenTelemetry or LegacyOpenTelemetry');

const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': `conventions-${env.name}` }),
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${env.otlpBaseURL}/v1/traces` }) })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

// runtimeContext: true is what lets OpenTelemetry put the (filtered) runtime context on spans.
registerTelemetry(mode === 'OpenTelemetry' ? new OpenTelemetry({ runtimeContext: true }) : new LegacyOpenTelemetry());

const openai = createOpenAI({ apiKey: 'sk-test', baseURL: env.modelBaseURL });

/** Thread and user, the ai 7 way: runtime context, let through to telemetry by name. */
const runtimeContext = { sessionId: SESSION_ID, userId: USER_ID, internalToken: 'not-for-telemetry' };
const telemetry = (functionId: string) => ({ isEnabled: true, functionId, includeRuntimeContext: { sessionId: true, userId: true } }) as const;

// (a) plain chat: instructions (system) + user
const chat = await generateText({
  model: openai.chat(CHAT_MODEL),
  instructions: SYSTEM_PROMPT,
  prompt: CHAT_QUESTION,
  temperature: 0.2,
  maxOutputTokens: 64,
  runtimeContext,
  telemetry: telemetry('chat'),
});
console.log('chat:', chat.text);

// (a') the same, streamed
const stream = streamText({ model: openai.chat(CHAT_MODEL), instructions: SYSTEM_PROMPT, prompt: CHAT_QUESTION, runtimeContext, telemetry: telemetry('chat-stream') });
let streamed = '';
for await (const piece of stream.textStream) streamed += piece;
console.log('stream:', streamed);

// (b) agent with one tool: the SDK's agent class runs the tool loop
const agent = new ToolLoopAgent({
  model: openai.chat(CHAT_MODEL),
  instructions: SYSTEM_PROMPT,
  tools: {
    [WEATHER_TOOL.name]: tool({
      description: WEATHER_TOOL.description,
      inputSchema: z.object({ city: z.string().describe('City name') }),
      execute: async ({ city }) => getWeather({ city }),
    }),
  },
  telemetry: telemetry('weather-agent'),
});
const agentResult = await agent.generate({ prompt: AGENT_QUESTION, runtimeContext });
console.log('agent:', agentResult.text);

// (d) embeddings
const emb = await embedMany({ model: openai.embedding(EMBEDDING_MODEL), values: EMBEDDING_INPUTS, runtimeContext, telemetry: telemetry('embed') });
console.log('embeddings:', emb.embeddings.length);

// (e) a failed call
await expectFailure('missing model', () =>
  generateText({ model: openai.chat(MISSING_MODEL), prompt: CHAT_QUESTION, maxRetries: 0, runtimeContext, telemetry: telemetry('chat-error') }),
);

await provider.forceFlush();
await provider.shutdown();
