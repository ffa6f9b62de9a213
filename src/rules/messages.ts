/**
 * The user's messages, as the GenAI conventions carry them: the `user` parts
 * of `gen_ai.input.messages` on inference spans (a JSON string or a
 * structured value; semconv-genai gen-ai-input-messages.json), and the bodies
 * of the older `gen_ai.user.message` log events (semconv v1.28–v1.36).
 */
import { scalarOf, toJs } from '../normalize/anyvalue.ts';
import { parseContent } from '../normalize/content.ts';
import type { AnyValue, KeyValue } from '../otlp/types.ts';

export const USER_MESSAGE_EVENT = 'gen_ai.user.message';

export function attribute(kvs: readonly KeyValue[], key: string): AnyValue | null | undefined {
  for (const kv of kvs) if (kv.key === key) return kv.value;
  return undefined;
}

/** The text of a message's parts (type `text`), or of a plain `content` string. */
function textOf(message: unknown): string {
  if (typeof message !== 'object' || message === null) return '';
  const m = message as { parts?: unknown; content?: unknown };
  if (Array.isArray(m.parts)) {
    return m.parts
      .filter((p): p is { type: string; content: unknown } => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text')
      .map((p) => (typeof p.content === 'string' ? p.content : ''))
      .join('\n');
  }
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content)) return m.content.map((c) => (typeof c === 'string' ? c : typeof c?.text === 'string' ? c.text : '')).join('\n');
  return '';
}

/** The user messages of a span's gen_ai.input.messages, oldest first. */
export function userMessages(attributes: readonly KeyValue[]): string[] {
  const v = attribute(attributes, 'gen_ai.input.messages');
  if (!v) return [];
  const s = scalarOf(v);
  const messages = typeof s === 'string' ? parseContent(s) : toJs(v);
  if (!Array.isArray(messages)) return [];
  return messages.filter((m) => (m as { role?: unknown })?.role === 'user').map(textOf).filter((t) => t !== '');
}

/** The text of a gen_ai.user.message event body: a string, or `content` as string or parts. */
export function userMessageFromBody(body: AnyValue | null | undefined): string {
  const js = toJs(body);
  if (typeof js === 'string') return js;
  return textOf(js);
}

/** Normalised for comparing turns: case, width, punctuation and spacing do not count. */
export function normaliseMessage(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}]+/gu, ' ').replace(/\s+/g, ' ').trim();
}
