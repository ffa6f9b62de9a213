/**
 * OpenInference (Arize) instrumentation of the `openai` client.
 *
 * The instrumentation creates LLM and EMBEDDING spans; the agent and tool
 * spans around them come from openinference-core's `traceAgent`/`traceTool`,
 * which is how an OpenInference user writes an agent loop by hand. Session
 * and user go through openinference-core's context helpers (`setSession`,
 * `setUser`), which the OpenInference tracer copies onto every span.
 *
 * No library emits OpenInference annotations on the client side, so the
 * first LLM span gets them by hand (see AnnotateFirstLLMSpan), built with
 * openinference-core's own `getAnnotationAttributes`/`getEvaluationAttributes`.
 */
import {
  getAnnotationAttributes,
  getEvaluationAttributes,
  getToolAttributes,
  setSession,
  setUser,
  traceAgent,
  traceTool,
} from '@arizeai/openinference-core';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { SEMRESATTRS_PROJECT_NAME } from '@arizeai/openinference-semantic-conventions';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace';
import OpenAI from 'openai';
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

/** Puts OpenInference annotation/evaluation attributes on the first LLM span, as a client-side judge would. */
class AnnotateFirstLLMSpan implements SpanProcessor {
  private done = false;
  onStart(span: Span): void {
    // Matched by name: the OpenInference tracer adds its attributes (span kind included)
    // after the SDK has called onStart, so they are not visible here yet.
    if (this.done || span.name !== 'OpenAI Chat Completions') return;
    this.done = true;
    span.setAttributes({
      ...getAnnotationAttributes({
        annotations: [
          { name: 'helpfulness', label: 'helpful', score: 1, explanation: 'Answers the question.', annotatorKind: 'HUMAN' },
          { name: 'correctness', label: 'correct', score: 0.9, explanation: 'Paris is right.', annotatorKind: 'LLM', identifier: 'judge-run-1', metadata: { judge_model: 'gpt-4o-mini' } },
          { name: 'length', label: 'short', score: 8, annotatorKind: 'CODE' },
        ],
      }),
      ...getEvaluationAttributes({
        evaluations: [{ name: 'relevance', label: 'relevant', score: 0.8, explanation: 'On topic.', annotatorKind: 'LLM' }],
      }),
    });
  }
  onEnd(): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'conventions-openinference-openai', [SEMRESATTRS_PROJECT_NAME]: 'verdict-conventions' }),
  spanProcessors: [new AnnotateFirstLLMSpan(), new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${env.otlpBaseURL}/v1/traces` }) })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

// ESM: the require hook never sees `import OpenAI`, so patch the class directly (the documented ESM route).
const instrumentation = new OpenAIInstrumentation({ tracerProvider: provider });
instrumentation.manuallyInstrument(OpenAI);

const client = new OpenAI({ apiKey: 'sk-test', baseURL: env.modelBaseURL, maxRetries: 0 });

const runTool = traceTool((args: { city: string }) => getWeather(args), {
  name: WEATHER_TOOL.name,
  attributes: getToolAttributes({ name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, parameters: WEATHER_TOOL.parameters }),
});

const weatherAgent = traceAgent(
  async (question: string): Promise<string> => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: question },
    ];
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { ...WEATHER_TOOL } }];
    const first = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools, temperature: 0 });
    const call = first.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function tool call');
    const result = await runTool(JSON.parse(call.function.arguments));
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
    const second = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools, temperature: 0 });
    return second.choices[0]!.message.content ?? '';
  },
  { name: 'weather-agent' },
);

await context.with(setUser(setSession(context.active(), { sessionId: SESSION_ID }), { userId: USER_ID }), async () => {
  // (a) plain chat: system + user
  const chat = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: CHAT_QUESTION },
    ],
    temperature: 0.2,
    max_tokens: 64,
  });
  console.log('chat:', chat.choices[0]!.message.content);

  // (a') the same, streamed with usage
  const stream = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: CHAT_QUESTION },
    ],
    stream: true,
    stream_options: { include_usage: true },
  });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
  console.log('stream:', streamed);

  // (b) agent with one tool call
  console.log('agent:', await weatherAgent(AGENT_QUESTION));

  // (d) embeddings
  const emb = await client.embeddings.create({ model: EMBEDDING_MODEL, input: EMBEDDING_INPUTS });
  console.log('embeddings:', emb.data.length);

  // (e) a failed call; the instrumentation leaves a rejected call's span open (never exported),
  // so a failing tool shows how OpenInference records errors too
  const failingTool = traceTool(
    async (_args: { order_id: string }) => {
      throw new Error('order service unavailable');
    },
    { name: 'lookup_order' },
  );
  await expectFailure('failing tool', () => failingTool({ order_id: 'A-1001' }));
  await expectFailure('missing model', () => client.chat.completions.create({ model: MISSING_MODEL, messages: [{ role: 'user', content: CHAT_QUESTION }] }));
});

await provider.forceFlush();
await provider.shutdown();
