/**
 * Hostile clients against a receiver in a process of its own (PostgreSQL
 * behind it), measured from outside: the attack gets its protocol's error
 * naming the limit; a bystander exporting small trace requests the whole time
 * keeps being answered; the receiver's event loop never stalls 200 ms (its own
 * monitorEventLoopDelay, read from /metrics, which resets it on each scrape);
 * its RSS stays under a bound during the attack and returns within 50 MB of
 * its baseline after.
 *
 * The attacks are the sizes measured against earlier versions: gzip
 * bracket bombs (30 M `[` then `]`, 58 KB on the wire) on /v1/traces, three
 * at once; a 10 M-level bomb on /v1/feedback; a protobuf nesting bomb over
 * gRPC; an HTTP/2 rapid-reset flood (100,000 streams from four reconnecting
 * clients) on the gRPC port.
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrame, RawGrpc } from '../helpers/fuzz.ts';
import { rssMiB, sleep, startReceiver, type Receiver } from '../helpers/load.ts';
import { hexId, post, postJson, TRACE_PATH, traceJson, traceProto } from '../helpers/otlp.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { bracketBomb, protobufNestingBomb } from '../helpers/bombs.ts';
import { rapidReset, type ResetFlood } from '../helpers/h2-flood.ts';

/** RSS may rise this much over the baseline while an attack runs (the receiver idles at about 120 MiB). */
const RSS_RISE_LIMIT_MIB = 150;
/** And must come back to within this of the baseline after it. */
const RSS_RETURN_MIB = 50;
const STALL_LIMIT_MS = 200;

async function lagMaxMs(http: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = /^verdict_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  if (!m) throw new Error('no verdict_nodejs_eventloop_lag_max_seconds in /metrics');
  return Number(m[1]) * 1000;
}

interface Measured<T> {
  result: T;
  stallMs: number;
  answered: number;
  refused: number;
  slowestMs: number;
  peakRssMiB: number;
}

