/**
 * Which day partitions a write needs. Spans are partitioned by their start,
 * log records and verdicts by their time, per UTC day. Days within a month
 * back and two days ahead get partitions of their own, created before any
 * row of theirs is written (so no row of such a day ever waits in the
 * default partition, where another writer could be moving it). Rows outside
 * that window (a backfill of older data, a zero timestamp, a sender's wrong
 * clock) go to the default partition: the number of partitions stays
 * bounded, whatever the senders' clocks say, and retention still prunes the
 * default partition row by row.
 */
import type { Batch } from '../model/rows.ts';

export type PartitionedTable = 'span_rows' | 'log_rows' | 'evaluations';

export interface PartitionDay {
  parent: PartitionedTable;
  /** YYYY-MM-DD (UTC). */
  day: string;
}

const DAY_MS = 86_400_000;
export const WINDOW_PAST_DAYS = 31;
export const WINDOW_AHEAD_DAYS = 2;

export function partitionDays(batches: readonly Batch[], nowMs = Date.now()): PartitionDay[] {
  const lo = Math.floor(nowMs / DAY_MS) - WINDOW_PAST_DAYS;
  const hi = Math.floor(nowMs / DAY_MS) + WINDOW_AHEAD_DAYS;
  // Per table, the days seen (as day numbers); a batch's rows mostly share one or two.
  const seen: Record<PartitionedTable, Set<number>> = { span_rows: new Set(), log_rows: new Set(), evaluations: new Set() };
  const add = (parent: PartitionedTable, ns: bigint) => {
    const d = Number(ns / 86_400_000_000_000n);
    if (d >= lo && d <= hi) seen[parent].add(d);
  };
  for (const b of batches) {
    for (const f of b.facts) add('span_rows', f.startNs);
    for (const l of b.logs) add('log_rows', l.time_unix_nano || l.observed_time_unix_nano);
    for (const e of b.evaluations) add('evaluations', e.time_unix_nano);
    // Verdicts of the `repeat` rule take the time of the turn that repeated.
    for (const t of b.turns) add('evaluations', t.time_unix_nano);
  }
  const days: PartitionDay[] = [];
  for (const parent of ['span_rows', 'log_rows', 'evaluations'] as const) {
    for (const d of seen[parent]) days.push({ parent, day: new Date(d * DAY_MS).toISOString().slice(0, 10) });
  }
  return days;
}
