/**
 * What a judge is shown: the target's normalised content (the content
 * columns of verdict.spans, the run's input_text and output_text, its
 * conversation's runs; docs/schema.md), its tool calls and a reviewer's
 * correction where one exists; and the facts its filters are checked
 * against. Every lookup goes by trace ID, span ID or conversation ID through
 * an index.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Evaluator, PLACEHOLDERS } from './config.ts';
import type { Job } from './queue.ts';
import type { TargetView } from './sampling.ts';

export type Placeholders = Record<(typeof PLACEHOLDERS)[number], string>;

export interface LoadedTarget {
  view: TargetView;
  values: Placeholders;
  /** The conversation the judged run belongs to, for the verdict row. */
  conversationId: string | null;
}

/** Longest text a placeholder takes: a judge prompt is not the place for a whole corpus. */
const MAX_PLACEHOLDER = 32 * 1024;
const MODEL_CALLS = new Set(['chat', 'text_completion', 'generate_content']);

interface SpanContent {
  span_id: string;
  gen_ai_operation_name: string | null;
  gen_ai_tool_name: string | null;
  gen_ai_input_messages: unknown;
  gen_ai_output_messages: unknown;
  gen_ai_tool_call_arguments: unknown;
  gen_ai_tool_call_result: unknown;
}

const cap = (s: string) => (s.length > MAX_PLACEHOLDER ? `${s.slice(0, MAX_PLACEHOLDER)}…` : s);

/** Messages in the GenAI conventions' shape as "role: text" lines (tool calls and results as JSON). */
export function renderMessages(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages
    .map((m: any) => {
      const parts = Array.isArray(m?.parts) ? m.parts : [];
      const body = parts
        .map((p: any) => {
          if (p?.type === 'text') return String(p.content ?? '');
          if (p?.type === 'tool_call') return `[tool call ${p.name ?? ''} ${JSON.stringify(p.arguments ?? null)}]`;
          if (p?.type === 'tool_call_response') return `[tool result ${typeof p.response === 'string' ? p.response : JSON.stringify(p.response ?? null)}]`;
          return '';
        })
        .filter((x: string) => x !== '')
        .join('\n');
      return `${m?.role ?? 'unknown'}: ${body}`;
    })
    .join('\n');
}

function toolCalls(spans: readonly SpanContent[]): string {
  const lines: string[] = [];
  for (const s of spans) {
    if (s.gen_ai_operation_name === 'execute_tool') {
      lines.push(`${s.gen_ai_tool_name ?? 'tool'}(${JSON.stringify(s.gen_ai_tool_call_arguments ?? null)}) -> ${JSON.stringify(s.gen_ai_tool_call_result ?? null)}`);
      continue;
    }
    for (const m of Array.isArray(s.gen_ai_output_messages) ? s.gen_ai_output_messages : []) {
      for (const p of Array.isArray((m as any)?.parts) ? (m as any).parts : []) {
        if (p?.type === 'tool_call') lines.push(`${p.name ?? 'tool'}(${JSON.stringify(p.arguments ?? null)})`);
      }
    }
  }
  return lines.join('\n');
}

async function correctionOf(db: Kysely<Database>, job: Job): Promise<string> {
  const r = job.target_kind === 'conversation'
    ? await sql<{ correction: string }>`SELECT correction FROM verdict.evaluations WHERE conversation_id = ${job.conversation_id} AND correction IS NOT NULL ORDER BY time DESC LIMIT 1`.execute(db)
    : await sql<{ correction: string }>`SELECT correction FROM verdict.evaluations WHERE target_trace_id = ${job.trace_id} AND correction IS NOT NULL
        ${job.target_kind === 'span' ? sql`AND target_span_id = ${job.span_id}` : sql``} ORDER BY time DESC LIMIT 1`.execute(db);
  return r.rows[0]?.correction ?? '';
}

async function verdictsOn(db: Kysely<Database>, job: Job): Promise<TargetView['verdicts']> {
  const r = job.target_kind === 'conversation'
    ? await sql<{ name: string; source: string | null; polarity: string | null }>`SELECT name, source, polarity FROM verdict.evaluations WHERE conversation_id = ${job.conversation_id} LIMIT 1000`.execute(db)
    : await sql<{ name: string; source: string | null; polarity: string | null }>`SELECT name, source, polarity FROM verdict.evaluations WHERE target_trace_id = ${job.trace_id} LIMIT 1000`.execute(db);
  return r.rows;
}

