/**
 * The GenAI columns of a span row, from what the conventions lifted
 * (conventions/): the scalar columns, message content in the one shape
 * (message-shape.ts).
 */
import type { CopyWriter } from '../common/copy-binary.ts';
import { clean, cleanDeep, leftChars } from '../common/text.ts';
import { MAX_DEPTH } from './anyvalue.ts';
import { shallowerThan } from './content.ts';
import { COL, CONTENT, type Lift, type Resolved } from './conventions/lift.ts';
import { answerText, lastUserText } from './message-shape.ts';

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

/** Where a content column's value ended up: nowhere, in the column, or (the column NULL) in the attribute it came from. */
const Stored = { Nowhere: 0, Column: 1, Attribute: 2 } as const;
type Stored = (typeof Stored)[keyof typeof Stored];

/** A content column: NULL when it is the attribute it came from (see above), its JSON otherwise, NULL when absent or nested too deeply for jsonb. */
function contentField(w: CopyWriter, r: Resolved | null): Stored {
  if (r === null) {
    w.null();
    return Stored.Nowhere;
  }
  if (r.bytes !== undefined) {
    w.null();
    return Stored.Attribute;
  }
  if (!shallowerThan(r.value, MAX_DEPTH)) {
    w.null();
    return Stored.Nowhere;
  }
  w.jsonb(JSON.stringify(cleanDeep(r.value)));
  return Stored.Column;
}

/**
 * verdict.input_text / verdict.output_text of the row being written, for
 * the run's summary: the text of the stored messages (cleaned as they are
 * stored: `clean` maps character to character, so cleaning the text is
 * cleaning the messages), at most 1000 characters; NULL when the column
 * holds nothing.
 */
function storedText(text: string | null, stored: Stored): string | null {
  return text === null || stored === Stored.Nowhere ? null : leftChars(clean(text), TEXT_CHARS);
}

/** verdict.input_text and verdict.output_text keep this many characters. */
const TEXT_CHARS = 1000;

/**
 * Writes, in SPAN_COLUMNS order: gen_ai_operation_name … gen_ai_output_tokens,
 * then user_id … content_in_attributes. Sets lift.userText (the last user
 * message, whole, for the rules), lift.inputText and lift.outputText (for
 * the run's summary) and lift.hasContent (the span carried input
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
    lift.inputText = null;
    lift.outputText = null;
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
  const inputStored = contentField(w, input);
  const outputStored = contentField(w, output);
  if (inputStored === Stored.Attribute) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.input.messages'];
  if (outputStored === Stored.Attribute) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.output.messages'];
  if (contentField(w, args) === Stored.Attribute) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.tool.call.arguments'];
  if (contentField(w, result) === Stored.Attribute) inAttributes |= CONTENT_IN_ATTRIBUTES['gen_ai.tool.call.result'];
  // A span row's input_text and output_text are not stored (verdict.spans derives them from the messages); the run's summary keeps its run's.
  const userText = input === null ? null : lastUserText(input.value);
  lift.inputText = storedText(userText, inputStored);
  lift.outputText = output === null || outputStored === Stored.Nowhere ? null : storedText(answerText(output.value), outputStored);
  // System instructions alone do not count: the contrib OpenAI instrumentation puts those on the span and the messages in log records.
  const hasContent = input !== null || output !== null;
  if (hasContent) w.ascii('span');
  else w.null();
  if (inAttributes === 0) w.null();
  else w.int4(inAttributes);
  lift.userText = userText;
  lift.hasContent = hasContent;
}
