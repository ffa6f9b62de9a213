/**
 * When the database cannot take the rows, the receiver never answers
 * success: it answers retryable (HTTP 503 + Retry-After, gRPC UNAVAILABLE),
 * and recovers by itself when the database is back.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { TcpProxy, viaProxy } from '../helpers/proxy.ts';
import { grpcCall, postJson, TRACE_PATH } from '../helpers/otlp.ts';
import { hexId, traces } from '../helpers/fixtures.ts';
import { baseConfig } from '../helpers/server.ts';
import { startServer, type RunningServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';

const request = (traceId: string) => traces([{ traceId, spanId: hexId(8, 1) }]);
const body = (traceId: string) => request(traceId).json();

describe('postgres unreachable', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: RunningServer;
  let http: string;
  beforeAll(async () => {
    database = await createDatabase();
    const u = new URL(database.url);
    proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.listen();
    server = await startServer(baseConfig({ databaseUrl: viaProxy(database.url, proxy), writeTimeoutMs: 2000 }), silentLogger);
    http = `http://127.0.0.1:${server.http.port}`;
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('answers 503 with Retry-After and gRPC UNAVAILABLE while the database is gone, then recovers', async () => {
    expect((await postJson(`${http}/v1/traces`, body(hexId(16, 51)))).status).toBe(200);
    await proxy.cut();
    const started = Date.now();
    const res = await postJson(`${http}/v1/traces`, body(hexId(16, 52)));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.json()).toMatchObject({ code: 14, message: expect.stringContaining('the database cannot take the rows now') });
    expect(Date.now() - started).toBeLessThan(5000); // promptly, not after a client timeout
    const g = await grpcCall(server.grpcAddresses[0]!, TRACE_PATH, request(hexId(16, 53)).proto());
    expect(g.code).toBe(14);
    expect(g.metadata?.get('grpc-status-details-bin')).toHaveLength(1); // RetryInfo
    expect((await fetch(`${http}/readyz`)).status).toBe(503);

    await proxy.restore();
    const after = await postJson(`${http}/v1/traces`, body(hexId(16, 54)));
    expect(after.status).toBe(200);
    const c = new pg.Client(database.url);
    await c.connect();
    const r = await c.query(`SELECT trace_id FROM verdict.spans ORDER BY trace_id`);
    await c.end();
    // Nothing answered 503 was stored; everything answered 200 was.
    expect(r.rows.map((x) => x.trace_id)).toEqual([hexId(16, 51), hexId(16, 54)].sort());
  });
});

describe('embedded database held by a client transaction', () => {
  let t: TestServer;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    t = await startTestServer('pglite', { pgPort: port, writeTimeoutMs: 500 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 503 instead of writing inside a psql session\'s open transaction, and recovers when it ends', async () => {
    const client = new pg.Client(t.server.store.pgUrl!);
    await client.connect();
    await client.query('BEGIN');
    await client.query('SELECT count(*) FROM verdict.spans');
    const res = await postJson(`${t.httpUrl}/v1/traces`, body(hexId(16, 55)));
    expect(res.status).toBe(503);
    expect(res.json().message).toContain('held by a client transaction');
    await client.query('ROLLBACK');
    expect((await postJson(`${t.httpUrl}/v1/traces`, body(hexId(16, 56)))).status).toBe(200);
    const rows = await client.query(`SELECT trace_id FROM verdict.spans`);
    await client.end();
    expect(rows.rows).toEqual([{ trace_id: hexId(16, 56) }]);
  });
});
