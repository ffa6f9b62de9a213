/**
 * `verdict compare`: the best and the worst run of a task side by side
 * (verdict.task_comparisons_between: runs of one agent that got the same
 * first request, one with only positive verdicts, one with a negative one):
 * the tools each called in order, spans, tokens, latency, errors, verdicts.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

export interface CompareOptions {
  /** A task ID (verdict.tasks.task_id), or a run whose task to compare. */
  task?: string;
  trace?: string;
  since: Date;
  until: Date;
  /** Tasks to show when neither is given. */
  limit: number;
}

export interface Comparison {
  task_id: string;
  agent_name: string | null;
  task: string;
  runs: number;
  good_runs: number;
  bad_runs: number;
  good_trace_id: string;
  bad_trace_id: string;
  good_tools: string[];
  bad_tools: string[];
  good_spans: number;
  bad_spans: number;
  good_tokens: string;
  bad_tokens: string;
  good_duration_ms: number;
  bad_duration_ms: number;
  good_errors: number;
  bad_errors: number;
  good_verdicts: Verdict[];
  bad_verdicts: Verdict[];
}

interface Verdict {
  name: string;
  label: string | null;
  score: number | null;
  source: string | null;
  polarity: string | null;
}

/** The comparisons asked for; none when the task has no good and bad run in the range. */
export async function compareTasks(db: Kysely<Database>, o: CompareOptions): Promise<Comparison[]> {
  let task = o.task;
  if (o.trace !== undefined) {
    const { rows } = await sql<{ task_id: string }>`SELECT task_id FROM verdict.task_runs WHERE trace_id = ${o.trace}`.execute(db);
    if (rows.length === 0) return [];
    task = rows[0]!.task_id;
  }
  const { rows } = await sql<Comparison>`
    SELECT * FROM verdict.task_comparisons_between(${o.since}, ${o.until})
    ${task !== undefined ? sql`WHERE task_id = ${task}` : sql``}
    ORDER BY bad_runs DESC, runs DESC, task_id
    LIMIT ${task !== undefined ? 1 : o.limit}`.execute(db);
  return rows;
}

const verdictText = (v: Verdict) => `${v.name} ${v.label ?? (v.score !== null ? String(v.score) : '')}${v.polarity ? ` (${v.polarity}` : ' ('}${v.source ? `, ${v.source})` : ')'}`;

/** Two columns, good run and bad run, one row per fact. */
export function renderComparison(c: Comparison): string {
  const rows: Array<[string, string, string]> = [
    ['trace', c.good_trace_id, c.bad_trace_id],
    ['tools', c.good_tools.join(' → ') || '(none)', c.bad_tools.join(' → ') || '(none)'],
    ['spans', String(c.good_spans), String(c.bad_spans)],
    ['tokens', String(c.good_tokens), String(c.bad_tokens)],
    ['latency ms', String(Math.round(c.good_duration_ms)), String(Math.round(c.bad_duration_ms))],
    ['errors', String(c.good_errors), String(c.bad_errors)],
  ];
  const verdicts = Math.max(c.good_verdicts.length, c.bad_verdicts.length);
  for (let i = 0; i < verdicts; i++) {
    rows.push([i === 0 ? 'verdicts' : '', c.good_verdicts[i] ? verdictText(c.good_verdicts[i]!) : '', c.bad_verdicts[i] ? verdictText(c.bad_verdicts[i]!) : '']);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max('good run'.length, ...rows.map((r) => r[1].length));
  const line = (a: string, b: string, d: string) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${d}`.trimEnd();
  return [
    `task ${c.task_id}${c.agent_name ? ` (${c.agent_name})` : ''}: ${JSON.stringify(c.task)}`,
    `${c.runs} runs: ${c.good_runs} good, ${c.bad_runs} bad`,
    line('', 'good run', 'bad run'),
    ...rows.map((r) => line(...r)),
  ].join('\n');
}
