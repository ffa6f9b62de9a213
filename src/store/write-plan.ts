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
 * twice (log record and span event), and they are few.
 */
import type { Batch } from '../normalize/rows.ts';
import { copyStream, type EncodedRows } from './copy-binary.ts';
import { encodeRows, EVALUATIONS, LOGS, SPANS, type Table } from './tables.ts';

export interface WriteSession {
  /** Runs SQL without parameters (may hold several statements). */
  exec(sql: string): Promise<void>;
  /** Streams a complete binary COPY stream of `table`'s columns into `into`. */
  copy(table: Table, into: string, stream: Buffer[]): Promise<void>;
  /** Per-connection flag: the temp staging tables exist. */
  staged: boolean;
}

const STAGING_DDL = [SPANS, LOGS, EVALUATIONS].map((t) => `CREATE TEMP TABLE IF NOT EXISTS ${t.staging} (LIKE ${t.name}) ON COMMIT DELETE ROWS;`).join('\n');

async function copyTable(s: WriteSession, table: Table, parts: EncodedRows[], safe: boolean): Promise<void> {
  parts = parts.filter((p) => p.rows > 0);
  if (parts.length === 0) return;
  const stream = copyStream(parts);
  if (!safe) return s.copy(table, table.name, stream);
  if (!s.staged) {
    await s.exec(STAGING_DDL);
    s.staged = true;
  }
  await s.copy(table, table.staging, stream);
  const cols = table.columns.join(', ');
  await s.exec(`INSERT INTO ${table.name} (${cols}) SELECT ${cols} FROM ${table.staging} ON CONFLICT (${table.key.join(', ')}) DO NOTHING`);
}

/** The body of the write transaction (BEGIN and COMMIT are the caller's). */
export async function writeRows(s: WriteSession, batches: readonly Batch[], safe: boolean): Promise<void> {
  await copyTable(s, SPANS, batches.map((b) => b.spans), safe);
  await copyTable(s, LOGS, [encodeRows(LOGS, batches.flatMap((b) => b.logs))], safe);
  await copyTable(s, EVALUATIONS, [encodeRows(EVALUATIONS, batches.flatMap((b) => b.evaluations))], true);
}

/** After a conflict, how long to go straight to the safe path. */
export const SAFE_PATH_MS = 2000;
