/**
 * OpenInference (Arize) instrumentation of LangChain JS, with the current
 * agent API (`createAgent` from `langchain`, a LangGraph agent underneath)
 * and one tool, the model being `@langchain/openai`'s ChatOpenAI.
 *
 * The thread is given the LangChain way, as run metadata (`thread_id`, which
 * the instrumentation maps to session.id, next to LangGraph's
 * `configurable.thread_id`); the user the OpenInference way, with
 * openinference-core's `setUser` context helper, since LangChain has no
 * user concept of its own (a `user_id` metadata entry is sent as well, to
 * show where it ends up).
 *
 * LangChain has no callbacks for embedding models, so OpenAIEmbeddings is
 * called to show that no span results.
 */
import { setUser } from '@arizeai/openinference-core';
import { LangChainInstrumentation } from '@arizeai/openinference-instrumentation-langchain';
import { SEMRESATTRS_PROJECT_NAME } from '@arizeai/openinference-semantic-conventions';
import * as CallbackManagerModule from '@langchain/core/callbacks/manager';
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createAgent, tool } from 'langchain';
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
  resource: resourceFromAttributes({ 'service.name': 'conventions-openinference-langchain', [SEMRESATTRS_PROJECT_NAME]: 'verdict-conventions' }),
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${env.otlpBaseURL}/v1/traces` }) })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

// LangChain must be instrumented by hand: the callback manager module is what gets patched.
const instrumentation = new LangChainInstrumentation({ tracerProvider: provider });
instrumentation.manuallyInstrument(CallbackManagerModule);

const chatModel = (model: string) =>
  new ChatOpenAI({ model, apiKey: 'sk-test', temperature: 0, maxRetries: 0, configuration: { baseURL: env.modelBaseURL } });

const getWeatherTool = tool(async ({ city }: { city: string }) => JSON.stringify(getWeather({ city })), {
  name: WEATHER_TOOL.name,
  description: WEATHER_TOOL.description,
  schema: z.object({ city: z.string().describe('City name') }),
});

const agent = createAgent({ model: chatModel(CHAT_MODEL), tools: [getWeatherTool], systemPrompt: SYSTEM_PROMPT, name: 'weather_agent' });

const runConfig = {
  configurable: { thread_id: SESSION_ID },
  metadata: { thread_id: SESSION_ID, user_id: USER_ID },
  tags: ['conventions'],
};

await context.with(setUser(context.active(), { userId: USER_ID }), async () => {
  // (a) plain chat: system + user
  const answer = await chatModel(CHAT_MODEL).invoke([new SystemMessage(SYSTEM_PROMPT), new HumanMessage(CHAT_QUESTION)], runConfig);
  console.log('chat:', answer.content);

  // (b) agent with one tool call, (c) thread via metadata
  const result = await agent.invoke({ messages: [{ role: 'user', content: AGENT_QUESTION }] }, runConfig);
  console.log('agent:', result.messages.at(-1)?.content);

  // (d) embeddings: no LangChain callback exists for them
  const vectors = await new OpenAIEmbeddings({ model: EMBEDDING_MODEL, apiKey: 'sk-test', configuration: { baseURL: env.modelBaseURL } }).embedDocuments(EMBEDDING_INPUTS);
  console.log('embeddings:', vectors.length);

  // (e) a failed call
  await expectFailure('missing model', () => chatModel(MISSING_MODEL).invoke([new HumanMessage(CHAT_QUESTION)], runConfig));
});

await provider.forceFlush();
await provider.shutdown();
