/**
 * Slow clients against a receiver in a process of its own: bodies trickled
 * after a large first part, a slowloris trickling from the first byte, and
 * gRPC messages that never complete. Each gets its protocol's answer (408 or
 * 429 over HTTP, DEADLINE_EXCEEDED over gRPC), never a reset; the receiver's
 * RSS stays bounded while they are held and comes back within 50 MB of its
 * baseline after. Then shutdown: a slow client does not hold SIGTERM past the
 * drain deadline, and what is in flight at it gets 503 / UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rssMiB, sleep, startReceiver, type Receiver } from '../helpers/load.ts';
import { hexId, postJson, TRACE_PATH, traceJson } from '../helpers/otlp.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { partialGrpcMessage, slowHttpBody, type SlowClient } from '../helpers/slow.ts';

const MiB = 1024 * 1024;
/** RSS may rise this much over the baseline while the slow bodies are held (the receive limit is 96 MiB). */
const RSS_RISE_LIMIT_MIB = 250;
const RSS_RETURN_MIB = 50;
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' };

describe('slow clients against a receiver process', () => {
  let database: TestDatabase;
  const receivers: Receiver[] = [];
  const clients: SlowClient[] = [];
  let seed = 1;
  const bystander = (r: Receiver) =>
    postJson(`${r.http}/v1/traces`, traceJson([{ traceId: hexId(16, 500 + seed++), spanId: hexId(8, 1), name: 'bystander', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]));

  beforeAll(async () => {
    database = await createDatabase('verdict_slow');
  });
  afterAll(async () => {
    for (const c of clients) c.stop();
    for (const r of receivers) r.v.proc.kill('SIGKILL');
    await Promise.all(receivers.map((r) => r.v.exited));
    await database?.drop();
  });

  it('slow bodies get 408 (or 429 past the receive limit), partial gRPC messages DEADLINE_EXCEEDED; RSS bounded and back within 50 MB', { timeout: 90_000 }, async () => {
    // With the Docker image's malloc settings (docs/operations.md): freed chunks go back to the system.
    const r = await startReceiver(database.url, ['--receive-timeout', '8s', '--max-receiving-size', '96MiB'], { http: 0, grpc: 0 }, MALLOC_ENV);
    receivers.push(r);
    for (let i = 0; i < 10; i++) expect((await bystander(r)).status).toBe(200);
    await sleep(500);
    const baseline = rssMiB(r.pid)!;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(r.pid) ?? 0)), 50);
    const started = Date.now();
    // Twelve 59 MiB bodies that send 8 MiB and then a byte every 200 ms; four that trickle from the start; two gRPC messages stuck at 1 of 10 MiB.
    const big = Array.from({ length: 12 }, () => slowHttpBody(r.http, '/v1/traces', { contentLength: 59 * MiB, first: 8 * MiB, trickleMs: 200 }));
    const loris = Array.from({ length: 4 }, () => slowHttpBody(r.http, '/v1/logs', { contentLength: 1 * MiB, first: 10, trickleMs: 500 }));
    const grpc = Array.from({ length: 2 }, () => partialGrpcMessage(r.grpc, TRACE_PATH, 10 * MiB, 1 * MiB));
    clients.push(...big, ...loris, ...grpc);
    // Meanwhile other clients are served.
    let served = 0;
    while (Date.now() - started < 6000) {
      if ((await bystander(r)).status === 200) served++;
      await sleep(200);
    }
    const answers = await Promise.all([...big, ...loris, ...grpc].map((c) => c.answer));
    clearInterval(sampler);
    const bigAnswers = answers.slice(0, 12);
    const lorisAnswers = answers.slice(12, 16);
    const grpcAnswers = answers.slice(16);
    console.log(JSON.stringify({
      baselineMiB: Math.round(baseline), peakMiB: Math.round(peak), served,
      big: bigAnswers.map((a) => `${a.status ?? a.error} after ${((a.at - started) / 1000).toFixed(1)} s`),
      loris: lorisAnswers.map((a) => `${a.status ?? a.error} after ${((a.at - started) / 1000).toFixed(1)} s`),
      grpc: grpcAnswers.map((a) => `${a.status ?? a.error}: ${a.body}`),
    }));
    expect(served).toBeGreaterThan(0);
    for (const a of bigAnswers) expect([408, 429]).toContain(a.status);
    expect(bigAnswers.filter((a) => a.status === 408).length).toBeGreaterThan(0);
    expect(bigAnswers.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    expect(bigAnswers.find((a) => a.status === 408)!.body).toContain('(the receive timeout)');
    for (const a of lorisAnswers) {
      expect(a.status).toBe(408);
      expect(a.body).toContain('below the minimum receive rate of 4096 bytes/s');
      // Cut once the grace has passed, long before the receive timeout.
      expect(a.at - started).toBeLessThan(8000);
    }
    for (const a of grpcAnswers) expect([a.status, a.body]).toEqual([4, 'the request message did not arrive whole within 8000 ms (the receive timeout)']);
    expect(peak - baseline).toBeLessThan(RSS_RISE_LIMIT_MIB);
    let now = rssMiB(r.pid)!;
    for (let i = 0; i < 50 && now - baseline >= RSS_RETURN_MIB; i++) {
      await bystander(r);
      await sleep(200);
      now = rssMiB(r.pid)!;
    }
    console.log(`RSS baseline ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, after ${now.toFixed(0)} MiB`);
    expect(now - baseline).toBeLessThan(RSS_RETURN_MIB);
  });

  it('SIGTERM: slow clients are cut at the drain deadline with 503 / UNAVAILABLE, never a reset, and the process exits 0', { timeout: 60_000 }, async () => {
    const r = await startReceiver(database.url, ['--shutdown-timeout', '2s']);
    receivers.push(r);
    expect((await bystander(r)).status).toBe(200);
    const slow = slowHttpBody(r.http, '/v1/traces', { contentLength: 4 * MiB, first: 64 * 1024, trickleMs: 100 });
    const feedback = slowHttpBody(r.http, '/v1/feedback', { contentLength: 1 * MiB, first: 10, trickleMs: 100, contentType: 'application/json' });
    const partial = partialGrpcMessage(r.grpc, TRACE_PATH, 4 * MiB, 64 * 1024);
    clients.push(slow, feedback, partial);
    await sleep(500);
    const signalled = Date.now();
    r.v.proc.kill('SIGTERM');
    const [h, f, g] = await Promise.all([slow.answer, feedback.answer, partial.answer]);
    const code = await r.v.exited;
    const exitedAfter = Date.now() - signalled;
    console.log(JSON.stringify({ http: [h.status ?? h.error, h.at - signalled], feedback: [f.status ?? f.error, f.at - signalled], grpc: [g.status ?? g.error, g.body, g.at - signalled], exitedAfter }));
    expect(h.status).toBe(503);
    expect(h.body).toContain('the receiver is shutting down');
    expect(f.status).toBe(503);
    expect(g.status).toBe(14); // UNAVAILABLE
    // At the drain deadline (2 s), not at the 60 s receive timeout.
    for (const a of [h, f, g]) expect(a.at - signalled).toBeLessThan(6000);
    expect(code).toBe(0);
    expect(exitedAfter).toBeLessThan(10_000);
  });
});
