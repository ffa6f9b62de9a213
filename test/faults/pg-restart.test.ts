/**
 * Fault: PostgreSQL restarts in the middle of a sustained load from the
 * official OpenTelemetry exporters, twice: a fast shutdown, then an immediate
 * one (a crash). Afterwards every span the clients were told was accepted is
 * stored exactly once, and the same receiver process (never restarted) serves
 * again.
 *
 * The database is a throwaway cluster of this file's own (test/helpers/cluster.ts);
 * the receiver is `verdict serve` as a child process. A raw OTLP/HTTP probe
 * runs beside the exporters to record what the receiver answers while the
 * database is away (the exporters hide that behind their retries).
 *
 * The JS OTLP/HTTP exporters retry 429/502/503/504 and connection errors
 * (up to 5 times, honouring Retry-After, within their 10 s timeout), so none of
 * their exports may fail: the receiver answers Retry-After 2, so their retries
 * cover about 8 s of an outage (at 1 they gave up after 5.5 s on a busy
 * machine, where a restart took longer). The JS OTLP/gRPC exporter (0.301) does not retry at
 * all: its exports during an outage fail on the client side, are not
 * acknowledged, and so are not expected in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { checkStored, expectStoredOnce, installInsertCounter, exporterSender, httpSender, Load, ProtobufSource, sleep, SpanSource, startReceiver, type Attempt, type Receiver } from '../helpers/load.ts';

describe('PostgreSQL restarted under load', () => {
  let cluster: Cluster;
  let dbUrl: string;
  let receiver: Receiver | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
    dbUrl = await cluster.createDatabase('verdict_fault_restart');
    receiver = await startReceiver(dbUrl, ['--write-timeout', '2s']);
    await installInsertCounter(dbUrl);
  });
  afterAll(async () => {
    receiver?.v.proc.kill('SIGKILL');
    await cluster?.destroy();
  });

  it('stores every acknowledged span exactly once, and the receiver recovers without a restart', { timeout: 90_000 }, async () => {
    const r = receiver!;
    const endpoints = { http: r.http, grpc: `http://${r.grpc}` };
    const spans = await SpanSource.create(5); // 5 agent runs, ~50 spans per export
    const probe = await ProtobufSource.create(1);
    const load = new Load([
      { sender: exporterSender('http/protobuf', endpoints, spans), concurrency: 3, pauseMs: 20 },
      { sender: exporterSender('http/json', endpoints, spans), concurrency: 2, pauseMs: 20 },
      { sender: exporterSender('grpc', endpoints, spans), concurrency: 2, pauseMs: 20 },
      { sender: httpSender(r.http, probe), concurrency: 1, pauseMs: 20 },
    ]).start();

    await sleep(3000);
    const before = load.attempts.filter((a) => a.answer.ok).length;
    // Two restarts: a fast shutdown (sessions disconnected with an error) and 2 s with
    // no server at all; then, once all is well again, an immediate shutdown (a crash:
    // sessions cut without a word, crash recovery at start) and 1 s without a server.
    const outages: Array<{ mode: string; from: number; to: number; awayMs: number }> = [];
    for (const [mode, downMs, thenMs] of [['fast', 2000, 4000], ['immediate', 1000, 5000]] as const) {
      const from = Date.now();
      const awayMs = await cluster.restart({ mode, downMs });
      outages.push({ mode, from, to: Date.now(), awayMs });
      await sleep(thenMs);
    }
    await load.stop(30_000);

    const [first, second] = outages as [(typeof outages)[0], (typeof outages)[0]];
    const during = (o: (typeof outages)[0]) => (a: Attempt) => a.sentAt >= o.from && a.sentAt < o.to;
    // Well after each restart: sent from 1 s after the server is back, answered before the next restart.
    const afterFirst = (a: Attempt) => a.sentAt >= first.to + 1000 && a.answeredAt < second.from;
    const afterSecond = (a: Attempt) => a.sentAt >= second.to + 1000;
    const stored = await checkStored(dbUrl, load.acknowledged());
    console.log(JSON.stringify({
      outages: outages.map((o) => ({ mode: o.mode, awayMs: o.awayMs })),
      acknowledgedBeforeRestart: before,
      all: load.tally(),
      duringFast: load.tally(during(first)),
      duringImmediate: load.tally(during(second)),
      afterFast: load.tally(afterFirst),
      afterImmediate: load.tally(afterSecond),
      failures: load.details(),
      stored,
    }, null, 2));

    // The same receiver process is still running: it neither crashed nor was restarted.
    expect({ exitCode: r.v.proc.exitCode, signal: r.v.proc.signalCode, stderr: r.v.stderr().slice(0, 2000) }).toEqual({ exitCode: null, signal: null, stderr: '' });

    // The load was running when the database went away, and the receiver felt it each time:
    // it answered the probe "retry" (503 + Retry-After), not success and not an error.
    expect(before).toBeGreaterThan(10);
    for (const o of outages) {
      const probeDuring = load.attempts.filter((a) => a.sender === 'http/protobuf raw' && during(o)(a));
      expect(probeDuring.some((a) => a.answer.kind === 'http 503' && /^\d+$/.test(a.answer.retryAfter ?? '')), o.mode).toBe(true);
      expect(probeDuring.filter((a) => !a.answer.ok && a.answer.kind !== 'http 503'), o.mode).toEqual([]);
    }

    // The HTTP exporters retried through the outages: none of their exports was given up.
    expect(load.attempts.filter((a) => a.sender.startsWith('http/') && a.sender.endsWith('exporter') && !a.answer.ok)).toEqual([]);

    // It serves again after each restart, over both transports.
    expect((await fetch(`${r.http}/readyz`)).status).toBe(200);
    for (const [phase, when] of [['after the fast restart', afterFirst], ['after the immediate restart', afterSecond]] as const) {
      for (const sender of ['http/protobuf exporter', 'http/json exporter', 'grpc exporter', 'http/protobuf raw']) {
        const late = load.attempts.filter((a) => a.sender === sender && when(a));
        expect(late.length, `${sender} ${phase}`).toBeGreaterThan(0);
        expect(late.filter((a) => !a.answer.ok), `${sender} ${phase}`).toEqual([]);
      }
    }

    // Every acknowledged span is stored, once.
    expect(stored.acknowledged).toBeGreaterThan(1000);
    expect(stored.acknowledgedDistinct).toBe(stored.acknowledged);
    expect(stored.missingExamples).toEqual([]);
    expect(stored.matched).toBe(stored.acknowledged);
    expectStoredOnce(stored);
  });
});
