/**
 * Several stateless receivers in front of one PostgreSQL (docs/scaling.md):
 * they migrate concurrently at start, and exporters' retries that land on
 * either of them (overlapping, at the same moment) store nothing twice and
 * lose nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';
import { ALL_WRITES } from '../../src/store/write-plan.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { baseConfig } from '../helpers/server.ts';
import { grpcCall, postJson, TRACE_PATH, traceJson } from '../helpers/otlp.ts';
import { hexId, logs, T0, traces } from '../helpers/fixtures.ts';
import pg from 'pg';
import { checkStored, expectStoredOnce, installInsertCounter } from '../helpers/load.ts';

describe('two receivers, one database', () => {
  let db: TestDatabase;
  let a: RunningServer;
  let b: RunningServer;
  beforeAll(async () => {
    db = await createDatabase();
    // Started together: the migrations race, and the advisory lock must serialise them.
    const start = () => startServer(baseConfig({ databaseUrl: db.url }), silentLogger);
    [a, b] = await Promise.all([start(), start()]);
    await installInsertCounter(db.url);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.drop();
  });

  it('applied the migrations once', async () => {
    const c = new pg.Client(db.url);
    await c.connect();
    const r = await c.query('SELECT version, count(*)::int AS n FROM verdict.schema_migrations GROUP BY version ORDER BY version');
    await c.end();
    expect(r.rows.every((x) => x.n === 1)).toBe(true);
    expect(r.rows.length).toBeGreaterThanOrEqual(3);
  });

  it('stores each span, log record and verdict once when retries overlap across receivers', async () => {
    const http = [a, b].map((s) => `http://127.0.0.1:${s.http.port}`);
    const grpc = [a, b].map((s) => `127.0.0.1:${s.grpc.port}`);
    const requests = Array.from({ length: 40 }, (_, r) => {
      const traceId = hexId(16, 300 + r);
      return {
        spans: traces(Array.from({ length: 25 }, (_, i) => ({
          traceId, spanId: hexId(8, i + 1), name: `step ${i}`,
          events: i === 0 ? [{ name: 'gen_ai.evaluation.result', time: 1767225600500000000n, attributes: { 'gen_ai.evaluation.name': 'ok', 'gen_ai.evaluation.score.label': 'pass' } }] : [],
        }))),
        logs: logs([{ time: T0, traceId, spanId: hexId(8, 1), body: `log ${r}` }]).json(),
      };
    });
    // Each request goes to both receivers at once, over both transports, and is then retried on the other one.
    const sends = requests.flatMap((q, r) => {
      const [json, proto] = [q.spans.json(), q.spans.proto()];
      return [
        () => postJson(`${http[r % 2]}/v1/traces`, json).then((x) => x.status),
        () => grpcCall(grpc[(r + 1) % 2]!, TRACE_PATH, proto).then((x) => (x.code === 0 ? 200 : 500 + x.code)),
        () => postJson(`${http[(r + 1) % 2]}/v1/logs`, q.logs).then((x) => x.status),
        () => postJson(`${http[r % 2]}/v1/logs`, q.logs).then((x) => x.status),
      ];
    });
    const first = await Promise.all(sends.map((f) => f()));
    const retries = await Promise.all(sends.map((f) => f()));
    expect([...first, ...retries].every((s) => s === 200)).toBe(true);
    const c = new pg.Client(db.url);
    await c.connect();
    const count = async (q: string) => Number((await c.query(q)).rows[0].n);
    expect(await count('SELECT count(*) AS n FROM verdict.spans')).toBe(40 * 25);
    // Every span acknowledged is stored, inserted by exactly one committed statement, and counted once in its run's summary.
    const keys = requests.flatMap((_, r) => Array.from({ length: 25 }, (_, i) => [hexId(16, 300 + r), hexId(8, i + 1)] as const));
    const stored = await checkStored(db.url, { traceIds: keys.map((k) => k[0]), spanIds: keys.map((k) => k[1]) });
    expect(stored.acknowledged).toBe(1000);
    expectStoredOnce(stored);
    expect(stored.inserted).toBe(1000);
    expect(await count('SELECT count(*) AS n FROM verdict.logs')).toBe(40);
    expect(await count('SELECT count(*) AS n FROM verdict.evaluations')).toBe(40);
    await c.end();
  });

  it('waits for the advisory locks of the run and the response ID it writes, whatever the ID holds', async () => {
    // The keys travel in the text of the write's first statement: they must hash to what another writer's do.
    const traceId = `79${'0'.repeat(29)}1`;
    const responseId = `chatcmpl-it's "quoted" \\ {a,b} NULL`;
    const holder = new pg.Client(db.url);
    await holder.connect();
    const lock = (k: string) => holder.query('SELECT pg_advisory_lock(hashtextextended($1, $2))', [k, ALL_WRITES]);
    const unlock = (k: string) => holder.query('SELECT pg_advisory_unlock(hashtextextended($1, $2))', [k, ALL_WRITES]);
    try {
      await lock(`t:${traceId}`);
      await lock(`r:${responseId}`);
      const span = { traceId, spanId: hexId(8, 1), name: 'locked', kind: 3, startTimeUnixNano: String(T0), endTimeUnixNano: String(T0 + 1000n),
        attributes: [{ key: 'gen_ai.response.id', value: { stringValue: responseId } }] };
      const sent = postJson(`http://127.0.0.1:${a.http.port}/v1/traces`, traceJson([span]));
      const stored = async () => (await holder.query<{ n: number }>('SELECT count(*)::int AS n FROM verdict.span_rows WHERE trace_id = $1', [traceId])).rows[0]!.n;
      await new Promise((r) => setTimeout(r, 700));
      expect(await stored()).toBe(0);
      await unlock(`t:${traceId}`);
      await new Promise((r) => setTimeout(r, 700));
      expect(await stored()).toBe(0); // still waiting for the response ID's key
      await unlock(`r:${responseId}`);
      const res = await sent;
      expect([res.status, res.body.toString()]).toEqual([200, '{}']);
      expect(await stored()).toBe(1);
    } finally {
      await holder.end();
    }
  });

  it('stores a request of more runs than the lock table holds keys for: its write locks out all writes instead', async () => {
    // 16,000 runs: one advisory lock each would pass what a default lock table holds (64 × 100 connections, plus slack:
    // about 13,000 here), and the write would fail with "out of shared memory" however often it is retried.
    const spans = Array.from({ length: 16_000 }, (_, i) => ({ traceId: `77${(900_000 + i).toString(16).padStart(30, '0')}`, spanId: hexId(8, 1), name: 'wide' }));
    const small = [{ traceId: `78${'0'.repeat(29)}1`, spanId: hexId(8, 1), name: 'wide' }];
    const [wide, beside] = await Promise.all([
      postJson(`http://127.0.0.1:${a.http.port}/v1/traces`, traces(spans).json()),
      postJson(`http://127.0.0.1:${b.http.port}/v1/traces`, traces(small).json()),
    ]);
    expect([wide.status, wide.body.toString()]).toEqual([200, '{}']);
    expect([beside.status, beside.body.toString()]).toEqual([200, '{}']);
    const c = new pg.Client(db.url);
    await c.connect();
    const r = await c.query(`SELECT count(*)::int AS spans, count(DISTINCT trace_id)::int AS runs FROM verdict.span_rows WHERE name = 'wide'`);
    const t = await c.query(`SELECT count(*)::int AS runs, sum(span_count)::int AS spans FROM verdict.trace_summary WHERE trace_id = ANY ($1)`, [spans.map((sp) => sp.traceId)]);
    await c.end();
    expect(r.rows[0]).toEqual({ spans: 16_001, runs: 16_001 });
    expect(t.rows[0]).toEqual({ runs: 16_000, spans: 16_000 });
  });
});