interface RunSpan extends SpanContent {
  start_time: Date;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
  attributes: Record<string, unknown> | null;
  input_text: string | null;
  output_text: string | null;
}

/**
 * A run's input and output text, chosen as verdict.traces chooses them
 * (sql/0005_genai_content.sql): the root span's own, else the first model
 * call's input (by start time) and the last model call's output (by end
 * time); span IDs break ties in byte order, as COLLATE "C" does there.
 */
export function runTexts(root: RunSpan | undefined, spans: readonly RunSpan[]): { input: string | null; output: string | null } {
  const calls = spans.filter((s) => MODEL_CALLS.has(s.gen_ai_operation_name ?? ''));
  const byNanos = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);
  const byId = (a: RunSpan, b: RunSpan) => (a.span_id < b.span_id ? -1 : a.span_id > b.span_id ? 1 : 0);
  const first = calls.filter((s) => s.input_text !== null).sort((a, b) => byNanos(a.start_time_unix_nano, b.start_time_unix_nano) || byId(a, b))[0];
  const last = calls.filter((s) => s.output_text !== null).sort((a, b) => byNanos(b.end_time_unix_nano, a.end_time_unix_nano) || byId(b, a))[0];
  return { input: root?.input_text ?? first?.input_text ?? null, output: root?.output_text ?? last?.output_text ?? null };
}

/**
 * Reads the target; null when it is not stored (pruned, or never arrived).
 * A reviewer's correction is read only for a prompt that shows it, and the
 * verdicts on the target only for an evaluator whose filters ask for one:
 * each is a query per judged target, on the evaluator's budget of the
 * database.
 */
