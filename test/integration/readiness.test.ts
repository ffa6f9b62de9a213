/**
 * /readyz answers from state that the store keeps (store/readiness.ts), not
 * with a query per call: a flood of /readyz sends nothing to the database.
 * The state follows writes at once, and a probe while idle notices the
 * database going away and coming back. PostgreSQL behind a TCP proxy that
 * counts what the receiver sends, and that the test can cut.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';
import { hexId, postJson, traceJson } from '../helpers/otlp.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { TcpProxy, viaProxy } from '../helpers/proxy.ts';
import { baseConfig } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';

const body = (seed: number) => traceJson([{ traceId: hexId(16, seed), spanId: hexId(8, 1), name: 'op', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]);

async function readyz(http: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const res = await fetch(`${http}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

describe('readiness as state', () => {
  let database: TestDatabase;
  const proxies: TcpProxy[] = [];
  const servers: RunningServer[] = [];
  beforeAll(async () => {
    database = await createDatabase();
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const p of proxies) await p.close();
    await database?.drop();
  });

  async function start(probeMs: number): Promise<{ http: string; proxy: TcpProxy }> {
    const u = new URL(database.url);
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    await proxy.listen();
    proxies.push(proxy);
    const server = await startServer(baseConfig({ databaseUrl: viaProxy(database.url, proxy), writeTimeoutMs: 2000 }), silentLogger, { readinessProbeMs: probeMs });
    servers.push(server);
    return { http: `http://127.0.0.1:${server.http.port}`, proxy };
  }

  it('answers a flood of /readyz without a query, and follows each write at once', async () => {
    // A probe interval longer than the test: anything sent to the database comes from the requests.
    const { http, proxy } = await start(600_000);
    expect(await readyz(http)).toEqual({ status: 200, body: { status: 'ready' } });

    const before = proxy.bytesToServer;
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => readyz(http)));
      expect(answers.every((a) => a.status === 200)).toBe(true);
    }
    expect(proxy.bytesToServer - before).toBe(0);
    // The count is real: one export does reach the database through the proxy.
    expect((await postJson(`${http}/v1/traces`, body(1))).status).toBe(200);
    expect(proxy.bytesToServer).toBeGreaterThan(before);

    // A write the database fails turns readiness off at once, with the reason; the next that commits, on.
    await proxy.cut();
    expect((await postJson(`${http}/v1/traces`, body(2))).status).toBe(503);
    const down = await readyz(http);
    expect(down.status).toBe(503);
    expect(down.body.reason).toMatch(/^database not ready: the database cannot take the rows now/);
    await proxy.restore();
    expect((await postJson(`${http}/v1/traces`, body(3))).status).toBe(200);
    expect((await readyz(http)).status).toBe(200);
  });

  it('while idle, a probe notices the database going away and coming back', async () => {
    const { http, proxy } = await start(200);
    expect((await readyz(http)).status).toBe(200);
    await proxy.cut();
    const down = await waitUntil('/readyz to answer 503 after the database went away', async () => {
      const r = await readyz(http);
      return r.status === 503 ? r : null;
    });
    expect(down.body.reason).toMatch(/^database not ready/);
    await proxy.restore();
    await waitUntil('/readyz to answer 200 once the database is back', async () => (await readyz(http)).status === 200);
  });
});
