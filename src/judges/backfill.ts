/**
 * `verdict evaluate --backfill --since 7d`: queues jobs for runs already
 * stored, page by page in index order (runs by start time, spans by start
 * time within them, conversations by last activity), with the evaluators'
 * sampling applied. The workers then judge them within the budget. Jobs that
 * exist stay as they are: a target is judged once per evaluator version.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Evaluator } from './config.ts';
import { enqueue, type NewJob } from './queue.ts';
import { inSample, matches } from './sampling.ts';

export interface BackfillOptions {
  since: Date;
  until: Date;
  evaluators: readonly Evaluator[];
  /** Called after each page with the totals so far. */
  progress?: (p: { evaluator: string; scanned: number; queued: number }) => void;
  pageSize?: number;
  now?: number;
}

export async function backfill(db: Kysely<Database>, o: BackfillOptions): Promise<Map<string, number>> {
  const page = o.pageSize ?? 2000;
  const notBefore = new Date(o.now ?? Date.now()).toISOString();
  const totals = new Map<string, number>();
  for (const ev of o.evaluators) {
    let scanned = 0;
    let queued = 0;
    // always_when needs the stored verdicts: with conditions, every target is queued and the sample is decided when it is claimed.
    const sampled = (key: string) => ev.alwaysWhen.length > 0 || inSample(ev.name, key, ev.rate);
    const job = (target_kind: NewJob['target_kind'], target: string, trace_id: string | null, span_id: string | null, conversation_id: string | null): NewJob =>
      ({ evaluator: ev.name, evaluator_version: ev.version, target, target_kind, trace_id, span_id, conversation_id, not_before: notBefore });
    let after: { t: Date; k: string } | null = null;
    for (;;) {
      let jobs: NewJob[] = [];
      let last: { t: Date; k: string } | null = null;
      const since = o.since.toISOString();
      const until = o.until.toISOString();
      const at: { t: string; k: string } | null = after ? { t: after.t.toISOString(), k: after.k } : null;
      let n = 0;
      if (ev.target === 'trace') {
        const rows: Array<{ trace_id: string; start_time: Date }> = (await sql<{ trace_id: string; start_time: Date }>`
          SELECT trace_id, start_time FROM verdict.traces
          WHERE start_time >= ${since}::timestamptz AND start_time < ${until}::timestamptz ${at ? sql`AND (start_time, trace_id) > (${at.t}::timestamptz, ${at.k})` : sql``}
          ORDER BY start_time, trace_id LIMIT ${page}`.execute(db)).rows;
        n = rows.length;
        jobs = rows.filter((r) => sampled(r.trace_id)).map((r) => job('trace', r.trace_id, r.trace_id, null, null));
        const l = rows.at(-1);
        if (l) last = { t: l.start_time, k: l.trace_id };
      } else if (ev.target === 'span') {
        // Runs by start time (indexed), then their spans by trace ID (the primary key): no sort over all spans.
        const runs: Array<{ trace_id: string; start_time: Date }> = (await sql<{ trace_id: string; start_time: Date }>`
          SELECT trace_id, start_time FROM verdict.traces
          WHERE start_time >= ${since}::timestamptz AND start_time < ${until}::timestamptz ${at ? sql`AND (start_time, trace_id) > (${at.t}::timestamptz, ${at.k})` : sql``}
          ORDER BY start_time, trace_id LIMIT ${page}`.execute(db)).rows;
        n = runs.length;
        const ids = runs.map((r) => r.trace_id).filter(sampled);
        const rows = ids.length === 0 ? [] : (await sql<{ trace_id: string; span_id: string; service_name: string | null; gen_ai_agent_name: string | null; model: string | null; gen_ai_operation_name: string | null; error: boolean }>`
          SELECT trace_id, span_id, service_name, gen_ai_agent_name, coalesce(gen_ai_response_model, gen_ai_request_model) AS model,
            gen_ai_operation_name, status_code = 'error' AS error
          FROM verdict.spans WHERE trace_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`.execute(db)).rows;
        jobs = rows
          .filter((r) => matches({ ...ev.where, attributes: [], hasVerdict: undefined }, { service: r.service_name, agent: r.gen_ai_agent_name, model: r.model, operation: r.gen_ai_operation_name, hasError: r.error, attributes: {}, verdicts: [] }))
          .map((r) => job('span', `${r.trace_id}/${r.span_id}`, r.trace_id, r.span_id, null));
        const l = runs.at(-1);
        if (l) last = { t: l.start_time, k: l.trace_id };
      } else {
        const rows: Array<{ conversation_id: string; last_activity: Date }> = (await sql<{ conversation_id: string; last_activity: Date }>`
          SELECT conversation_id, last_activity FROM verdict.conversations
          WHERE last_activity >= ${since}::timestamptz AND last_activity < ${until}::timestamptz ${at ? sql`AND (last_activity, conversation_id) > (${at.t}::timestamptz, ${at.k})` : sql``}
          ORDER BY last_activity, conversation_id LIMIT ${page}`.execute(db)).rows;
        n = rows.length;
        jobs = rows.filter((r) => sampled(r.conversation_id)).map((r) => job('conversation', r.conversation_id, null, null, r.conversation_id));
        const l = rows.at(-1);
        if (l) last = { t: l.last_activity, k: l.conversation_id };
      }
      scanned += n;
      if (jobs.length > 0) queued += await enqueue(db, jobs);
      o.progress?.({ evaluator: ev.name, scanned, queued });
      if (n < page || !last) break;
      after = last;
    }
    totals.set(ev.name, queued);
  }
  return totals;
}
