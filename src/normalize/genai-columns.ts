/**
 * The GenAI columns of a span row, from what the conventions lifted
 * (conventions/): the scalar columns, message content in the one shape
 * (message-shape.ts).
 */
import type { CopyWriter } from '../common/copy-binary.ts';
import { cleanDeep } from '../common/text.ts';
import { MAX_DEPTH } from './anyvalue.ts';
import { shallowerThan } from './content.ts';
import { COL, CONTENT, type Lift, type Resolved } from './conventions/lift.ts';
import { lastUserText } from './message-shape.ts';

/** Model calls: the operations whose content may come in log records instead of attributes. */
export const INFERENCE_OPERATIONS: ReadonlySet<string> = new Set(['chat', 'text_completion', 'generate_content']);

/** Seven NULL fields in COPY binary (a length of -1 each). */
const SEVEN_NULLS = Buffer.alloc(7 * 4, 0xff);

/**
 * Content columns whose value is, byte for byte, the span attribute it came
 * from (gen_ai.input.messages and the like, sent in the one shape) are not
 * stored twice: the column stays NULL and a bit of content_in_attributes
 * says the verdict.spans view reads it from the attribute. Message content is
 * most of a GenAI span's size. The bits, per attribute:
 */
export const CONTENT_IN_ATTRIBUTES = {
  'gen_ai.input.messages': 1,
  'gen_ai.output.messages': 2,
  'gen_ai.tool.call.arguments': 4,
  'gen_ai.tool.call.result': 8,
} as const;

/** A content column: NULL when it is the attribute it came from (see above), its JSON otherwise, NULL when absent or nested too deeply for jsonb. */
function contentField(w: CopyWriter, r: Resolved | null): boolean {
  if (r === null) {
    w.null();
    return false;
  }
  if (r.bytes !== undefined) {
    w.null();
    return true;
  }
  w.jsonb(shallowerThan(r.value, MAX_DEPTH) ? JSON.stringify(cleanDeep(r.value)) : null);
  return false;
}

/**
 * Writes, in SPAN_COLUMNS order: gen_ai_operation_name … gen_ai_output_tokens,
 * then user_id … content_in_attributes. Sets lift.userText (the last user
 * message, whole, for the rules) and lift.hasContent (the span carried input
 * or output messages itself).
 */
export function writeGenAiFields(w: CopyWriter, lift: Lift): void {
  w.text(lift.text(COL.operation));
  w.text(lift.text(COL.provider));
  w.text(lift.text(COL.requestModel));
  w.text(lift.text(COL.responseModel));
  w.text(lift.text(COL.responseId));
  w.text(lift.text(COL.conversationId));
  w.text(lift.text(COL.agentName));
  w.text(lift.text(COL.toolName));
  w.int8(lift.value(COL.inputTokens) as number | bigint | null);
  w.int8(lift.value(COL.outputTokens) as number | bigint | null);

  w.text(lift.text(COL.userId));
  w.text(lift.text(COL.toolCallId));
  if (lift.offers === 0) {
    // No content at all (most non-GenAI spans): the five jsonb columns, the content source and content_in_attributes are NULL.
    w.field(SEVEN_NULLS);
    lift.userText = null;
    lift.hasContent = false;
    return;
  }
  const system = lift.content(CONTENT.system);
  const input = lift.content(CONTENT.input);
  const output = lift.content(CONTENT.output);
  const args = lift.content(CONTENT.toolArguments);
  const result = lift.content(CONTENT.toolResult);
  contentField(w, system);
  // Only the current GenAI attributes keep their bytes (conventions/read.ts): each column has its one attribute.
  let inAttributes = 0;
  if (contentField(w, input)) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.input.messages'];
  if (contentField(w, output)) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.output.messages'];
  if (contentField(w, args)) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.tool.call.arguments'];
  if (contentField(w, result)) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.tool.call.result'];
  // input_text and output_text are not stored: the view derives them from the messages (verdict.input_text).
  const userText = input === null ? null : lastUserText(input.value);
  // System instructions alone do not count: the contrib OpenAI instrumentation puts those on the span and the messages in log records.
  const hasContent = input !== null || output !== null;
  if (hasContent) w.ascii('span');
  else w.null();
  if (inAttributes === 0) w.null();
  else w.int4(inAttributes);
  lift.userText = userText;
  lift.hasContent = hasContent;
}
