/**
 * The job queue in verdict.judge_jobs (sql/0007_judges.sql): jobs are
 * upserted as targets arrive (each arrival pushes the settle time on while
 * the job waits), claimed with FOR UPDATE SKIP LOCKED under a lease, and
 * finished only by the lease holder. Every time is the caller's clock, so
 * settle, leases, backoff and budget windows follow one notion of now.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { TargetKind } from './config.ts';

export interface NewJob {
  evaluator: string;
  evaluator_version: string;
  target: string;
  target_kind: TargetKind;
  trace_id: string | null;
  span_id: string | null;
  conversation_id: string | null;
  not_before: string;
}

export interface Job extends Omit<NewJob, 'not_before'> {
  attempts: number;
}

export type JobKey = Pick<Job, 'evaluator' | 'evaluator_version' | 'target'>;

const iso = (ms: number) => new Date(ms).toISOString();

/** Queues jobs (one statement); a job already queued waits until the later of the two times; a finished one stays finished. */
export async function enqueue(db: Kysely<Database>, jobs: readonly NewJob[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const r = await sql`
    INSERT INTO verdict.judge_jobs (evaluator, evaluator_version, target, target_kind, trace_id, span_id, conversation_id, not_before)
    SELECT evaluator, evaluator_version, target, target_kind, trace_id, span_id, conversation_id, not_before
    FROM jsonb_to_recordset(${JSON.stringify(jobs)}::jsonb) AS x(evaluator text, evaluator_version text, target text, target_kind text,
      trace_id text, span_id text, conversation_id text, not_before timestamptz)
    ON CONFLICT (evaluator, evaluator_version, target) DO UPDATE SET not_before = greatest(judge_jobs.not_before, excluded.not_before)
    WHERE judge_jobs.status = 'queued'`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Claims up to `limit` due jobs of the given evaluator versions: queued ones
 * whose time has come, then running ones whose lease ran out (their worker
 * died). Locked rows are skipped, so concurrent workers never claim one job.
 * Two statements, one per partial index (a queued job by `not_before`, a
 * leased one by `lease_until`), so a claim reads a few index entries however
 * long the history of finished jobs is.
 */
export async function claim(db: Kysely<Database>, owner: string, versions: ReadonlyArray<{ evaluator: string; evaluator_version: string }>, now: number, leaseMs: number, limit: number): Promise<Job[]> {
  if (versions.length === 0) return [];
  const queued = await claimWhere(db, owner, versions, now, leaseMs, limit, sql`status = 'queued' AND not_before <= ${iso(now)}::timestamptz`, sql`not_before`);
  if (queued.length >= limit) return queued;
  const expired = await claimWhere(db, owner, versions, now, leaseMs, limit - queued.length, sql`status = 'running' AND lease_until < ${iso(now)}::timestamptz`, sql`lease_until`);
  return [...queued, ...expired];
}

async function claimWhere(db: Kysely<Database>, owner: string, versions: ReadonlyArray<{ evaluator: string; evaluator_version: string }>, now: number, leaseMs: number, limit: number, due: RawBuilder<unknown>, order: RawBuilder<unknown>): Promise<Job[]> {
  const r = await sql<Job>`
    UPDATE verdict.judge_jobs j SET status = 'running', lease_owner = ${owner}, lease_until = ${iso(now + leaseMs)}::timestamptz, attempts = j.attempts + 1
    FROM (
      SELECT evaluator, evaluator_version, target FROM verdict.judge_jobs
      WHERE ${due}
        AND (evaluator, evaluator_version) IN (SELECT * FROM jsonb_to_recordset(${JSON.stringify(versions)}::jsonb) AS v(evaluator text, evaluator_version text))
      ORDER BY ${order}
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ) c
    WHERE j.evaluator = c.evaluator AND j.evaluator_version = c.evaluator_version AND j.target = c.target
    RETURNING j.evaluator, j.evaluator_version, j.target, j.target_kind, j.trace_id, j.span_id, j.conversation_id, j.attempts`.execute(db);
  return r.rows;
}

/** Ends a job the caller still holds; false when its lease was lost (another worker has it now). */
export async function finish(db: Kysely<Database>, key: JobKey, owner: string, status: 'done' | 'failed' | 'skipped', now: number, verdictId: string | null, error: string | null): Promise<boolean> {
  const r = await sql`
    UPDATE verdict.judge_jobs SET status = ${status}, finished_at = ${iso(now)}::timestamptz, verdict_id = ${verdictId}, last_error = ${error},
      lease_owner = NULL, lease_until = NULL
    WHERE evaluator = ${key.evaluator} AND evaluator_version = ${key.evaluator_version} AND target = ${key.target}
      AND status = 'running' AND lease_owner = ${owner}`.execute(db);
  return Number(r.numAffectedRows ?? 0) === 1;
}

/**
 * Puts a held job back in the queue until `notBefore`; `counted` false when
 * it was never tried (budget spent, shutting down), so it keeps its retries.
 */
export async function release(db: Kysely<Database>, key: JobKey, owner: string, notBefore: number, error: string | null, counted: boolean): Promise<void> {
  await sql`
    UPDATE verdict.judge_jobs SET status = 'queued', not_before = ${iso(notBefore)}::timestamptz, lease_owner = NULL, lease_until = NULL,
      last_error = coalesce(${error}, last_error), attempts = attempts - ${counted ? 0 : 1}
    WHERE evaluator = ${key.evaluator} AND evaluator_version = ${key.evaluator_version} AND target = ${key.target}
      AND status = 'running' AND lease_owner = ${owner}`.execute(db);
}

/** Releases every job this worker holds (SIGTERM): others may take them at once. */
export async function releaseAll(db: Kysely<Database>, owner: string, now: number): Promise<number> {
  const r = await sql`
    UPDATE verdict.judge_jobs SET status = 'queued', not_before = ${iso(now)}::timestamptz, lease_owner = NULL, lease_until = NULL, attempts = attempts - 1
    WHERE status = 'running' AND lease_owner = ${owner}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

export const minuteStart = (now: number) => now - (now % 60_000);
export const dayStart = (now: number) => now - (now % 86_400_000);

/**
 * Takes one call from the evaluator's budget for the minute; false when the
 * minute's calls are spent. The check and the count are one statement, so
 * workers in several processes share one budget.
 */
export async function takeCall(db: Kysely<Database>, evaluator: string, now: number, perMinute: number | null): Promise<boolean> {
  const r = await sql<{ calls: number }>`
    INSERT INTO verdict.judge_usage AS u (evaluator, period, window_start, calls) VALUES (${evaluator}, 'minute', ${iso(minuteStart(now))}::timestamptz, 1)
    ON CONFLICT (evaluator, period, window_start) DO UPDATE SET calls = u.calls + 1
    WHERE ${perMinute === null} OR u.calls < ${perMinute ?? 0}
    RETURNING calls`.execute(db);
  return r.rows.length === 1;
}

/** Tokens spent by the evaluator today (UTC). */
export async function tokensToday(db: Kysely<Database>, evaluator: string, now: number): Promise<number> {
  const r = await sql<{ tokens: string }>`
    SELECT tokens::text FROM verdict.judge_usage WHERE evaluator = ${evaluator} AND period = 'day' AND window_start = ${iso(dayStart(now))}::timestamptz`.execute(db);
  return Number(r.rows[0]?.tokens ?? 0);
}

/** Adds a call's tokens to the day's count. */
export async function spendTokens(db: Kysely<Database>, evaluator: string, now: number, tokens: number): Promise<number> {
  const r = await sql<{ tokens: string }>`
    INSERT INTO verdict.judge_usage AS u (evaluator, period, window_start, calls, tokens) VALUES (${evaluator}, 'day', ${iso(dayStart(now))}::timestamptz, 1, ${tokens})
    ON CONFLICT (evaluator, period, window_start) DO UPDATE SET calls = u.calls + 1, tokens = u.tokens + excluded.tokens
    RETURNING tokens::text`.execute(db);
  return Number(r.rows[0]?.tokens ?? 0);
}
