/**
 * The GenAI columns of a span row, from what the conventions lifted
 * (conventions/): the scalar columns, message content in the one shape
 * (message-shape.ts), and the short input_text / output_text.
 */
import type { CopyWriter } from '../common/copy-binary.ts';
import { clean, cleanDeep } from '../common/text.ts';
import { MAX_DEPTH } from './anyvalue.ts';
import { shallowerThan } from './content.ts';
import { COL, CONTENT, type Lift, type Resolved } from './conventions/lift.ts';
import { answerText, capText, lastUserText, valueText } from './message-shape.ts';

/** Model calls: the operations whose content may come in log records instead of attributes. */
export const INFERENCE_OPERATIONS: ReadonlySet<string> = new Set(['chat', 'text_completion', 'generate_content']);

/** What the rest of the span's handling needs from its GenAI columns. */
export interface GenAiSummary {
  /** The last user message, whole (rules read it; input_text is its capped form). */
  userText: string | null;
  /** Whether the span itself carried input or output messages. */
  hasContent: boolean;
}

/** A resolved content column as jsonb text, or null (absent, or nested too deeply for jsonb). */
function contentJson(r: Resolved | null): string | null {
  if (r === null) return null;
  if (r.json !== null) return r.json;
  if (!shallowerThan(r.value, MAX_DEPTH)) return null;
  return JSON.stringify(cleanDeep(r.value));
}

const cappedText = (s: string | null): string | null => (s === null ? null : clean(capText(s) as string));

/**
 * Writes, in SPAN_COLUMNS order: gen_ai_operation_name … gen_ai_output_tokens,
 * then user_id … gen_ai_content_source.
 */
export function writeGenAiFields(w: CopyWriter, lift: Lift): GenAiSummary {
  const v = lift.values;
  w.text(v[COL.operation] as string | null);
  w.text(v[COL.provider] as string | null);
  w.text(v[COL.requestModel] as string | null);
  w.text(v[COL.responseModel] as string | null);
  w.text(v[COL.responseId] as string | null);
  w.text(v[COL.conversationId] as string | null);
  w.text(v[COL.agentName] as string | null);
  w.text(v[COL.toolName] as string | null);
  w.int8(v[COL.inputTokens] as number | bigint | null);
  w.int8(v[COL.outputTokens] as number | bigint | null);

  w.text(v[COL.userId] as string | null);
  w.text(v[COL.toolCallId] as string | null);
  if (lift.offers.length === 0) {
    // No content at all (most non-GenAI spans): the five jsonb columns, both texts and the content source are NULL.
    for (let i = 0; i < 8; i++) w.null();
    return { userText: null, hasContent: false };
  }
  const system = lift.content(CONTENT.system);
  const input = lift.content(CONTENT.input);
  const output = lift.content(CONTENT.output);
  const args = lift.content(CONTENT.toolArguments);
  const result = lift.content(CONTENT.toolResult);
  w.jsonb(contentJson(system));
  w.jsonb(contentJson(input));
  w.jsonb(contentJson(output));
  w.jsonb(contentJson(args));
  w.jsonb(contentJson(result));
  const userText = input === null ? null : lastUserText(input.value);
  w.text(cappedText(userText ?? (args === null ? null : (args.text ?? valueText(args.value)))));
  w.text(cappedText((output === null ? null : answerText(output.value)) ?? (result === null ? null : (result.text ?? valueText(result.value)))));
  // System instructions alone do not count: the contrib OpenAI instrumentation puts those on the span and the messages in log records.
  const hasContent = input !== null || output !== null;
  w.text(hasContent ? 'span' : null);
  return { userText, hasContent };
}
