/**
 * The review items' life: pending → claimed (a lease, one reviewer) → done
 * or skipped; a released or expired claim is pending again. Every change is
 * one statement, so two reviewers (on one receiver or several) cannot both
 * win an item, and the day's counters move with the item they count.
 */
import { sql, type Kysely } from 'kysely';
import { contentKey } from '../common/util.ts';
import type { Database } from '../store/schema.ts';
import type { QueueConfig } from './config.ts';

export const itemId = (queue: string, traceId: string): string => contentKey('review', queue, traceId);

export interface Item {
  id: string;
  queue: string;
  trace_id: string;
  reason: string;
  detail: string | null;
  state: 'pending' | 'claimed' | 'done' | 'skipped';
  reviewer: string | null;
  lease_until: Date | null;
  created_at: Date;
  finished_at: Date | null;
  verdict_ids: string[] | null;
  /** Whether the lease is still running (by the database's clock). */
  leased: boolean;
}

const COLUMNS = sql.raw(`id, queue, trace_id, reason, detail, state, reviewer, lease_until, created_at, finished_at, verdict_ids, COALESCE(lease_until > now(), false) AS leased`);
const TODAY = sql.raw(`(now() AT TIME ZONE 'UTC')::date`);

/**
 * Claims the queue's next open item for the reviewer: pending, or claimed
 * with a lease that has run out. FOR UPDATE SKIP LOCKED lets concurrent
 * claims pass over a row another claim is taking, and the row is checked
 * again once locked, so each item goes to one claim.
 */
export async function claimNext(db: Kysely<Database>, q: QueueConfig, reviewer: string): Promise<Item | null> {
  const r = await sql<Item>`
    UPDATE verdict.review_items SET state = 'claimed', reviewer = ${reviewer}, claimed_at = now(),
      lease_until = now() + ${q.leaseMs} * interval '1 millisecond'
    WHERE id = (
      SELECT id FROM verdict.review_items
      WHERE queue = ${q.name} AND state IN ('pending', 'claimed') AND (state = 'pending' OR lease_until <= now())
      ORDER BY priority, created_at, id
      LIMIT 1
      FOR UPDATE SKIP LOCKED)
    RETURNING ${COLUMNS}`.execute(db);
  return r.rows[0] ?? null;
}

export async function getItem(db: Kysely<Database>, id: string): Promise<Item | null> {
  const r = await sql<Item>`SELECT ${COLUMNS} FROM verdict.review_items WHERE id = ${id}`.execute(db);
  return r.rows[0] ?? null;
}

/** Marks the reviewer's claimed item done with the verdicts it got; false when the claim is no longer theirs. */
export async function finishItem(db: Kysely<Database>, id: string, reviewer: string, state: 'done' | 'skipped', verdictIds: readonly string[] | null): Promise<boolean> {
  const counter = sql.raw(state === 'done' ? 'done' : 'skipped');
  const r = await sql<{ queue: string }>`
    WITH finished AS (
      UPDATE verdict.review_items SET state = ${state}, finished_at = now(), lease_until = NULL,
        verdict_ids = ${verdictIds === null ? null : JSON.stringify(verdictIds)}::jsonb
      WHERE id = ${id} AND state = 'claimed' AND reviewer = ${reviewer}
      RETURNING queue)
    INSERT INTO verdict.review_days AS d (queue, day, ${counter}) SELECT queue, ${TODAY}, 1 FROM finished
    ON CONFLICT (queue, day) DO UPDATE SET ${counter} = d.${counter} + 1
    RETURNING queue`.execute(db);
  return r.rows.length > 0;
}

/** Gives the reviewer's claim back to the queue; false when it was not theirs. */
export async function releaseItem(db: Kysely<Database>, id: string, reviewer: string): Promise<boolean> {
  const r = await sql<{ id: string }>`
    UPDATE verdict.review_items SET state = 'pending', reviewer = NULL, lease_until = NULL, claimed_at = NULL
    WHERE id = ${id} AND state = 'claimed' AND reviewer = ${reviewer} RETURNING id`.execute(db);
  return r.rows.length > 0;
}

export interface QueueCounts {
  pending: number;
  claimed: number;
  /** Open items by the reason they were queued for. */
  reasons: Record<string, number>;
  today: { queued: number; done: number; skipped: number };
}

/**
 * Open items per queue (read from the open-items index: finished items are
 * not in it) and today's counters. Never counts the finished items, which
 * grow without bound.
 */
export async function queueCounts(db: Kysely<Database>, names: readonly string[]): Promise<Map<string, QueueCounts>> {
  const out = new Map<string, QueueCounts>(names.map((n) => [n, { pending: 0, claimed: 0, reasons: {}, today: { queued: 0, done: 0, skipped: 0 } }]));
  if (names.length === 0) return out;
  const [open, days] = await Promise.all([
    sql<{ queue: string; reason: string; live: boolean; n: number }>`
      SELECT queue, reason, (state = 'claimed' AND lease_until > now()) AS live, count(*)::int AS n
      FROM verdict.review_items WHERE queue = ANY(${[...names]}::text[]) AND state IN ('pending', 'claimed')
      GROUP BY 1, 2, 3`.execute(db),
    sql<{ queue: string; queued: number; done: number; skipped: number }>`
      SELECT queue, queued, done, skipped FROM verdict.review_days WHERE queue = ANY(${[...names]}::text[]) AND day = ${TODAY}`.execute(db),
  ]);
  for (const r of open.rows) {
    const c = out.get(r.queue)!;
    if (r.live) c.claimed += r.n;
    else c.pending += r.n;
    c.reasons[r.reason] = (c.reasons[r.reason] ?? 0) + r.n;
  }
  for (const r of days.rows) out.get(r.queue)!.today = { queued: r.queued, done: r.done, skipped: r.skipped };
  return out;
}

/** The queues a run is in, with each item's state (the page's view of one run). */
export async function itemsOfTrace(db: Kysely<Database>, traceId: string): Promise<Item[]> {
  return (await sql<Item>`SELECT ${COLUMNS} FROM verdict.review_items WHERE trace_id = ${traceId} ORDER BY queue`.execute(db)).rows;
}
