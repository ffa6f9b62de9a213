/**
 * The embedded database runs in a worker thread (src/store/pglite/worker-store.ts).
 * What must survive the thread boundary: transactions through Kysely (commit
 * and rollback), the SQLSTATE of an error (Verdict classifies by it), the
 * classification of a refused write, and a retryable answer once the thread
 * is gone.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.ts';
import { DataError } from '../../src/errors.ts';
import { PgliteWorkerStore } from '../../src/store/pglite/worker-store.ts';
import type { EvaluationRow } from '../../src/model/rows.ts';

const OPTIONS = { dataDir: 'memory://', pgPort: 0, host: '127.0.0.1', writeTimeoutMs: 5000 };

function verdict(id: string, time_unix_nano: bigint): EvaluationRow {
  return {
    id, trace_id: 'ab'.repeat(16), span_id: null, response_id: null, conversation_id: null, name: 'thread_test',
    score_value: 1, score_label: 'pass', explanation: null, error_type: null, time_unix_nano, channel: 'api',
    source: 'user', polarity: 'positive', service_name: null, attributes: '{}',
  };
}
const batchOf = (rows: EvaluationRow[]) => ({ spans: { rows: 0, chunks: [], bytes: 0 }, logs: [], evaluations: rows, turns: [], messages: [], contentless: [] });

describe('the embedded database in its worker thread', () => {
  let store: PgliteWorkerStore;
  beforeAll(async () => {
    store = await PgliteWorkerStore.open(OPTIONS);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
  });

  it('commits a Kysely transaction that succeeds and rolls back one that throws', async () => {
    await sql`CREATE TABLE thread_t (n int)`.execute(store.db);
    await store.db.transaction().execute(async (trx) => {
      await sql`INSERT INTO thread_t VALUES (1)`.execute(trx);
    });
    await expect(
      store.db.transaction().execute(async (trx) => {
        await sql`INSERT INTO thread_t VALUES (2)`.execute(trx);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const { rows } = await sql<{ n: number }>`SELECT n FROM thread_t ORDER BY n`.execute(store.db);
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('carries the SQLSTATE of a failed query across the thread', async () => {
    const err = await sql`SELECT 1/0`.execute(store.db).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('22012');
    expect((err as Error).message).toMatch(/division by zero/);
  });

  it('stores a write, and classifies a value the database refuses as the data\'s fault', async () => {
    await store.write([batchOf([verdict('thread-ok', 1_700_000_000_000_000_000n)])]);
    const { rows } = await sql<{ id: string }>`SELECT id FROM verdict.evaluations WHERE name = 'thread_test'`.execute(store.db);
    expect(rows).toEqual([{ id: 'thread-ok' }]);
    // Attributes that are not JSON: the database refuses the jsonb value (SQLSTATE 22P02), and retrying cannot help.
    const bad = await store.write([batchOf([{ ...verdict('thread-bad', 1_700_000_000_000_000_000n), attributes: '{not json' }])]).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(DataError);
    expect((bad as DataError).code).toMatch(/^22/);
  });

  it('answers retryable, and not ready, once the thread has stopped', async () => {
    const other = await PgliteWorkerStore.open(OPTIONS);
    await other.migrate();
    expect(await other.ready()).toEqual({ ok: true });
    await other.close();
    await expect(other.write([batchOf([verdict('after-close', 1_700_000_000_000_000_000n)])])).rejects.toBeInstanceOf(UnavailableError);
    expect((await other.ready()).ok).toBe(false);
  });
});
