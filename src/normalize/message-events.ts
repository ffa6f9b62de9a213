/**
 * GenAI message events → content in the one shape, for the span they belong
 * to. The same events arrive as log records (the conventions' channel) or
 * as span events (older emitters):
 *
 * - semconv v1.28–v1.36: one event per message, the message in the body
 *   (span events: in the attributes): gen_ai.system.message,
 *   gen_ai.user.message, gen_ai.assistant.message ({content, tool_calls}),
 *   gen_ai.tool.message ({id, content}) and gen_ai.choice
 *   ({index, finish_reason, message}); the role may be overridden by a
 *   `role` field;
 * - semconv v1.37+: gen_ai.client.inference.operation.details with the
 *   attributes gen_ai.input.messages, gen_ai.output.messages and
 *   gen_ai.system_instructions (structured, or JSON strings);
 * - semconv v1.26: span events gen_ai.content.prompt / gen_ai.content.completion
 *   with the attributes gen_ai.prompt / gen_ai.completion (JSON).
 */
import { isObject } from '../common/util.ts';
import type { KeyValue } from '../otlp/types.ts';
import { toJs } from './anyvalue.ts';
import { parseContent } from './content.ts';
import { finishReason, isOneShape, toMessage, toMessages, toSystemParts, type Message, type Part } from './message-shape.ts';

export type FragmentKind = 'input' | 'output' | 'system';

/** Part of a span's content carried by one event: system instructions are parts, the others messages. */
export interface Fragment {
  kind: FragmentKind;
  value: Message[] | Part[];
}

/** Per-message events (v1.28–v1.36) and the role each one's message has unless it says otherwise. */
const MESSAGE_EVENTS: Readonly<Record<string, string>> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
};
export const CHOICE_EVENT = 'gen_ai.choice';
export const DETAILS_EVENT = 'gen_ai.client.inference.operation.details';
const PROMPT_EVENT = 'gen_ai.content.prompt';
const COMPLETION_EVENT = 'gen_ai.content.completion';

/** Whether an event of this name may carry message content. */
export function isMessageEvent(name: string): boolean {
  return name in MESSAGE_EVENTS || name === CHOICE_EVENT || name === DETAILS_EVENT || name === PROMPT_EVENT || name === COMPLETION_EVENT;
}

function attributeValue(attributes: readonly KeyValue[], key: string): unknown {
  for (const kv of attributes) {
    if (kv.key !== key) continue;
    const js = toJs(kv.value);
    return typeof js === 'string' ? (parseContent(js) ?? js) : js;
  }
  return undefined;
}

/** The message of a per-message event body ({content, tool_calls, id, role}) with its default role. */
function bodyMessage(body: Record<string, unknown>, role: string): Message | null {
  const r = typeof body.role === 'string' ? body.role : role;
  if (r === 'tool') return { role: 'tool', parts: [{ type: 'tool_call_response', id: body.id ?? body.tool_call_id ?? null, response: body.content ?? null }] };
  return toMessage({ ...body, role: r }, 'input');
}

/**
 * The content an event carries: `body` is the log record's body (JS), or
 * for span events undefined (the attributes are the body then).
 */
export function eventFragments(name: string, attributes: readonly KeyValue[], body: unknown): Fragment[] {
  try {
    return fragments(name, attributes, body);
  } catch {
    // A body nobody foresaw (nested beyond the stack, say) costs its content, not the record or the span.
    return [];
  }
}

function fragments(name: string, attributes: readonly KeyValue[], body: unknown): Fragment[] {
  const defaultRole = MESSAGE_EVENTS[name];
  if (defaultRole !== undefined || name === CHOICE_EVENT) {
    const b = body === undefined || body === null ? attributesObject(attributes) : typeof body === 'string' ? { content: body } : body;
    if (!isObject(b)) return [];
    if (defaultRole !== undefined) {
      const m = bodyMessage(b, defaultRole);
      return m === null ? [] : [{ kind: 'input', value: [m] }];
    }
    const message = isObject(b.message) ? b.message : {};
    const m = toMessage({ role: 'assistant', ...message }, 'output');
    if (m === null) return [];
    const reason = finishReason(b.finish_reason);
    if (reason) m.finish_reason = reason;
    return [{ kind: 'output', value: [m] }];
  }
  const out: Fragment[] = [];
  if (name === DETAILS_EVENT) {
    const system = toSystemParts(attributeValue(attributes, 'gen_ai.system_instructions'));
    if (system) out.push({ kind: 'system', value: system });
    for (const [key, kind] of [['gen_ai.input.messages', 'input'], ['gen_ai.output.messages', 'output']] as const) {
      const v = attributeValue(attributes, key);
      const messages = isOneShape(v) ? v : toMessages(v, kind);
      if (messages) out.push({ kind, value: messages });
    }
  } else if (name === PROMPT_EVENT || name === COMPLETION_EVENT) {
    const kind = name === PROMPT_EVENT ? 'input' : 'output';
    const messages = toMessages(attributeValue(attributes, kind === 'input' ? 'gen_ai.prompt' : 'gen_ai.completion'), kind);
    if (messages) out.push({ kind, value: messages });
  }
  return out;
}

function attributesObject(attributes: readonly KeyValue[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const kv of attributes) o[kv.key] = toJs(kv.value);
  return o;
}
