/**
 * Bad input gets the answer OTLP prescribes, in the protocol's own terms,
 * and loses nothing else: invalid items are counted in partial_success while
 * the rest of the request is stored, and undecodable requests store nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcStatus } from '../../src/otlp/proto.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';
import { grpcCall, gzip, hexId, logsJson, METRICS_PATH, post, postJson, postProto, traceJson, traceProto, TRACE_PATH } from '../helpers/otlp.ts';

const span = (traceId: string, spanId: string, extra: object = {}) => ({ traceId, spanId, name: 'op', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000', ...extra });
const count = async (t: TestServer, where: string) => (await t.query<{ n: number }>(`SELECT count(*)::int AS n FROM verdict.spans WHERE ${where}`))[0]!.n;

describe.each(BACKENDS)('bad input on %s', (backend) => {
  let t: TestServer;
  let small: TestServer;
  beforeAll(async () => {
    [t, small] = await Promise.all([startTestServer(backend), startTestServer(backend, { maxBodyBytes: 4096 })]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), small?.close()]);
  });

  it('rejects spans with invalid IDs in partial_success and stores the valid ones (protobuf)', async () => {
    const good = hexId(16, 31);
    const bytes = traceProto({ resourceSpans: [{ scopeSpans: [{ spans: [
      { traceId: Buffer.alloc(5, 1), spanId: Buffer.from(hexId(8, 1), 'hex'), name: 'short trace id' },
      { traceId: Buffer.alloc(16), spanId: Buffer.from(hexId(8, 2), 'hex'), name: 'zero trace id' },
      { traceId: Buffer.from(hexId(16, 3), 'hex'), spanId: Buffer.alloc(8), name: 'zero span id' },
      { traceId: Buffer.from(hexId(16, 4), 'hex'), spanId: Buffer.from(hexId(8, 4), 'hex'), parentSpanId: Buffer.alloc(3, 1), name: 'bad parent' },
      { traceId: Buffer.from(hexId(16, 5), 'hex'), spanId: Buffer.from(hexId(8, 5), 'hex'), startTimeUnixNano: '18446744073709551615', name: 'time beyond int64' },
      { traceId: Buffer.from(good, 'hex'), spanId: Buffer.from(hexId(8, 6), 'hex'), name: 'good', startTimeUnixNano: '0', endTimeUnixNano: '0' },
    ] }] }] });
    const res = await postProto(`${t.httpUrl}/v1/traces`, bytes);
    expect(res.status).toBe(200);
    const { TraceResponse } = await import('../../src/otlp/proto.ts');
    const decoded = TraceResponse.toObject(TraceResponse.decode(res.body), { longs: String }) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(decoded.partialSuccess.rejectedSpans).toBe('5');
    for (const reason of ['trace_id must be 16 bytes, got 5', 'trace_id must not be all zeros', 'span_id must not be all zeros', 'parent_span_id must be 8 bytes, got 3', 'start_time_unix_nano 18446744073709551615 is past the year 2262']) {
      expect(decoded.partialSuccess.errorMessage).toContain(reason);
    }
    expect(await count(t, `trace_id = '${good}'`)).toBe(1);
  });

  it('rejects garbled JSON IDs and too-deep values per span, storing the rest', async () => {
    const good = hexId(16, 32);
    let deep: object = { stringValue: 'bottom' };
    for (let i = 0; i < 100; i++) deep = { arrayValue: { values: [deep] } };
    const res = await postJson(`${t.httpUrl}/v1/traces`, traceJson([
      span('not-hex-not-base64!', hexId(8, 1)),
      span(hexId(16, 33), hexId(8, 2), { attributes: [{ key: 'deep', value: deep }] }),
      span(good, hexId(8, 3)),
    ]));
    expect(res.status).toBe(200);
    const { partialSuccess } = res.json();
    expect(partialSuccess.rejectedSpans).toBe('2');
    expect(partialSuccess.errorMessage).toContain('trace_id "not-hex-not-base64!" is neither hex nor base64');
    expect(partialSuccess.errorMessage).toContain('value nests deeper than 64 levels');
    expect(await count(t, `trace_id IN ('${good}', '${hexId(16, 33)}')`)).toBe(1);
  });

  it('rejects a log record with a malformed trace ID and stores the others', async () => {
    const res = await postJson(`${t.httpUrl}/v1/logs`, logsJson([
      { traceId: 'abcd', body: { stringValue: 'bad id' } },
      { body: { stringValue: 'kept: bad-input test' } },
    ]));
    expect(res.json().partialSuccess).toEqual({ rejectedLogRecords: '1', errorMessage: 'rejected 1 log record: log record: trace_id must be 16 bytes, got 2' });
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.logs WHERE body = '"kept: bad-input test"'`)).toEqual([{ n: 1 }]);
  });

  it('answers 400 with a google.rpc.Status in protobuf for an undecodable protobuf body', async () => {
    const before = await count(t, 'true');
    const res = await postProto(`${t.httpUrl}/v1/traces`, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const status = RpcStatus.decode(res.body) as unknown as { code: number; message: string };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^request body is not a valid ExportTraceServiceRequest in protobuf: /);
    expect(await count(t, 'true')).toBe(before);
  });

  it('answers 400 with a JSON Status naming the problem for bad JSON', async () => {
    const syntax = await postJson(`${t.httpUrl}/v1/traces`, '{"resourceSpans": [');
    expect(syntax.status).toBe(400);
    expect(syntax.json().message).toMatch(/^request body is not valid JSON/);
    const wrongType = await postJson(`${t.httpUrl}/v1/traces`, { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: hexId(16, 34), spanId: hexId(8, 1), name: 5 }] }] }] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json()).toEqual({
      code: 3,
      message: 'resourceSpans[0].scopeSpans[0].spans[0].name: expected a string, got number 5',
      details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'resourceSpans[0].scopeSpans[0].spans[0].name', description: 'expected a string, got number 5' }] }],
    });
    const notObject = await postJson(`${t.httpUrl}/v1/logs`, '1234');
    expect(notObject.status).toBe(400);
    expect(await count(t, `trace_id = '${hexId(16, 34)}'`)).toBe(0);
  });

  it('answers 415 for other content types, 405 for other methods, 404 on / and on /v1/metrics', async () => {
    const text = await post(`${t.httpUrl}/v1/traces`, 'hello', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.json().message).toContain('supported: application/x-protobuf, application/json');
    expect((await post(`${t.httpUrl}/v1/logs`, 'x', {})).status).toBe(415);
    const get = await post(`${t.httpUrl}/v1/traces`, '', {}, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const root = await postJson(`${t.httpUrl}/`, traceJson([]));
    expect(root.status).toBe(404);
    expect(root.json().message).toContain('/v1/traces');
    expect(root.json().message).toContain('/v1/logs');
    const metrics = await postJson(`${t.httpUrl}/v1/metrics`, {});
    expect(metrics.status).toBe(404);
    expect(metrics.json().message).toContain('not metrics');
    const grpcMetrics = await grpcCall(t.grpcAddress, METRICS_PATH, new Uint8Array(0));
    expect(grpcMetrics.code).toBe(12); // UNIMPLEMENTED
    expect(grpcMetrics.details).toContain('not metrics');
  });

  it('accepts media types in any case with parameters', async () => {
    const traceId = hexId(16, 35);
    const res = await post(`${t.httpUrl}/v1/traces`, JSON.stringify(traceJson([span(traceId, hexId(8, 1))])), { 'content-type': 'Application/JSON; charset=utf-8' });
    expect(res.status).toBe(200);
    expect(await count(t, `trace_id = '${traceId}'`)).toBe(1);
  });

  it('accepts gzip bodies and refuses corrupt or truncated ones with 400, unknown encodings with 415', async () => {
    const traceId = hexId(16, 36);
    const body = JSON.stringify(traceJson([span(traceId, hexId(8, 1))]));
    expect((await post(`${t.httpUrl}/v1/traces`, gzip(body), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status).toBe(200);
    expect(await count(t, `trace_id = '${traceId}'`)).toBe(1);
    const plain = await post(`${t.httpUrl}/v1/traces`, body, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(plain.status).toBe(400);
    expect(plain.json().message).toMatch(/^gzip: invalid compressed body/);
    const truncated = await post(`${t.httpUrl}/v1/traces`, gzip(body).subarray(0, 20), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(truncated.status).toBe(400);
    expect((RpcStatus.decode(truncated.body) as unknown as { message: string }).message).toMatch(/^gzip: invalid compressed body/);
    expect((await post(`${t.httpUrl}/v1/traces`, body, { 'content-type': 'application/json', 'content-encoding': 'br' })).status).toBe(415);
  });

  it('answers 413 for a body over the limit, measured after decompression too (gzip bomb)', async () => {
    const atLimit = JSON.stringify(traceJson([span(hexId(16, 37), hexId(8, 1))]));
    expect((await postJson(`${small.httpUrl}/v1/traces`, atLimit.padEnd(4096, ' '))).status).toBe(200);
    const over = await postJson(`${small.httpUrl}/v1/traces`, atLimit.padEnd(4097, ' '));
    expect(over.status).toBe(413);
    expect(over.json().message).toContain('larger than the limit of 4096 bytes');
    const bomb = gzip(Buffer.alloc(3 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(4096);
    const res = await post(`${small.httpUrl}/v1/traces`, bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.json().message).toContain('after decompression');
  });

  it('answers gRPC INVALID_ARGUMENT for undecodable protobuf and RESOURCE_EXHAUSTED over the size limit', async () => {
    const bad = await grpcCall(t.grpcAddress, TRACE_PATH, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(bad.code).toBe(3);
    expect(bad.details).toMatch(/not a valid ExportTraceServiceRequest in protobuf/);
    const big = traceProto(traceJsonProto(hexId(16, 38), 'x'.repeat(8000)));
    const tooBig = await grpcCall(small.grpcAddress, TRACE_PATH, big);
    expect(tooBig.code).toBe(8);
    // gzip does not get around the limit: it applies after decompression.
    const tooBigGzip = await grpcCall(small.grpcAddress, TRACE_PATH, big, { gzip: true });
    expect(tooBigGzip.code).toBe(8);
    expect(await count(t, `trace_id = '${hexId(16, 38)}'`) + (await count(small, `trace_id = '${hexId(16, 38)}'`))).toBe(0);
  });
});

function traceJsonProto(traceId: string, name: string) {
  return { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(traceId, 'hex'), spanId: Buffer.from(hexId(8, 1), 'hex'), name }] }] }] };
}