export async function loadTarget(db: Kysely<Database>, job: Job, ev: Pick<Evaluator, 'prompt' | 'where' | 'alwaysWhen'>): Promise<LoadedTarget | null> {
  const showsCorrection = /\{\{\s*correction\s*\}\}/.test(ev.prompt);
  const filtersOnVerdicts = [ev.where, ...ev.alwaysWhen].some((f) => f.hasVerdict !== undefined);
  const [correction, verdicts] = await Promise.all([
    showsCorrection ? correctionOf(db, job) : '',
    filtersOnVerdicts ? verdictsOn(db, job) : [],
  ]);
  const ids = { trace_id: job.trace_id ?? '', span_id: job.span_id ?? '', conversation_id: job.conversation_id ?? '' };

  if (job.target_kind === 'span') {
    const r = await sql<SpanContent & { service_name: string | null; gen_ai_agent_name: string | null; model: string | null; error: boolean; attributes: Record<string, unknown>; input_text: string | null; output_text: string | null; gen_ai_conversation_id: string | null }>`
      SELECT span_id, service_name, gen_ai_agent_name, coalesce(gen_ai_response_model, gen_ai_request_model) AS model, gen_ai_operation_name,
        status_code = 'error' AS error, attributes, input_text, output_text, gen_ai_input_messages, gen_ai_output_messages, gen_ai_tool_name,
        gen_ai_tool_call_arguments, gen_ai_tool_call_result, gen_ai_conversation_id
      FROM verdict.spans WHERE trace_id = ${job.trace_id} AND span_id = ${job.span_id} LIMIT 1`.execute(db);
    const s = r.rows[0];
    if (!s) return null;
    const messages = [...(Array.isArray(s.gen_ai_input_messages) ? s.gen_ai_input_messages : []), ...(Array.isArray(s.gen_ai_output_messages) ? s.gen_ai_output_messages : [])];
    return {
      view: { service: s.service_name, agent: s.gen_ai_agent_name, model: s.model, operation: s.gen_ai_operation_name, hasError: s.error, attributes: s.attributes ?? {}, verdicts },
      values: { ...ids, input: cap(s.input_text ?? ''), output: cap(s.output_text ?? ''), messages: cap(renderMessages(messages)), tool_calls: cap(toolCalls([s])), correction: cap(correction), conversation_id: s.gen_ai_conversation_id ?? '' },
      conversationId: s.gen_ai_conversation_id,
    };
  }

  if (job.target_kind === 'trace') {
    // The summary row, then the run's spans within its own time range: both plan against one day's
    // partitions. verdict.traces would give input_text and output_text too, but its subqueries
    // are planned against every day partition (their bounds come from the row), a few ms a call.
    const r = await sql<{ service_name: string | null; agent_name: string | null; model: string | null; error_count: number; conversation_id: string | null; root_span_id: string; root_start_time: Date | null; start_time: Date; end_time: Date }>`
      SELECT service_name, agent_name, model, error_count, conversation_id, root_span_id, root_start_time, start_time, end_time
      FROM verdict.trace_summary WHERE trace_id = ${job.trace_id} AND span_count > 0`.execute(db);
    const t = r.rows[0];
    if (!t) return null;
    const spans = (await sql<RunSpan>`
      SELECT span_id, start_time, start_time_unix_nano::text, end_time_unix_nano::text, gen_ai_operation_name, gen_ai_tool_name, gen_ai_input_messages, gen_ai_output_messages,
        gen_ai_tool_call_arguments, gen_ai_tool_call_result,
        -- Worked out only where used: the root's attributes, the texts of the root and the model calls.
        CASE WHEN span_id = ${t.root_span_id} THEN attributes END AS attributes,
        CASE WHEN span_id = ${t.root_span_id} OR gen_ai_operation_name = ANY (${[...MODEL_CALLS]}::text[]) THEN input_text END AS input_text,
        CASE WHEN span_id = ${t.root_span_id} OR gen_ai_operation_name = ANY (${[...MODEL_CALLS]}::text[]) THEN output_text END AS output_text
      FROM verdict.spans WHERE trace_id = ${job.trace_id} AND start_time BETWEEN ${t.start_time.toISOString()}::timestamptz AND ${t.end_time.toISOString()}::timestamptz
      ORDER BY end_time, span_id LIMIT 1000`.execute(db)).rows;
    const root = spans.find((s) => s.span_id === t.root_span_id && s.start_time.getTime() === t.root_start_time?.getTime());
    const lastCall = spans.filter((s) => MODEL_CALLS.has(s.gen_ai_operation_name ?? '') && Array.isArray(s.gen_ai_input_messages)).at(-1);
    const messages = lastCall ? [...(lastCall.gen_ai_input_messages as unknown[]), ...(Array.isArray(lastCall.gen_ai_output_messages) ? lastCall.gen_ai_output_messages : [])] : [];
    const { input, output } = runTexts(root, spans);
    return {
      view: { service: t.service_name, agent: t.agent_name, model: t.model, operation: root?.gen_ai_operation_name ?? null, hasError: Number(t.error_count) > 0, attributes: root?.attributes ?? {}, verdicts },
      values: { ...ids, input: cap(input ?? ''), output: cap(output ?? ''), messages: cap(renderMessages(messages)), tool_calls: cap(toolCalls(spans)), correction: cap(correction), conversation_id: t.conversation_id ?? '' },
      conversationId: t.conversation_id,
    };
  }

  const runs = (await sql<{ trace_id: string; service_name: string | null; agent_name: string | null; model: string | null; error_count: number; input_text: string | null; output_text: string | null }>`
    SELECT trace_id, service_name, agent_name, model, error_count, input_text, output_text FROM verdict.traces
    WHERE conversation_id = ${job.conversation_id} ORDER BY start_time, trace_id LIMIT 200`.execute(db)).rows;
  const last = runs.at(-1);
  if (!last) return null;
  const history = runs.flatMap((r) => [`user: ${r.input_text ?? ''}`, `assistant: ${r.output_text ?? ''}`]).join('\n');
  return {
    view: { service: last.service_name, agent: last.agent_name, model: last.model, operation: null, hasError: runs.some((r) => Number(r.error_count) > 0), attributes: {}, verdicts },
    values: { ...ids, trace_id: last.trace_id, input: cap(last.input_text ?? ''), output: cap(last.output_text ?? ''), messages: cap(history), tool_calls: '', correction: cap(correction) },
    conversationId: job.conversation_id,
  };
}

/** Fills the template's placeholders. */
export function renderPrompt(template: string, values: Placeholders): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => (values as Record<string, string>)[name] ?? '');
}
