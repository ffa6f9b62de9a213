/**
 * Nesting and compression bombs get their protocol's own error naming the
 * limit, on both databases, and the receiver goes on answering. (How long the
 * event loop stalls and what happens to RSS meanwhile is measured in a
 * process of its own: test/faults/hostile.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { bracketBomb, protobufNestingBomb } from '../helpers/bombs.ts';
import { grpcFrame, RawGrpc } from '../helpers/fuzz.ts';
import { RpcStatus } from '../../src/otlp/proto.ts';
import { hexId, post, postJson, postProto, TRACE_PATH, traceJson } from '../helpers/otlp.ts';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

describe.each(BACKENDS)('hostile bodies on %s', (backend) => {
  const t = serverForSuite(backend);
  const grpc: RawGrpc[] = [];
  afterAll(() => grpc.forEach((g) => g.close()));
  let seed = 1;
  const stillAnswers = async () => {
    const r = await postJson(`${t.httpUrl}/v1/traces`, traceJson([{ traceId: hexId(16, seed++), spanId: hexId(8, 1), name: 'after', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]));
    expect(r.status).toBe(200);
  };

  it('a gzip bracket bomb (30 M `[` then `]`, 60 MB inflated) on /v1/traces and /v1/logs: 413 naming the ratio limit', async () => {
    const bomb = bracketBomb('[', ']', 30_000_000);
    expect(bomb.length).toBeLessThan(200_000);
    for (const path of ['/v1/traces', '/v1/logs']) {
      const r = await post(`${t.httpUrl}${path}`, bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      expect(r.status).toBe(413);
      expect(r.json().message).toMatch(/^gzip body expands more than 200 times its \d+ bytes \(the decompression ratio limit\)$/);
    }
    await stillAnswers();
  });

  it('a body that compresses 70× is inflated in full: the ratio limit leaves ordinary batches alone', async () => {
    // 200 spans repeating a long prompt: about 1 MB of JSON that gzip shrinks some 70×.
    const spans = Array.from({ length: 200 }, (_, i) => ({ traceId: hexId(16, 5000 + i), spanId: hexId(8, 1), name: 'op', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000', attributes: [{ key: 'gen_ai.prompt', value: { stringValue: randomBytes(50).toString('hex') + 'x'.repeat(5_000) } }] }));
    const json = Buffer.from(JSON.stringify(traceJson(spans)));
    const gz = zlib.gzipSync(json);
    expect(json.length / gz.length).toBeGreaterThan(50);
    expect(json.length / gz.length).toBeLessThan(200);
    expect(json.length).toBeGreaterThan(1024 * 1024);
    const r = await post(`${t.httpUrl}/v1/traces`, gz, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
  });

  it('nesting bombs within the ratio: 400 naming the depth limit, arrays and objects alike, on /v1/traces and /v1/logs', async () => {
    const arrays = Buffer.concat([Buffer.alloc(8_000_000, '['), Buffer.alloc(8_000_000, ']')]);
    const r = await post(`${t.httpUrl}/v1/traces`, arrays, { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(r.json().message).toBe('request body nests JSON arrays and objects deeper than 4096 levels (the JSON depth limit)');
    const objects = Buffer.from('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000));
    const logs = await post(`${t.httpUrl}/v1/logs`, objects, { 'content-type': 'application/json' });
    expect(logs.status).toBe(400);
    expect(logs.json().message).toBe('request body nests JSON arrays and objects deeper than 4096 levels (the JSON depth limit)');
    // Brackets inside strings are text, not nesting.
    const quoted = JSON.stringify(traceJson([{ traceId: hexId(16, 7000), spanId: hexId(8, 1), name: '['.repeat(10_000), startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]));
    expect((await post(`${t.httpUrl}/v1/traces`, quoted, { 'content-type': 'application/json' })).status).toBe(200);
    await stillAnswers();
  });

  it('a flat bomb of many small values: 413 naming the value limit', async () => {
    const body = Buffer.from(`{"resourceSpans":[${'[],'.repeat(5_000_000)}[]]}`);
    const r = await post(`${t.httpUrl}/v1/traces`, body, { 'content-type': 'application/json' });
    expect(r.status).toBe(413);
    expect(r.json().message).toMatch(/^request body holds more than \d+ JSON values \(the JSON value limit\); send smaller batches$/);
  });

  it('/v1/feedback: a gzip bomb (10 M levels) gets 413, an identity one 400 naming its depth limit', async () => {
    const gz = await post(`${t.httpUrl}/v1/feedback`, bracketBomb('[', ']', 10_000_000), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(gz.status).toBe(413);
    expect(gz.json().message).toContain('(the decompression ratio limit)');
    const plain = await post(`${t.httpUrl}/v1/feedback`, Buffer.concat([Buffer.alloc(2_000_000, '['), Buffer.alloc(2_000_000, ']')]), { 'content-type': 'application/json' });
    expect(plain.status).toBe(400);
    expect(plain.json().message).toBe('request body nests JSON arrays and objects deeper than 64 levels (the JSON depth limit)');
    await stillAnswers();
  });

  it('protobuf nesting to the 4096th level decodes; one level more is 400 naming the depth limit', async () => {
    // Too small for the decode budget's scan: protobufjs's own limit answers, in the same words.
    const within = await postProto(`${t.httpUrl}/v1/traces`, protobufNestingBomb(4091));
    expect(within.status).toBe(200);
    const past = await postProto(`${t.httpUrl}/v1/traces`, protobufNestingBomb(4092));
    expect(past.status).toBe(400);
    expect((RpcStatus.toObject(RpcStatus.decode(past.body)) as { message: string }).message).toBe('request body nests messages deeper than 4096 levels (the protobuf depth limit)');
    await stillAnswers();
  });

  it('gRPC: a gzip-compressed protobuf nesting bomb gets INVALID_ARGUMENT naming the depth limit', async () => {
    const message = protobufNestingBomb(3_000_000);
    const g = new RawGrpc(t.grpcAddress);
    grpc.push(g);
    const a = await g.call(TRACE_PATH, grpcFrame(zlib.gzipSync(message), true), { 'grpc-encoding': 'gzip' });
    expect(a.status).toBe(3); // INVALID_ARGUMENT
    expect(a.message).toBe('request body nests messages deeper than 4096 levels (the protobuf depth limit)');
    await stillAnswers();
  });
});
