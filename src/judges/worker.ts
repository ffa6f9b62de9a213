/**
 * The judge workers: a small pool of loops, each claiming one due job at a
 * time (queue.ts), checking the evaluator's filters and sample against the
 * settled target, spending from its budget, calling the judge (client.ts)
 * and writing the verdict through the verdict write path. Exactly one
 * verdict per evaluator version and target: the job's key is unique and the
 * verdict's id is derived from it, so even a job judged again after a lost
 * lease (a worker killed mid-call) stores one verdict.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { contentKey } from '../common/util.ts';
import type { Logger } from '../log.ts';
import type { EvaluationRow, Polarity } from '../model/rows.ts';
import type { Database } from '../store/schema.ts';
import { callJudge, JudgeCallError, parseAnswer, type JudgeAnswer } from './client.ts';
import type { Evaluator } from './config.ts';
import { loadTarget, renderPrompt } from './content.ts';
import type { JudgeMetrics } from './metrics.ts';
import { claim, dayStart, finish, minuteStart, release, releaseAll, spendTokens, takeCall, tokensToday, type Job } from './queue.ts';
import { inSample, matches } from './sampling.ts';

export interface PoolOptions {
  db: Kysely<Database>;
  evaluators: () => readonly Evaluator[];
  /** Stores verdict rows; resolves after commit (the batcher in `serve`, the store in `verdict evaluate`). */
  write: (rows: EvaluationRow[]) => Promise<void>;
  log: Logger;
  metrics?: JudgeMetrics;
  /** Jobs judged at once (default 4). */
  concurrency?: number;
  /** How long an idle worker waits before it looks for due jobs again. */
  pollMs?: number;
  /** Called before each claim (the job feed's flush). */
  beforeClaim?: () => Promise<void>;
  clock?: () => number;
  owner?: string;
}

export const DEFAULT_CONCURRENCY = 4;
/**
 * Verdicts a pool may have waiting for their commit while its workers go on
 * judging. In `serve` a verdict joins ingest's group commit, which under load
 * takes most of a second: a worker that waited for it would judge a couple of
 * targets a second whatever its budget.
 */
const MAX_COMMITTING = 32;
/** Longest backoff between retries without a Retry-After. */
const MAX_BACKOFF_MS = 60_000;

/** The verdict's id: one per evaluator version and target, whoever writes it and however often. */
export const judgeVerdictId = (job: Pick<Job, 'evaluator' | 'evaluator_version' | 'target_kind' | 'target'>): string =>
  contentKey('judge', job.evaluator, job.evaluator_version, job.target_kind, job.target);

/**
 * A job's lease: twice the judge's timeout, so a live worker always finishes
 * or releases first, and a dead one's job is free soon after.
 */
export const leaseMs = (ev: Evaluator): number => Math.max(1000, 2 * ev.timeoutMs);

export class JudgePool {
  readonly owner: string;
  readonly #o: PoolOptions;
  readonly #clock: () => number;
  #loops: Promise<void>[] = [];
  #stopping = false;
  #wake: Array<() => void> = [];
  readonly #inflight = new Set<AbortController>();
  /** Verdicts written but not committed yet, each finishing its job once committed. */
  readonly #committing = new Set<Promise<void>>();
  /**
   * Evaluators whose budget this pool found spent, and until when: their jobs
   * are not claimed meanwhile. Without it a spent budget would not stop the
   * work per job, only the call: every due job would be claimed, its target
   * read and its job put back, as fast as the workers go.
   */
  readonly #spentUntil = new Map<string, number>();

  constructor(o: PoolOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    const n = this.#o.concurrency ?? DEFAULT_CONCURRENCY;
    for (let i = 0; i < n; i++) this.#loops.push(this.#loop());
  }

