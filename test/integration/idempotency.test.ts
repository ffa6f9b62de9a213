/**
 * Exporters retry, so every write is idempotent: a re-sent request, a
 * request re-sent over another transport or encoding, and duplicates sent
 * at the same moment all store each span, log record and verdict once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';
import { grpcCall, hexId, logsJson, logsProto, LOGS_PATH, postJson, postProto, str, traceJson, traceProto, TRACE_PATH } from '../helpers/otlp.ts';

const EVAL = 'gen_ai.evaluation.result';

function request(traceId: string, spans: number) {
  return traceJson(Array.from({ length: spans }, (_, i) => ({
    traceId, spanId: hexId(8, 100 + i), name: `op ${i}`, startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000',
    events: i === 0 ? [{ name: EVAL, timeUnixNano: '1767225600500000000', attributes: [str('gen_ai.evaluation.name', 'ok'), str('gen_ai.evaluation.score.label', 'pass')] }] : [],
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
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stores nothing twice when a trace request is re-sent over each transport and encoding', async () => {
    const traceId = hexId(16, 41);
    const json = request(traceId, 5);
    expect((await postJson(`${t.httpUrl}/v1/traces`, json)).status).toBe(200);
    expect(await counts(t, traceId)).toEqual({ spans: 5, evaluations: 1, logs: 0 });
    expect((await postJson(`${t.httpUrl}/v1/traces`, json)).status).toBe(200);
    const proto = traceProto({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'test-service' } }] }, scopeSpans: [{ scope: { name: 'test-scope', version: '1.0' }, spans: json.resourceSpans[0]!.scopeSpans[0]!.spans.map((s: any) => ({ ...s, traceId: Buffer.from(s.traceId, 'hex'), spanId: Buffer.from(s.spanId, 'hex') })) }] }] });
    expect((await postProto(`${t.httpUrl}/v1/traces`, proto)).status).toBe(200);
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, proto)).code).toBe(0);
    expect(await counts(t, traceId)).toEqual({ spans: 5, evaluations: 1, logs: 0 });
  });

  it('stores the new spans of a request that repeats some stored ones', async () => {
    const traceId = hexId(16, 42);
    expect((await postJson(`${t.httpUrl}/v1/traces`, request(traceId, 3))).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, request(traceId, 8))).status).toBe(200);
    expect(await counts(t, traceId)).toEqual({ spans: 8, evaluations: 1, logs: 0 });
  });

  it('stores a log record and an evaluation record once when re-sent', async () => {
    const traceId = hexId(16, 43);
    const records = [
      { timeUnixNano: '1767225600000000000', traceId, spanId: hexId(8, 1), body: { stringValue: 'line' }, attributes: [str('a', 'b')] },
      { eventName: EVAL, timeUnixNano: '1767225600000000001', traceId, spanId: hexId(8, 1), attributes: [str('gen_ai.evaluation.name', 'Relevance'), str('gen_ai.evaluation.score.label', 'relevant')] },
    ];
    for (let i = 0; i < 3; i++) expect((await postJson(`${t.httpUrl}/v1/logs`, logsJson(records))).status).toBe(200);
    const proto = logsProto({ resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'test-service' } }] }, scopeLogs: [{ scope: { name: 'test-scope' }, logRecords: records.map((r) => ({ ...r, traceId: Buffer.from(traceId, 'hex'), spanId: Buffer.from(hexId(8, 1), 'hex') })) }] }] });
    expect((await grpcCall(t.grpcAddress, LOGS_PATH, proto)).code).toBe(0);
    expect(await counts(t, traceId)).toEqual({ spans: 0, evaluations: 1, logs: 1 });
  });

  it('stores duplicates sent at the same moment once', async () => {
    const traceId = hexId(16, 44);
    const body = request(traceId, 20);
    const results = await Promise.all(Array.from({ length: 8 }, () => postJson(`${t.httpUrl}/v1/traces`, body)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await counts(t, traceId)).toEqual({ spans: 20, evaluations: 1, logs: 0 });
  });

  it('stores a span repeated within one request once', async () => {
    const traceId = hexId(16, 45);
    const s = { traceId, spanId: hexId(8, 1), name: 'dup', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' };
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([s, s, { ...s, name: 'dup again' }]))).status).toBe(200);
    expect(await counts(t, traceId)).toEqual({ spans: 1, evaluations: 0, logs: 0 });
  });
});
