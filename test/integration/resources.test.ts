/**
 * The writer remembers the resources it has stored and leaves them out of
 * later writes; it must remember only what a write committed. A write whose
 * transaction stored a resource and then rolled back (here: it timed out on
 * a table another session holds locked) leaves nothing remembered, so the
 * retry stores the resource and its spans show its attributes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexId, traces } from '../helpers/fixtures.ts';
import { postJson } from '../helpers/otlp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ENVELOPE = { resource: { 'service.name': 'resource-cache', 'deployment.environment.name': 'staging' }, scope: { name: 'test-scope' } };
const body = (traceId: string) => traces([{ traceId, spanId: hexId(8, 7) }], ENVELOPE).json();

describe('resources remembered as stored', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('postgres', { writeTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are stored again after a write that rolled back, and their spans show them', async () => {
    const locker = new pg.Client(t.config.databaseUrl!);
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE verdict.trace_summary IN EXCLUSIVE MODE');
      const refused = await postJson(`${t.httpUrl}/v1/traces`, body(hexId(16, 71)));
      expect(refused.status).toBe(503);
      await locker.query('ROLLBACK');
    } finally {
      await locker.end();
    }
    for (const seed of [72, 73]) expect((await postJson(`${t.httpUrl}/v1/traces`, body(hexId(16, seed)))).status).toBe(200);

    const rows = await t.query<{ trace_id: string; env: string | null }>(
      `SELECT trace_id, resource_attributes ->> 'deployment.environment.name' AS env FROM verdict.spans ORDER BY trace_id`,
    );
    expect(rows).toEqual([{ trace_id: hexId(16, 72), env: 'staging' }, { trace_id: hexId(16, 73), env: 'staging' }]);
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.resources WHERE attributes ->> 'service.name' = 'resource-cache'`)).toEqual([{ n: 1 }]);
  });
});
