/**
 * What the rules read of messages. The user's messages themselves come
 * normalised from the normaliser, whatever convention carried them
 * (SpanFacts.userText, LogFacts.userText; normalize/message-shape.ts).
 */
import type { AnyValue, KeyValue } from '../otlp/types.ts';

export function attribute(kvs: readonly KeyValue[], key: string): AnyValue | null | undefined {
  for (const kv of kvs) if (kv.key === key) return kv.value;
  return undefined;
}

/** Normalised for comparing turns: case, width, punctuation and spacing do not count. */
export function normaliseMessage(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}]+/gu, ' ').replace(/\s+/g, ' ').trim();
}
