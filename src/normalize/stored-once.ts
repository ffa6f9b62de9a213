/**
 * Lifted attributes stored once. A current-convention GenAI attribute whose
 * column will hold exactly its value (the same text, the same integer) is
 * not also written into the span's `attributes`: a bit of
 * `attributes_in_columns` says so, and the verdict.spans view puts the
 * attribute back from the column (verdict.lifted_attributes), so readers see
 * the attributes as sent. These keys are on nearly every GenAI span, and
 * stored twice they cost about a tenth of its row.
 *
 * Only values the column reproduces exactly qualify: a string the column
 * keeps as it is (not empty, at most 1024 UTF-8 bytes, not renamed by a
 * provider or operation mapping), an integer within ±2^53 (written as a JSON
 * number either way). The current GenAI convention comes first in the order
 * of precedence (conventions/registry.ts), so its attribute is what the
 * column holds. The bits and keys are also in sql/0005_genai_content.sql
 * (verdict.lifted_attributes); test/integration/spans.test.ts checks the two agree.
 */
import { anyValueCase, type AnyValue } from '../otlp/types.ts';
import { int64Number } from './anyvalue.ts';
import { liftedText } from './context.ts';
import { operation, provider } from './conventions/read.ts';

type Value = AnyValue | null | undefined;

const asText = (v: Value): string | null => (v && anyValueCase(v) === 'stringValue' ? liftedText(v.stringValue) : null);
const sameText = (v: Value): boolean => asText(v) !== null;
const sameAfter = (read: (v: Value) => string | null) => (v: Value): boolean => {
  const t = asText(v);
  return t !== null && read(v) === t;
};
const safeInteger = (v: Value): boolean => !!v && anyValueCase(v) === 'intValue' && int64Number(v.intValue!) !== null;

export interface StoredOnce {
  bit: number;
  /** The column will hold exactly this value. */
  holds(v: Value): boolean;
}

export const STORED_ONCE: ReadonlyMap<string, StoredOnce> = new Map([
  ['gen_ai.operation.name', { bit: 1, holds: sameAfter(operation) }],
  ['gen_ai.provider.name', { bit: 2, holds: sameAfter(provider) }],
  ['gen_ai.request.model', { bit: 4, holds: sameText }],
  ['gen_ai.response.model', { bit: 8, holds: sameText }],
  ['gen_ai.response.id', { bit: 16, holds: sameText }],
  ['gen_ai.conversation.id', { bit: 32, holds: sameText }],
  ['gen_ai.agent.name', { bit: 64, holds: sameText }],
  ['gen_ai.tool.name', { bit: 128, holds: sameText }],
  ['gen_ai.tool.call.id', { bit: 256, holds: sameText }],
  ['gen_ai.usage.input_tokens', { bit: 512, holds: safeInteger }],
  ['gen_ai.usage.output_tokens', { bit: 1024, holds: safeInteger }],
  ['user.id', { bit: 2048, holds: sameText }],
]);

/** Whether a key may be one of STORED_ONCE (all start with "g" or "u"): one comparison spares the map lookup for most keys. */
export const mayBeStoredOnce = (key: string): boolean => {
  const c = key.charCodeAt(0);
  return c === 103 || c === 117;
};
