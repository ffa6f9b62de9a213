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
 * nothing; otherwise one statement, which reads span_messages by span and
 * updates only spans whose content changes.
 */
import type { Batch, SpanRef } from '../model/rows.ts';
import type { Session } from './driver.ts';

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
)
UPDATE verdict.span_rows s
SET gen_ai_input_messages = c.input,
    gen_ai_output_messages = c.output,
    gen_ai_system_instructions = COALESCE(c.system, s.gen_ai_system_instructions),
    gen_ai_content_source = 'logs'
FROM content c
WHERE s.trace_id = c.trace_id AND s.span_id = c.span_id
  AND (s.gen_ai_content_source IS NULL OR s.gen_ai_content_source = 'logs')
  AND (s.gen_ai_input_messages, s.gen_ai_output_messages, s.gen_ai_system_instructions)
      IS DISTINCT FROM (c.input, c.output, COALESCE(c.system, s.gen_ai_system_instructions))`;

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