  /** Stops claiming, abandons calls in flight and releases their leases, so another worker takes the jobs at once. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const w of this.#wake.splice(0)) w();
    for (const c of this.#inflight) c.abort(new Error('shutting down'));
    await Promise.all(this.#loops);
    // Their verdicts are paid for: let them commit, and their jobs finish, before the rest are released.
    await Promise.all(this.#committing);
    try {
      const n = await releaseAll(this.#o.db, this.owner, this.#clock());
      if (n > 0) this.#o.log.info({ jobs: n }, 'released judge jobs on shutdown');
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'cannot release judge jobs; their leases will expire');
    }
  }

  /** Judges due jobs until none is left; resolves with how many were taken (tests and backfill use it). */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const taken = await this.step();
      if (!taken) return n;
      n++;
    }
  }

  /**
   * Claims and handles one due job; false when there was none. By default it
   * resolves once the job is finished; `pipelined` (the workers' loops) lets
   * it resolve once the verdict is written, its commit and the job's finish
   * still pending (at most MAX_COMMITTING at once).
   */
  async step(pipelined = false): Promise<boolean> {
    await this.#o.beforeClaim?.();
    const now = this.#clock();
    const evaluators = this.#o.evaluators().filter((e) => (this.#spentUntil.get(e.name) ?? 0) <= now);
    if (evaluators.length === 0) return false;
    const versions = evaluators.map((e) => ({ evaluator: e.name, evaluator_version: e.version }));
    // One lease length for a claim of several evaluators: the longest.
    const lease = Math.max(...evaluators.map(leaseMs));
    const [job] = await claim(this.#o.db, this.owner, versions, now, lease, 1);
    if (!job) return false;
    const ev = evaluators.find((e) => e.name === job.evaluator && e.version === job.evaluator_version);
    if (!ev) {
      await release(this.#o.db, job, this.owner, now, null, false);
      return true;
    }
    this.#o.metrics?.running.inc({ evaluator: ev.name });
    try {
      await this.#handle(ev, job, pipelined);
    } finally {
      this.#o.metrics?.running.dec({ evaluator: ev.name });
    }
    return true;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let took = false;
      try {
        took = await this.step(true);
      } catch (err) {
        if (!this.#stopping) this.#o.log.warn({ err: (err as Error).message }, 'judge worker: database error; retrying');
      }
      if (!took && !this.#stopping) await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#o.pollMs ?? 500);
        this.#wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async #handle(ev: Evaluator, job: Job, pipelined: boolean): Promise<void> {
    const { db, log, metrics } = this.#o;
    const now = this.#clock();
    const count = (outcome: string) => metrics?.jobs.inc({ evaluator: ev.name, outcome });
    const sampleKey = job.target_kind === 'conversation' ? (job.conversation_id ?? '') : (job.trace_id ?? '');
    const sampled = inSample(ev.name, sampleKey, ev.rate);
    // Out of the sample, and nothing that could bring it in: no need to read the target.
    if (!sampled && ev.alwaysWhen.length === 0) {
      await finish(db, job, this.owner, 'skipped', now, null, 'not in the sample');
      count('skipped');
      return;
    }
    const target = await loadTarget(db, job, ev);
    if (!target) {
      await finish(db, job, this.owner, 'skipped', now, null, 'the target is not stored');
      count('skipped');
      return;
    }
    const chosen = sampled || ev.alwaysWhen.some((f) => matches(f, target.view));
    if (!matches(ev.where, target.view) || !chosen) {
      await finish(db, job, this.owner, 'skipped', now, null, chosen ? 'the target does not match where' : 'not in the sample');
      count('skipped');
      return;
    }

    // The budget: a call is taken from the minute's before it is made; tokens are counted after.
    if (ev.tokensPerDay !== null) {
      const spent = await tokensToday(db, ev.name, now);
      metrics?.budgetLeft.set({ evaluator: ev.name, budget: 'tokens_per_day' }, Math.max(0, ev.tokensPerDay - spent));
      if (spent >= ev.tokensPerDay) {
        this.#spentUntil.set(ev.name, dayStart(now) + 86_400_000);
        await release(db, job, this.owner, dayStart(now) + 86_400_000, 'the daily token budget is spent', false);
        count('deferred');
        return;
      }
    }
    if (!(await takeCall(db, ev.name, now, ev.callsPerMinute))) {
      this.#spentUntil.set(ev.name, minuteStart(now) + 60_000);
      metrics?.budgetLeft.set({ evaluator: ev.name, budget: 'calls_per_minute' }, 0);
      await release(db, job, this.owner, minuteStart(now) + 60_000, 'the per-minute call budget is spent', false);
      count('deferred');
      return;
    }

    const prompt = renderPrompt(ev.prompt, target.values);
    const abort = new AbortController();
    this.#inflight.add(abort);
    let answer: JudgeAnswer;
    try {
      answer = await callJudge(ev.model, prompt, ev.output, ev.timeoutMs, abort.signal);
    } catch (err) {
      if (this.#stopping) {
        await release(db, job, this.owner, this.#clock(), null, false);
        return;
      }
      const e = err instanceof JudgeCallError ? err : new JudgeCallError('network', (err as Error).message);
      metrics?.callDuration.observe({ evaluator: ev.name, outcome: e.kind }, e.latencyMs / 1000);
      const retry = e.retryable && job.attempts <= ev.retries;
      log.warn({ evaluator: ev.name, version: ev.version, target: job.target, attempt: job.attempts, cause: e.kind, err: e.message, retry }, `judge call failed: ${e.kind}`);
      if (retry) {
        // Retry-After when the judge says (429, 503), else exponential backoff with jitter.
        const backoff = e.retryAfterMs ?? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (job.attempts - 1)) * (0.5 + Math.random() / 2);
        await release(db, job, this.owner, this.#clock() + backoff, `${e.kind}: ${e.message}`, true);
        count('retried');
      } else {
        await finish(db, job, this.owner, 'failed', this.#clock(), null, `${e.kind}: ${e.message}`);
        count('failed');
      }
      return;
    } finally {
      this.#inflight.delete(abort);
    }
    metrics?.callDuration.observe({ evaluator: ev.name, outcome: 'answer' }, answer.latencyMs / 1000);
    metrics?.tokens.inc({ evaluator: ev.name, kind: 'input' }, answer.inputTokens);
    metrics?.tokens.inc({ evaluator: ev.name, kind: 'output' }, answer.outputTokens);
    const spent = await spendTokens(db, ev.name, now, answer.inputTokens + answer.outputTokens);
    if (ev.tokensPerDay !== null) metrics?.budgetLeft.set({ evaluator: ev.name, budget: 'tokens_per_day' }, Math.max(0, ev.tokensPerDay - spent));

    const row = verdictRow(ev, job, answer, this.#clock());
    if (row.error_type) {
      log.warn({ evaluator: ev.name, version: ev.version, target: job.target, cause: 'invalid_output', err: row.explanation }, 'judge answer cannot be read; stored as an error verdict');
    }
    const committed = (async () => {
      await this.#o.write([row]);
      const held = await finish(db, job, this.owner, 'done', this.#clock(), row.id, row.error_type ? row.explanation : null);
      count(row.error_type ? 'invalid_output' : 'done');
      if (!held) log.warn({ evaluator: ev.name, target: job.target }, 'judge job finished after its lease ran out; the verdict is stored once');
    })();
    if (!pipelined) return committed;
    // A verdict that cannot be stored leaves its job leased: once the lease runs out it is judged again, and stored once.
    const tracked = committed.catch((err: unknown) => log.warn({ evaluator: ev.name, target: job.target, err: (err as Error).message }, 'judge verdict not stored; the job is tried again when its lease runs out'))
      .finally(() => this.#committing.delete(tracked));
    this.#committing.add(tracked);
    while (this.#committing.size >= MAX_COMMITTING) await Promise.race(this.#committing);
  }
}

/** The verdict a judge answer makes, with its provenance in the attributes (docs/evaluators.md). */
export function verdictRow(ev: Evaluator, job: Job, answer: JudgeAnswer, nowMs: number): EvaluationRow {
  const attributes: Record<string, unknown> = {
    'verdict.evaluator.name': ev.name,
    'verdict.evaluator.version': ev.version,
    'verdict.evaluator.target': job.target_kind,
    'gen_ai.request.model': ev.model.model,
    'gen_ai.response.model': answer.responseModel,
    'gen_ai.response.id': answer.responseId,
    'gen_ai.usage.input_tokens': answer.inputTokens,
    'gen_ai.usage.output_tokens': answer.outputTokens,
    'verdict.judge.latency_ms': Math.round(answer.latencyMs),
    'verdict.judge.attempts': job.attempts,
  };
  let score: number | null = null;
  let label: string | null = null;
  let explanation: string | null = null;
  let errorType: string | null = null;
  let polarity: Polarity | null = null;
  try {
    ({ score, label, explanation } = parseAnswer(answer.raw, ev.output));
    polarity = label !== null ? (ev.output.labels?.get(label) ?? null) : null;
    if (polarity === null && score !== null && ev.output.score?.passAt != null) polarity = score >= ev.output.score.passAt ? 'positive' : 'negative';
  } catch (err) {
    errorType = 'invalid_output';
    explanation = (err as Error).message;
    attributes['verdict.judge.raw_answer'] = answer.raw.slice(0, 64 * 1024);
  }
  return {
    id: judgeVerdictId(job),
    trace_id: job.target_kind === 'conversation' ? null : job.trace_id,
    span_id: job.target_kind === 'span' ? job.span_id : null,
    response_id: null,
    // A run's or span's verdict takes its conversation from its target (verdict.trace_evaluations); set here, it would read as a verdict on the thread.
    conversation_id: job.target_kind === 'conversation' ? job.conversation_id : null,
    name: ev.name,
    score_value: score,
    score_label: label,
    explanation,
    error_type: errorType,
    time_unix_nano: BigInt(nowMs) * 1_000_000n,
    channel: 'judge',
    source: 'llm_judge',
    polarity,
    service_name: null,
    attributes: JSON.stringify(attributes),
    target: null,
  };
}
