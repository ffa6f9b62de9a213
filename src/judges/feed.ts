/**
 * Jobs made as data arrives: after a batch commits, its spans (and verdicts,
 * for `always_when`) are matched against the evaluators here, in memory and
 * in constant time per span; the candidates are queued by the judge pool in
 * one statement per flush, off the ingest path. Each arrival of a target
 * pushes its job's time on by the settle time, so a run arriving in pieces
 * is judged once, when it has been quiet that long.
 *
 * Only cheap checks happen here: the span's own facts for span judges, the
 * sample by trace ID, `always_when` conditions a batch can show (an error
 * span, a verdict). The full `where` and `always_when` are checked again on
 * the settled target when the job is claimed.
 */
import type { Kysely } from 'kysely';
import type { Logger } from '../log.ts';
import type { Batch, SpanFact } from '../model/rows.ts';
import type { Database } from '../store/schema.ts';
import type { Evaluator, Filter } from './config.ts';
import type { JudgeMetrics } from './metrics.ts';
import { enqueue, type NewJob } from './queue.ts';
import { inSample, matches } from './sampling.ts';

/** Candidates held between flushes; beyond it new ones are dropped (and counted): `verdict evaluate --backfill` recovers them. */
export const MAX_PENDING = 100_000;

const spanView = (f: SpanFact) => ({
  service: f.serviceName, agent: f.agentName, model: f.responseModel ?? f.requestModel, operation: f.operation, hasError: f.error, attributes: {}, verdicts: [],
});

/** A condition's parts a span's facts can show (attributes and verdicts are checked after settling). */
const factsMatch = (f: Filter, fact: SpanFact) => matches({ ...f, attributes: [], hasVerdict: undefined } as Filter, spanView(fact));

export class JobFeed {
  readonly #pending = new Map<string, NewJob>();
  readonly #evaluators: () => readonly Evaluator[];
  readonly #log: Logger;
  readonly #metrics: JudgeMetrics | undefined;
  readonly #clock: () => number;
  dropped = 0;

  constructor(evaluators: () => readonly Evaluator[], log: Logger, metrics?: JudgeMetrics, clock: () => number = Date.now) {
    this.#evaluators = evaluators;
    this.#log = log;
    this.#metrics = metrics;
    this.#clock = clock;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Called with each committed batch; synchronous and cheap. */
  observe(batch: Batch): void {
    const evaluators = this.#evaluators();
    if (evaluators.length === 0) return;
    const now = this.#clock();
    for (const ev of evaluators) {
      const notBefore = new Date(now + ev.settleMs).toISOString();
      const errorAlways = ev.alwaysWhen.some((c) => c.hasError === true);
      const verdictConds = ev.alwaysWhen.filter((c) => c.hasVerdict !== undefined);
      const add = (kind: NewJob['target_kind'], target: string, traceId: string | null, spanId: string | null, conversationId: string | null) =>
        this.#add({ evaluator: ev.name, evaluator_version: ev.version, target, target_kind: kind, trace_id: traceId, span_id: spanId, conversation_id: conversationId, not_before: notBefore });

      if (ev.target === 'span') {
        for (const f of batch.facts) {
          if (!factsMatch(ev.where, f)) continue;
          if (inSample(ev.name, f.traceId, ev.rate) || (errorAlways && f.error)) add('span', `${f.traceId}/${f.spanId}`, f.traceId, f.spanId, null);
        }
      } else if (ev.target === 'trace') {
        const seen = new Set<string>();
        for (const f of batch.facts) {
          if (seen.has(f.traceId) && !(errorAlways && f.error)) continue;
          seen.add(f.traceId);
          if (inSample(ev.name, f.traceId, ev.rate) || (errorAlways && f.error)) add('trace', f.traceId, f.traceId, null, null);
        }
      } else {
        for (const f of batch.facts) {
          if (f.conversationId !== null && inSample(ev.name, f.conversationId, ev.rate)) add('conversation', f.conversationId, null, null, f.conversationId);
        }
      }
      if (verdictConds.length === 0) continue;
      // A verdict that makes its target worth judging whatever the sample (a user's thumbs down, a rule hit).
      for (const v of batch.evaluations) {
        const view = { service: null, agent: null, model: null, operation: null, hasError: false, attributes: {}, verdicts: [v] };
        if (!verdictConds.some((c) => matches({ hasVerdict: c.hasVerdict } as Filter, view))) continue;
        const traceId = v.trace_id ?? v.target?.trace_id ?? null;
        if (ev.target === 'trace' && traceId) add('trace', traceId, traceId, null, null);
        else if (ev.target === 'span' && traceId && v.span_id) add('span', `${traceId}/${v.span_id}`, traceId, v.span_id, null);
        else if (ev.target === 'conversation' && v.conversation_id) add('conversation', v.conversation_id, null, null, v.conversation_id);
      }
    }
  }

  #add(job: NewJob): void {
    const key = `${job.evaluator}\0${job.evaluator_version}\0${job.target}`;
    if (!this.#pending.has(key) && this.#pending.size >= MAX_PENDING) {
      if (this.dropped++ === 0) this.#log.warn({ max: MAX_PENDING }, 'judge job queue is full: new targets are not queued until it drains (verdict evaluate --backfill queues them later)');
      return;
    }
    this.#pending.set(key, job);
  }

  /** Queues what arrived since the last flush. */
  async flush(db: Kysely<Database>): Promise<void> {
    if (this.#pending.size === 0) return;
    const jobs = [...this.#pending.values()];
    this.#pending.clear();
    this.dropped = 0;
    try {
      for (let i = 0; i < jobs.length; i += 5000) await enqueue(db, jobs.slice(i, i + 5000));
      for (const j of jobs) this.#metrics?.jobs.inc({ evaluator: j.evaluator, outcome: 'queued' });
    } catch (err) {
      // Put them back (newer arrivals win): the next flush tries again.
      for (const j of jobs) {
        const key = `${j.evaluator}\0${j.evaluator_version}\0${j.target}`;
        if (!this.#pending.has(key) && this.#pending.size < MAX_PENDING) this.#pending.set(key, j);
      }
      throw err;
    }
  }
}
