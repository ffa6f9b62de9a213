/**
 * The Vercel AI SDK 6 (`ai` 6.x, the newest release before ai 7 moved
 * telemetry into `@ai-sdk/otel`), with its built-in telemetry:
 * `experimental_telemetry: { isEnabled: true, functionId, metadata }`.
 *
 * ai 6 has one span format only, the `ai.*` one (with some gen_ai.* on the
 * provider-call spans), and the one most deployed apps send today. Unlike
 * ai 7 it still has `telemetry.metadata`, which becomes
 * `ai.telemetry.metadata.<key>` on every span: the usual place for a
 * session/thread id and a user id (sessionId/userId here).
 */
import { createOpenAI } from '@ai-sdk/openai';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { embedMany, generateText, streamText, tool, ToolLoopAgent } from 'ai';
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

const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': `conventions-${env.name}` }),
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${env.otlpBaseURL}/v1/traces` }) })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

const openai = createOpenAI({ apiKey: 'sk-test', baseURL: env.modelBaseURL });
const telemetry = (functionId: string) => ({ isEnabled: true, functionId, metadata: { sessionId: SESSION_ID, userId: USER_ID } });

// (a) plain chat: system + user, then streamed
const chat = await generateText({
  model: openai.chat(CHAT_MODEL),
  system: SYSTEM_PROMPT,
  prompt: CHAT_QUESTION,
  temperature: 0.2,
  maxOutputTokens: 64,
  experimental_telemetry: telemetry('chat'),
});
console.log('chat:', chat.text);
const stream = streamText({ model: openai.chat(CHAT_MODEL), system: SYSTEM_PROMPT, prompt: CHAT_QUESTION, experimental_telemetry: telemetry('chat-stream') });
let streamed = '';
for await (const piece of stream.textStream) streamed += piece;
console.log('stream:', streamed);

// (b) agent with one tool
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
  experimental_telemetry: telemetry('weather-agent'),
});
const agentResult = await agent.generate({ prompt: AGENT_QUESTION });
console.log('agent:', agentResult.text);

// (d) embeddings
const emb = await embedMany({ model: openai.embedding(EMBEDDING_MODEL), values: EMBEDDING_INPUTS, experimental_telemetry: telemetry('embed') });
console.log('embeddings:', emb.embeddings.length);

// (e) a failed call
await expectFailure('missing model', () => generateText({ model: openai.chat(MISSING_MODEL), prompt: CHAT_QUESTION, maxRetries: 0, experimental_telemetry: telemetry('chat-error') }));

await provider.forceFlush();
await provider.shutdown();