describe('hostile clients against a receiver process', () => {
  let database: TestDatabase;
  let r: Receiver;
  let baseline = 0;
  let seed = 1;
  const bystander = () =>
    postJson(`${r.http}/v1/traces`, traceJson([{ traceId: hexId(16, seed++), spanId: hexId(8, 1), name: 'bystander', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]));

  beforeAll(async () => {
    database = await createDatabase('verdict_hostile');
    // With the Docker image's malloc settings (docs/operations.md, "Limits").
    r = await startReceiver(database.url, [], { http: 0, grpc: 0 }, { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' });
    // Baseline: after start-up and a few ordinary exports, once RSS has settled.
    for (let i = 0; i < 20; i++) expect((await bystander()).status).toBe(200);
    await sleep(1000);
    baseline = rssMiB(r.pid)!;
  });
  afterAll(async () => {
    r?.v.proc.kill('SIGKILL');
    await r?.v.exited;
    await database?.drop();
  });

  async function underAttack<T>(attack: () => Promise<T>): Promise<Measured<T>> {
    await lagMaxMs(r.http); // resets the receiver's maximum
    let peak = rssMiB(r.pid)!;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(r.pid) ?? 0)), 10);
    let running = true;
    let answered = 0;
    let refused = 0;
    let slowest = 0;
    const loop = (async () => {
      while (running) {
        const started = performance.now();
        const res = await bystander();
        slowest = Math.max(slowest, performance.now() - started);
        if (res.status === 200) answered++;
        else refused++;
      }
    })();
    try {
      await sleep(50);
      const result = await attack();
      await sleep(50);
      running = false;
      await loop;
      return { result, stallMs: await lagMaxMs(r.http), answered, refused, slowestMs: slowest, peakRssMiB: peak };
    } finally {
      running = false;
      clearInterval(sampler);
      await loop;
    }
  }

  function expectUnharmed(what: string, m: Measured<unknown>): void {
    console.log(`${what}: event-loop stall ${m.stallMs.toFixed(0)} ms; bystander ${m.answered} answered, ${m.refused} refused, slowest ${m.slowestMs.toFixed(0)} ms; RSS baseline ${baseline.toFixed(0)} MiB, peak ${m.peakRssMiB.toFixed(0)} MiB`);
    expect(m.stallMs).toBeLessThan(STALL_LIMIT_MS);
    expect(m.answered).toBeGreaterThan(0);
    expect(m.refused).toBe(0);
    expect(m.peakRssMiB - baseline).toBeLessThan(RSS_RISE_LIMIT_MIB);
  }

  async function expectRssReturns(): Promise<void> {
    // V8 gives memory back after its next collections; give it up to ten seconds of ordinary traffic (on a machine
    // busy with other tests, the collections that return it come later).
    let now = rssMiB(r.pid)!;
    for (let i = 0; i < 100 && now - baseline >= RSS_RETURN_MIB; i++) {
      await bystander();
      await sleep(100);
      now = rssMiB(r.pid)!;
    }
    expect(now - baseline).toBeLessThan(RSS_RETURN_MIB);
  }

  it('three gzip bracket bombs at once on /v1/traces: 413 naming the ratio limit; no stall, RSS bounded and back', { timeout: 60_000 }, async () => {
    const bomb = bracketBomb('[', ']', 30_000_000);
    expect(bomb.length).toBeLessThan(200_000);
    const m = await underAttack(() => Promise.all([1, 2, 3].map(() => post(`${r.http}/v1/traces`, bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }))));
    for (const a of m.result) {
      expect(a.status).toBe(413);
      expect(a.json().message).toContain('(the decompression ratio limit)');
    }
    expectUnharmed('3 gzip bombs on /v1/traces', m);
    await expectRssReturns();
  });

  it('bracket bombs within the ratio on /v1/traces and /v1/feedback: 400 naming the depth limit; no stall, RSS bounded and back', { timeout: 60_000 }, async () => {
    const traces = Buffer.concat([Buffer.alloc(8_000_000, '['), Buffer.alloc(8_000_000, ']')]);
    const feedback = bracketBomb('[', ']', 10_000_000);
    const feedbackPlain = Buffer.concat([Buffer.alloc(2_000_000, '['), Buffer.alloc(2_000_000, ']')]);
    const m = await underAttack(() =>
      Promise.all([
        post(`${r.http}/v1/traces`, traces, { 'content-type': 'application/json' }),
        post(`${r.http}/v1/feedback`, feedback, { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
        post(`${r.http}/v1/feedback`, feedbackPlain, { 'content-type': 'application/json' }),
      ]),
    );
    const [t, fgz, f] = m.result;
    expect([t.status, t.json().message]).toEqual([400, 'request body nests JSON arrays and objects deeper than 4096 levels (the JSON depth limit)']);
    expect([fgz.status, fgz.json().message]).toEqual([413, expect.stringContaining('(the decompression ratio limit)')]);
    expect([f.status, f.json().message]).toEqual([400, 'request body nests JSON arrays and objects deeper than 64 levels (the JSON depth limit)']);
    expectUnharmed('bracket bombs within the ratio', m);
    await expectRssReturns();
  });

  it('a gzip-compressed protobuf nesting bomb over gRPC: INVALID_ARGUMENT naming the depth limit; no stall', { timeout: 60_000 }, async () => {
    const frame = grpcFrame(zlib.gzipSync(protobufNestingBomb(3_000_000)), true);
    const g = new RawGrpc(r.grpc.replace(/^http:\/\//, ''));
    try {
      const m = await underAttack(() => g.call(TRACE_PATH, frame, { 'grpc-encoding': 'gzip' }));
      expect(m.result.status).toBe(3);
      expect(m.result.message).toBe('request body nests messages deeper than 4096 levels (the protobuf depth limit)');
      expectUnharmed('protobuf nesting bomb over gRPC', m);
      await expectRssReturns();
    } finally {
      g.close();
    }
  });

  it('an HTTP/2 rapid-reset flood on the gRPC port: the flooding connections are closed; no stall; a gRPC client already connected from the same address keeps exporting', { timeout: 60_000 }, async () => {
    const exporter = new RawGrpc(r.grpc);
    const request = (n: number) =>
      grpcFrame(traceProto({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(hexId(16, 900_000 + n), 'hex'), spanId: Buffer.from(hexId(8, 1), 'hex'), name: 'exporter', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }] }] }] }));
    try {
      // Connected before the flood: the address's existing connections are left alone.
      expect((await exporter.call(TRACE_PATH, request(0))).status).toBe(0);
      let exported = 0;
      const m = await underAttack(async () => {
        const floods: ResetFlood[] = [];
        let streams = 0;
        // Four clients, each reconnecting when its connection is closed, until 100,000 streams are sent.
        await Promise.all([1, 2, 3, 4].map(async () => {
          while (streams < 100_000) {
            const f = await rapidReset(r.grpc, TRACE_PATH, 5_000);
            floods.push(f);
            streams += f.streams;
            if (f.streams === 0 && f.endedBy !== null) await sleep(20);
          }
        }));
        for (let i = 1; i <= 5; i++) if ((await exporter.call(TRACE_PATH, request(i))).status === 0) exported++;
        return floods;
      });
      // Every flooding connection was ended by the receiver, none outlived its flood.
      expect(m.result.every((f) => f.endedBy !== null)).toBe(true);
      expect(exported).toBe(5);
      expectUnharmed(`HTTP/2 rapid reset, ${m.result.length} connections`, m);
      await expectRssReturns();
      const warned = r.v.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('closed a gRPC connection that cancelled streams'));
      expect(warned.length).toBeGreaterThan(0);
      expect(warned[0]).toMatchObject({ address: '127.0.0.1' });
    } finally {
      exporter.close();
    }
  });
});
