/**
 * LangSmith's SDK in OpenTelemetry mode: runs recorded by `traceable` and
 * `wrapOpenAI` are translated to OTel spans and exported over OTLP instead of
 * being posted to the LangSmith API.
 *
 * OTel mode is selected by the environment (capture.ts sets
 * LANGSMITH_TRACING=true and LANGSMITH_OTEL_ENABLED=true; the newer
 * LANGSMITH_TRACING_MODE=otel is equivalent), and `initializeOTEL()` builds
 * the pipeline: a BasicTracerProvider with LangSmith's span processor and
 * its OTLP/proto exporter, pointed here at the capture server.
 *
 * LangSmith groups runs into threads by a `thread_id` (or `session_id`,
 * `conversation_id`) metadata key; it has no user field, so the user is a
 * `user_id` metadata key, the common practice.
 */
import { Client } from 'langsmith';
import { initializeOTEL } from 'langsmith/experimental/otel/setup';
import { traceable } from 'langsmith/traceable';
import { wrapOpenAI } from 'langsmith/wrappers';
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

const { DEFAULT_LANGSMITH_TRACER_PROVIDER: provider } = initializeOTEL({ exporterConfig: { url: `${env.otlpBaseURL}/v1/traces` } });

const lsClient = new Client();
const metadata = { thread_id: SESSION_ID, user_id: USER_ID };
const client = wrapOpenAI(new OpenAI({ apiKey: 'sk-test', baseURL: env.modelBaseURL, maxRetries: 0 }), { client: lsClient, metadata });

const getWeatherTool = traceable(async (args: { city: string }) => getWeather(args), { name: WEATHER_TOOL.name, run_type: 'tool', client: lsClient, metadata });

const weatherAgent = traceable(
  async (question: string) => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: question },
    ];
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { ...WEATHER_TOOL } }];
    const first = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools, temperature: 0 });
    const call = first.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function tool call');
    const result = await getWeatherTool(JSON.parse(call.function.arguments));
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
    const second = await client.chat.completions.create({ model: CHAT_MODEL, messages, tools, temperature: 0 });
    return second.choices[0]!.message.content;
  },
  { name: 'weather_agent', run_type: 'chain', client: lsClient, metadata },
);

// (a) plain chat: system + user, then streamed
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

// (b) agent with one tool
console.log('agent:', await weatherAgent(AGENT_QUESTION));

// (d) embeddings: wrapOpenAI does not trace them, so they go through traceable as an embedding run
const embed = traceable((input: string[]) => client.embeddings.create({ model: EMBEDDING_MODEL, input }), { name: 'embed', run_type: 'embedding', client: lsClient, metadata });
const emb = await embed(EMBEDDING_INPUTS);
console.log('embeddings:', emb.data.length);

// (e) a failed call
await expectFailure('missing model', () => client.chat.completions.create({ model: MISSING_MODEL, messages: [{ role: 'user', content: CHAT_QUESTION }] }));

// Runs become spans when the client processes its queue; then flush the OTel side.
await lsClient.awaitPendingTraceBatches();
await provider.forceFlush();
await provider.shutdown();
