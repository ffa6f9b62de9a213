/**
 * OpenLLMetry (`@traceloop/node-server-sdk`) with its OpenAI instrumentation.
 *
 * The SDK builds its own OpenTelemetry pipeline (a NodeSDK with an OTLP/proto
 * exporter to `${baseUrl}/v1/traces`), so the capture server is simply its
 * `baseUrl`. Workflow, agent, task and tool spans come from `withWorkflow`,
 * `withAgent`, `withTask` and `withTool` (the decorator forms need TypeScript
 * decorators, which Node's type stripping does not run). Thread and user are
 * association properties (`session_id`, `user_id`, the names of the SDK's
 * AssociationProperty enum) plus a `conversationId`.
 *
 * The instrumentation supports openai >=4 <7, hence openai 6 in this
 * workspace; with ESM, the module is handed over in `instrumentModules`.
 */
import * as traceloop from '@traceloop/node-server-sdk';
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

traceloop.initialize({
  appName: 'conventions-traceloop',
  baseUrl: env.otlpBaseURL,
  apiKey: 'tl-test',
  // Prompt registry sync would poll baseUrl for prompts: nothing to sync here.
  traceloopSyncEnabled: false,
  traceContent: true,
  silenceInitializationMessage: true,
  instrumentModules: { openAI: OpenAI },
});

const client = new OpenAI({ apiKey: 'sk-test', baseURL: env.modelBaseURL, maxRetries: 0 });
const associationProperties = { session_id: SESSION_ID, user_id: USER_ID };

// (a) plain chat inside a workflow, streamed once as well
await traceloop.withWorkflow({ name: 'chat_workflow', associationProperties, conversationId: SESSION_ID }, async () => {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: CHAT_QUESTION },
  ];
  const chat = await client.chat.completions.create({ model: CHAT_MODEL, messages, temperature: 0.2, max_tokens: 64 });
  console.log('chat:', chat.choices[0]!.message.content);
  const stream = await client.chat.completions.create({ model: CHAT_MODEL, messages, stream: true, stream_options: { include_usage: true } });
  let streamed = '';
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
  console.log('stream:', streamed);
});

// (b) agent with one tool, inside a workflow
const answer = await traceloop.withWorkflow({ name: 'weather_workflow', associationProperties, conversationId: SESSION_ID }, () =>
  traceloop.withAgent({ name: 'weather_agent', associationProperties }, async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: AGENT_QUESTION },
    ];
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { ...WEATHER_TOOL } }];
    const first = await traceloop.withTask({ name: 'plan' }, () => client.chat.completions.create({ model: CHAT_MODEL, messages, tools, temperature: 0 }));
    const call = first.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function tool call');
    const args = JSON.parse(call.function.arguments);
    // withTool records its arguments (inputParameters) and return value as the span's input/output.
    const result = await traceloop.withTool({ name: WEATHER_TOOL.name, inputParameters: [args] }, async () => getWeather(args));
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
    const second = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools, temperature: 0 });
    return second.choices[0]!.message.content;
  }),
);
console.log('agent:', answer);

// (d) embeddings, (e) a failed call
await traceloop.withWorkflow({ name: 'misc_workflow', associationProperties }, async () => {
  const emb = await client.embeddings.create({ model: EMBEDDING_MODEL, input: EMBEDDING_INPUTS });
  console.log('embeddings:', emb.data.length);
  // The instrumentation leaves a rejected call's span open (never exported), so a failing
  // tool shows how the SDK records errors.
  await expectFailure('failing tool', () =>
    traceloop.withTool({ name: 'lookup_order', inputParameters: [{ order_id: 'A-1001' }] }, async () => {
      throw new Error('order service unavailable');
    }),
  );
  await expectFailure('missing model', () => client.chat.completions.create({ model: MISSING_MODEL, messages: [{ role: 'user', content: CHAT_QUESTION }] }));
});

await traceloop.forceFlush();
// The SDK exports no shutdown; its exporter has flushed, so leave.
process.exit(0);
