/**
 * Message content that arrives in log records, copied onto its span in the
 * write transaction, whichever arrives first.
 *
 * Instrumentations such as @opentelemetry/instrumentation-openai put a model
 * call's messages in log records (gen_ai.user.message, gen_ai.choice,
 * gen_ai.client.inference.operation.details) rather than on the span. The
 * normaliser converts each record's content to the one shape
 * (MessageRow, kept in verdict.span_messages); this step then rebuilds the
 * content columns of every span that the batch concerns from all the
 * records stored for it:
 *
 * - spans of this batch that are model calls without content of their own
 *   (their records may have come earlier), and
 * - spans named by this batch's records (the span may have come earlier, or
 *   may get more records later: the content is rebuilt from all of them).
 *
 * Spans whose own attributes or events carried messages are left alone
 * (gen_ai_content_source = 'span'); system instructions a span carries are
 * kept unless its records carry them too. A batch with neither kind of row costs
 * nothing; otherwise one statement, which reads span_messages by span,
 * updates only spans whose content changes, and merges their new text into
 * their runs' summaries (the input and output text of verdict.traces, and
 * the task of a judged run).
 */
import type { Batch, SpanRef } from '../model/rows.ts';
import type { Session } from './driver.ts';
import { taskAssign, textValues } from './summary-sql.ts';

/** Model calls, whose text may stand for their run's (verdict.traces). */
const MODEL_CALLS = `('chat', 'text_completion', 'generate_content')`;

/** A run's text columns after the spans' new text (`c`, the changes CTE below). */
const FILLED_VALUES: Record<string, string> = {
  root_input_text: 'CASE WHEN c.root_filled THEN c.root_input_text ELSE t.root_input_text END',
  root_output_text: 'CASE WHEN c.root_filled THEN c.root_output_text ELSE t.root_output_text END',
  ...textValues('c'),
};

/** A filled span (`f`) that is its run's root (`t`). */
const IS_ROOT = 'f.span_id = t.root_span_id AND f.start_time = t.root_start_time';
/** A column of the run's earliest filled model call that has input text, and of the last-ended one that has output text. */
const earliestInput = (c: string) =>
  `(array_agg(f.${c} ORDER BY f.start_time_unix_nano, f.span_id COLLATE "C") FILTER (WHERE f.model_call AND f.input_text IS NOT NULL))[1]`;
const latestOutput = (c: string) =>
  `(array_agg(f.${c} ORDER BY f.end_time_unix_nano DESC, f.span_id COLLATE "C" DESC) FILTER (WHERE f.model_call AND f.output_text IS NOT NULL))[1]`;

const FILL_SQL = `
WITH keys AS (
  SELECT DISTINCT k.trace_id, k.span_id FROM jsonb_to_recordset($1::jsonb) AS k(trace_id text, span_id text)
),
fragments AS (
  SELECT m.* FROM keys k JOIN verdict.span_messages m ON m.trace_id = k.trace_id AND m.span_id = k.span_id
),
content AS (
  SELECT f.trace_id, f.span_id,
    jsonb_agg(x.item ORDER BY f.time_unix_nano, f.seq, x.n) FILTER (WHERE f.kind = 'input') AS input,
    jsonb_agg(x.item ORDER BY f.time_unix_nano, f.seq, x.n) FILTER (WHERE f.kind = 'output') AS output,
    jsonb_agg(x.item ORDER BY f.time_unix_nano, f.seq, x.n) FILTER (WHERE f.kind = 'system') AS system
  FROM fragments f
  CROSS JOIN LATERAL jsonb_array_elements(f.content) WITH ORDINALITY AS x(item, n)
  GROUP BY f.trace_id, f.span_id
),
filled AS (
  UPDATE verdict.span_rows s
  SET gen_ai_input_messages = c.input,
      gen_ai_output_messages = c.output,
      gen_ai_system_instructions = COALESCE(c.system, s.gen_ai_system_instructions),
      gen_ai_content_source = 'logs'
  FROM content c
  WHERE s.trace_id = c.trace_id AND s.span_id = c.span_id
    AND (s.gen_ai_content_source IS NULL OR s.gen_ai_content_source = 'logs')
    AND (s.gen_ai_input_messages, s.gen_ai_output_messages, s.gen_ai_system_instructions)
        IS DISTINCT FROM (c.input, c.output, COALESCE(c.system, s.gen_ai_system_instructions))
  RETURNING s.trace_id, s.span_id, s.start_time, s.start_time_unix_nano, s.end_time_unix_nano,
    s.gen_ai_operation_name IN ${MODEL_CALLS} AS model_call, verdict.input_text(s) AS input_text, verdict.output_text(s) AS output_text
),
-- What the new text changes in each run's summary: its root's text, and its first input and last output candidates.
changes AS (
  SELECT f.trace_id,
    bool_or(${IS_ROOT}) AS root_filled,
    max(f.input_text) FILTER (WHERE ${IS_ROOT}) AS root_input_text,
    max(f.output_text) FILTER (WHERE ${IS_ROOT}) AS root_output_text,
    ${earliestInput('start_time_unix_nano')} AS first_input_time_unix_nano,
    ${earliestInput('span_id')} AS first_input_span_id,
    ${earliestInput('input_text')} AS first_input_text,
    ${latestOutput('end_time_unix_nano')} AS last_output_time_unix_nano,
    ${latestOutput('span_id')} AS last_output_span_id,
    ${latestOutput('output_text')} AS last_output_text
  FROM filled f
  JOIN verdict.trace_summary t ON t.trace_id = f.trace_id
  GROUP BY f.trace_id
)
UPDATE verdict.trace_summary t
SET ${Object.entries(FILLED_VALUES).map(([c, e]) => `${c} = ${e}`).join(',\n    ')},
    ${taskAssign(FILLED_VALUES)}
FROM changes c
WHERE t.trace_id = c.trace_id`;

/** The spans this write concerns (see above), each once. */
function spansConcerned(batches: readonly Batch[]): SpanRef[] {
  const seen = new Set<string>();
  const out: SpanRef[] = [];
  const add = (trace_id: string, span_id: string) => {
    const key = trace_id + span_id;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ trace_id, span_id });
  };
  for (const b of batches) {
    for (const r of b.contentless) add(r.trace_id, r.span_id);
    for (const m of b.messages) add(m.trace_id, m.span_id);
  }
  return out;
}

/** Runs after spans, logs and span_messages of the batch are written, in the same transaction. */
export async function fillSpanContent(s: Session, batches: readonly Batch[]): Promise<void> {
  const spans = spansConcerned(batches);
  if (spans.length === 0) return;
  await s.rows(FILL_SQL, [JSON.stringify(spans)]);
}
