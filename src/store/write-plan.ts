/**
 * The statements of one write transaction, shared by both backends.
 *
 * Fast path: binary COPY straight into spans and logs, the cheapest way into
 * Postgres. COPY has no ON CONFLICT, so a batch holding a row that is already
 * stored (an exporter's retry) fails with a unique violation; the writer then
 * rolls back and takes the safe path: COPY into session temp tables and
 * `INSERT … SELECT … ON CONFLICT DO NOTHING`. After a conflict the safe path
 * is used for a short while, since retries come in bursts.
 *
 * Evaluations always take the safe path: the same verdict routinely arrives
 * twice (log record and span event) and they are few.
 */
import type { Batch } from '../normalize/rows.ts';
import { EVALUATIONS, LOGS, SPANS, encode, type TableCodec } from './tables.ts';

export interface WriteSession {
  /** Runs SQL without parameters (may hold several statements). */
  exec(sql: string): Promise<void>;
  /** Streams a binary COPY of `codec`'s columns into `table`. */
  copy(codec: TableCodec<never>, table: string, chunks: Buffer[]): Promise<void>;
  /** Per-connection flag: the temp staging tables exist. */
  staged: boolean;
}

const STAGING: Array<[TableCodec<never>, string]> = [
  [SPANS, 'verdict_spans_in'],
  [LOGS, 'verdict_logs_in'],
  [EVALUATIONS, 'verdict_evaluations_in'],
];

const STAGING_DDL = STAGING.map(([c, t]) => `CREATE TEMP TABLE IF NOT EXISTS ${t} (LIKE ${c.table}) ON COMMIT DELETE ROWS;`).join('\n');

async function ensureStaging(s: WriteSession): Promise<void> {
  if (s.staged) return;
  await s.exec(STAGING_DDL);
  s.staged = true;
}

async function copyTable<R>(s: WriteSession, codec: TableCodec<R>, staging: string, batches: readonly Batch[], pick: (b: Batch) => readonly R[], safe: boolean): Promise<void> {
  if (!batches.some((b) => pick(b).length > 0)) return;
  const chunks = encode(codec, batches, pick);
  if (!safe) {
    await s.copy(codec as TableCodec<never>, codec.table, chunks);
    return;
  }
  await ensureStaging(s);
  await s.copy(codec as TableCodec<never>, staging, chunks);
  const cols = codec.columns.join(', ');
  await s.exec(`INSERT INTO ${codec.table} (${cols}) SELECT ${cols} FROM ${staging} ON CONFLICT (${codec.key.join(', ')}) DO NOTHING`);
}

/** The body of the write transaction (BEGIN and COMMIT are the caller's). */
export async function writeRows(s: WriteSession, batches: readonly Batch[], safe: boolean): Promise<void> {
  await copyTable(s, SPANS, 'verdict_spans_in', batches, (b) => b.spans, safe);
  await copyTable(s, LOGS, 'verdict_logs_in', batches, (b) => b.logs, safe);
  await copyTable(s, EVALUATIONS, 'verdict_evaluations_in', batches, (b) => b.evaluations, true);
}

/** After a conflict, how long to go straight to the safe path. */
export const SAFE_PATH_MS = 2000;
