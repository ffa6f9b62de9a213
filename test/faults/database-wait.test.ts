/**
 * Fault: PostgreSQL comes up after the receiver. Verdict listens at once and
 * waits for the database (--database-wait), logging each attempt with its
 * cause; meanwhile /readyz answers 503 with why, and exports get the
 * retryable answer (HTTP 503 with Retry-After, gRPC UNAVAILABLE with
 * RetryInfo), so nothing is acknowledged that is not stored. Once the
 * server is up it migrates, says it is ready, and stores what is sent.
 * A throwaway cluster, stopped before the receiver starts and started
 * while it waits.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { grpcCall, hexId, postJson, traceJson, traceProto, TRACE_PATH } from '../helpers/otlp.ts';
import { spawnVerdict, type VerdictProcess } from '../helpers/process.ts';
import { freePort } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';

const body = (seed: number) => traceJson([{ traceId: hexId(16, seed), spanId: hexId(8, 1), name: 'op', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]);
/** Retries the receiver logs before the test starts PostgreSQL: the first four come within about 4 s (backoff 0.25, 0.5, 1, 2 s). */
const ATTEMPTS_BEFORE_START = 4;

describe('PostgreSQL that comes up after the receiver', () => {
  let cluster: Cluster;
  let v: VerdictProcess | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    v?.proc.kill('SIGKILL');
    await cluster?.destroy();
  });

  it('is waited for: /readyz 503 with the reason and exports answered "retry" meanwhile, then ready, and what is sent is stored', { timeout: 90_000 }, async () => {
    const url = await cluster.createDatabase('verdict_wait');
    await cluster.stop();
    const [http, grpc] = [await freePort(), await freePort()];
    v = spawnVerdict(['--database-url', url, '--http-port', String(http), '--grpc-port', String(grpc), '--host', '127.0.0.1']);
    const where = `127.0.0.1:${cluster.port}/verdict_wait`;

    const first = await v.waitFor((l) => l.attempt === 1);
    expect(first).toMatchObject({ level: 40, database: where, err: expect.stringMatching(/ECONNREFUSED/) });
    const ready = await fetch(`http://127.0.0.1:${http}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not ready', reason: expect.stringMatching(new RegExp(`^waiting for PostgreSQL at ${where}: connect ECONNREFUSED`)) });
    const refused = await postJson(`http://127.0.0.1:${http}/v1/traces`, body(1));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    const g = await grpcCall(`127.0.0.1:${grpc}`, TRACE_PATH, traceProto({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(hexId(16, 2), 'hex'), spanId: Buffer.from(hexId(8, 1), 'hex'), name: 'op' }] }] }] }));
    expect(g.code).toBe(14); // UNAVAILABLE
    expect(g.metadata?.get('grpc-status-details-bin')).toHaveLength(1); // RetryInfo

    // Several attempts, further apart each time, each logged with its cause.
    await v.waitFor((l) => l.attempt === ATTEMPTS_BEFORE_START, 30_000);
    const attempts = v.lines.filter((l) => typeof l.attempt === 'number');
    expect(attempts.map((l) => l.retryInMs)).toEqual([250, 500, 1000, 2000]);
    expect(attempts.every((l) => /^cannot reach PostgreSQL at .+ \(connect ECONNREFUSED .+\); attempt \d, next in [\d.]+s, waiting up to [\d.]+s more \(--database-wait\)$/.test(l.msg))).toBe(true);

    await cluster.start();
    const up = await v.waitFor((l) => String(l.msg).startsWith('verdict ready'), 30_000);
    expect(up.database).toBe('postgres');
    expect(v.lines.some((l) => l.msg === `PostgreSQL at ${where} is reachable`)).toBe(true);
    await waitUntil('/readyz 200', async () => (await fetch(`http://127.0.0.1:${http}/readyz`)).status === 200);
    expect((await postJson(`http://127.0.0.1:${http}/v1/traces`, body(3))).status).toBe(200);

    // Stored: what was acknowledged, and nothing answered "retry".
    const c = new pg.Client(url);
    await c.connect();
    const rows = await c.query(`SELECT trace_id FROM verdict.spans`);
    await c.end();
    expect(rows.rows).toEqual([{ trace_id: hexId(16, 3) }]);
    v.proc.kill('SIGTERM');
    expect(await v.exited).toBe(0);
    expect(v.stderr()).toBe('');
  });
});
