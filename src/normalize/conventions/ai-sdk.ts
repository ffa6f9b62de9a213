/**
 * The Vercel AI SDK's own telemetry (`ai.*`: ai ≤ 6 built in, ai 7's
 * LegacyOpenTelemetry): fifth in the order of precedence. Its `gen_ai.*`
 * mode (ai 7's OpenTelemetry integration) is the current convention above.
 * Source: ai-sdk.dev docs, AI SDK Core / Telemetry (span names and
 * attributes), and the captured exports of ai 6.0.325 and 7.0.173.
 *
 * Thread and user are whatever keys the app passed: ai 6 writes
 * `telemetry.metadata` as ai.telemetry.metadata.<key>, ai 7 its runtime
 * context as ai.settings.context.<key>; the usual key names are read.
 */
import { isObject } from '../../common/util.ts';
import { finishReason, jsonish, toMessages, toSystemParts, type Message, type Part } from '../message-shape.ts';
import { COL, CONTENT, type Convention, type Target } from './lift.ts';
import { anyMessages, provider, tokens, toolValue } from './read.ts';

/** ai.operationId → gen_ai.operation.name. The calls' wrappers are agent runs, as the SDK's own gen_ai mode names them. */
export function aiSdkOperation(id: string): string | undefined {
  if (id.endsWith('.doGenerate') || id.endsWith('.doStream')) return 'chat';
  if (id.endsWith('.doEmbed') || id === 'ai.embed' || id === 'ai.embedMany') return 'embeddings';
  if (id === 'ai.toolCall') return 'execute_tool';
  if (id === 'ai.generateText' || id === 'ai.streamText' || id === 'ai.generateObject' || id === 'ai.streamObject') return 'invoke_agent';
  return undefined;
}

/** The keys apps use for a thread and a user, under both of the SDK's prefixes. */
const THREAD_KEYS = ['sessionId', 'threadId', 'conversationId', 'session_id', 'thread_id', 'conversation_id'];
const USER_KEYS = ['userId', 'user_id'];
const PREFIXES = ['ai.settings.context.', 'ai.telemetry.metadata.'];
const contextKeys: Record<string, Target> = {};
for (const prefix of PREFIXES) {
  for (const k of THREAD_KEYS) contextKeys[prefix + k] = { column: 'conversationId' };
  for (const k of USER_KEYS) contextKeys[prefix + k] = { column: 'userId' };
}

/** ai.response.toolCalls: [{toolCallId, toolName, input (ai 7: an object; ai 6: a JSON string) | args}] → tool_call parts. */
function toolCallParts(v: unknown): Part[] {
  const calls = jsonish(v);
  if (!Array.isArray(calls)) return [];
  return calls.filter(isObject).map((c) => ({ type: 'tool_call', id: c.toolCallId ?? null, name: c.toolName ?? null, arguments: jsonish(c.input ?? c.args) }));
}

export const AI_SDK: Convention = {
  name: 'Vercel AI SDK (ai.*)',
  source: 'ai-sdk.dev, AI SDK Core: Telemetry',
  attributes: {
    'ai.operationId': { stash: 'operation', doc: 'operation: ai.generateText / ai.streamText / ai.generateObject / ai.streamObject → invoke_agent, *.doGenerate / *.doStream → chat, ai.embed / ai.embedMany / *.doEmbed → embeddings, ai.toolCall → execute_tool' },
    'ai.model.provider': { column: 'provider', read: provider },
    'ai.model.id': { column: 'requestModel' },
    'ai.response.model': { column: 'responseModel' },
    'ai.response.id': { column: 'responseId' },
    'ai.telemetry.functionId': { column: 'agentName' },
    'ai.toolCall.name': { column: 'toolName' },
    'ai.toolCall.id': { column: 'toolCallId' },
    'ai.usage.inputTokens': { column: 'inputTokens', read: tokens },
    'ai.usage.promptTokens': { column: 'inputTokens', read: tokens },
    'ai.usage.outputTokens': { column: 'outputTokens', read: tokens },
    'ai.usage.completionTokens': { column: 'outputTokens', read: tokens },
    'ai.usage.tokens': { stash: 'tokens', doc: 'input tokens of the provider call of an embedding (*.doEmbed; the wrapper repeats it)' },
    ...contextKeys,
    'ai.prompt.messages': { content: 'input', read: anyMessages('input') },
    'ai.prompt': { stash: 'prompt', doc: 'input messages (`prompt` or `messages`) and system instructions (`system`), JSON' },
    'ai.toolCall.args': { content: 'toolArguments', read: toolValue },
    'ai.toolCall.result': { content: 'toolResult', read: toolValue },
    'ai.response.text': { stash: 'text', doc: 'output message text' },
    'ai.response.toolCalls': { stash: 'toolCalls', doc: 'output message tool calls (JSON)' },
    'ai.response.finishReason': { stash: 'finishReason', doc: 'finish_reason of the output message' },
  },
  finish(x) {
    const s = x.stash;
    const op = typeof s.operation === 'string' ? s.operation : '';
    x.offer(COL.operation, aiSdkOperation(op));
    if (op.endsWith('.doEmbed') && s.tokens !== undefined) x.offer(COL.inputTokens, typeof s.tokens === 'number' || typeof s.tokens === 'bigint' ? s.tokens : null);
    const prompt = jsonish(s.prompt);
    if (isObject(prompt)) {
      x.offerContent(CONTENT.system, () => {
        const parts = toSystemParts(prompt.system);
        return parts === null ? null : { value: parts };
      });
      x.offerContent(CONTENT.input, () => {
        const m = toMessages(Array.isArray(prompt.messages) ? prompt.messages : prompt.prompt, 'input');
        return m === null ? null : { value: m };
      });
    }
    if (s.text !== undefined || s.toolCalls !== undefined) {
      x.offerContent(CONTENT.output, () => {
        const parts: Part[] = [];
        if (typeof s.text === 'string' && s.text !== '') parts.push({ type: 'text', content: s.text });
        parts.push(...toolCallParts(s.toolCalls));
        if (parts.length === 0) return null;
        const m: Message = { role: 'assistant', parts };
        const reason = finishReason(s.finishReason);
        if (reason) m.finish_reason = reason;
        return { value: [m] };
      });
    }
  },
};
