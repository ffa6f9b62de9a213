/**
 * Exporters retry, so every write is idempotent: a re-sent request, a
 * request re-sent over another transport or encoding, and duplicates sent
 * at the same moment all store each span, log record and verdict once.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite, type TestServer } from '../helpers/server.ts';
import { grpcCall, LOGS_PATH, postJson, postProto, TRACE_PATH } from '../helpers/otlp.ts';
import { hexId, logs, T0, traces } from '../helpers/fixtures.ts';

const EVAL = 'gen_ai.evaluation.result';

function request(traceId: string, spans: number) {
  return traces(Array.from({ length: spans }, (_, i) => ({
    traceId, spanId: hexId(8, 100 + i), name: `op ${i}`,
    events: i === 0 ? [{ name: EVAL, time: 1767225600500000000n, attributes: { 'gen_ai.evaluation.name': 'ok', 'gen_ai.evaluation.score.label': 'pass' } }] : [],
  })));
}

async function counts(t: TestServer, traceId: string) {
  const [r] = await t.query<{ spans: number; evaluations: number; logs: number }>(
    `SELECT (SELECT count(*)::int FROM verdict.spans WHERE trace_id = '${traceId}') AS spans,
            (SELECT count(*)::int FROM verdict.evaluations WHERE trace_id = '${traceId}') AS evaluations,
            (SELECT count(*)::int FROM verdict.logs WHERE trace_id = '${traceId}') AS logs`,
  );
  return r!;
}

describe.each(BACKENDS)('idempotent writes on %s', (backend) => {
  const t = serverForSuite(backend);

  it('stores nothing twice when a trace request is re-sent over each transport and encoding', async () => {
    const traceId = hexId(16, 41);
    const req = request(traceId, 5);
    expect((await postJson(`${t.httpUrl}/v1/traces`, req.json())).status).toBe(200);
    expect(await counts(t, traceId)).toEqual({ spans: 5, evaluations: 1, logs: 0 });
    expect((await postJson(`${t.httpUrl}/v1/traces`, req.json())).status).toBe(200);
    const proto = req.proto();
    expect((await postProto(`${t.httpUrl}/v1/traces`, proto)).status).toBe(200);
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, proto)).code).toBe(0);
    expect(await counts(t, traceId)).toEqual({ spans: 5, evaluations: 1, logs: 0 });
  });

  it('stores the new spans of a request that repeats some stored ones', async () => {
    const traceId = hexId(16, 42);
    expect((await postJson(`${t.httpUrl}/v1/traces`, request(traceId, 3).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, request(traceId, 8).json())).status).toBe(200);
    expect(await counts(t, traceId)).toEqual({ spans: 8, evaluations: 1, logs: 0 });
  });

  it('stores a log record and an evaluation record once when re-sent', async () => {
    const traceId = hexId(16, 43);
    const req = logs([
      { time: T0, traceId, spanId: hexId(8, 1), body: 'line', attributes: { a: 'b' } },
      { eventName: EVAL, time: T0 + 1n, traceId, spanId: hexId(8, 1), attributes: { 'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.label': 'relevant' } },
    ]);
    for (let i = 0; i < 3; i++) expect((await postJson(`${t.httpUrl}/v1/logs`, req.json())).status).toBe(200);
    expect((await grpcCall(t.grpcAddress, LOGS_PATH, req.proto())).code).toBe(0);
    expect(await counts(t, traceId)).toEqual({ spans: 0, evaluations: 1, logs: 1 });
  });

  it('stores duplicates sent at the same moment once', async () => {
    const traceId = hexId(16, 44);
    const body = request(traceId, 20).json();
    const results = await Promise.all(Array.from({ length: 8 }, () => postJson(`${t.httpUrl}/v1/traces`, body)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await counts(t, traceId)).toEqual({ spans: 20, evaluations: 1, logs: 0 });
  });

  it('stores a span repeated within one request once', async () => {
    const traceId = hexId(16, 45);
    const s = { traceId, spanId: hexId(8, 1), name: 'dup' };
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([s, s, { ...s, name: 'dup again' }]).json())).status).toBe(200);
    expect(await counts(t, traceId)).toEqual({ spans: 1, evaluations: 0, logs: 0 });
  });
});
