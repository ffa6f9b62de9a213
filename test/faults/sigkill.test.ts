/**
 * Fault: the receiver is killed with SIGKILL in the middle of a sustained
 * load. After a new receiver starts on the same database, no span any client
 * was told was accepted is missing, and nothing is stored twice.
 *
 * Load: raw OTLP/HTTP protobuf and OTLP/gRPC (acknowledged = 200 / OK) and the
 * official http/protobuf exporter (acknowledged = SUCCESS; it retries through
 * the gap, so some of its exports are accepted by the second receiver). The
 * second receiver takes the first one's ports, as a supervisor's restart does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { checkStored, expectStoredOnce, installInsertCounter, exporterSender, grpcSender, httpSender, Load, ProtobufSource, sleep, SpanSource, startReceiver, type Receiver } from '../helpers/load.ts';
import { freePort } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';

const SENDERS = ['http/protobuf raw', 'grpc raw', 'http/protobuf exporter'];

describe('receiver killed with SIGKILL under load', () => {
  let cluster: Cluster;
  let dbUrl: string;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    cluster = await startCluster();
    dbUrl = await cluster.createDatabase('verdict_fault_sigkill');
  });
  afterAll(async () => {
    for (const r of receivers) r.v.proc.kill('SIGKILL');
    await cluster?.destroy();
  });

  it('loses no acknowledged span: every one is stored after a restart on the same database', { timeout: 90_000 }, async () => {
    const ports = { http: await freePort(), grpc: await freePort() };
    const first = await startReceiver(dbUrl, [], ports);
    await installInsertCounter(dbUrl);
    receivers.push(first);
    const source = await ProtobufSource.create(10); // 10 agent runs, ~100 spans per request
    const load = new Load([
      { sender: httpSender(first.http, source), concurrency: 4, pauseMs: 10 },
      { sender: grpcSender(first.grpc, source), concurrency: 4, pauseMs: 10 },
      { sender: exporterSender('http/protobuf', { http: first.http, grpc: `http://${first.grpc}` }, await SpanSource.create(5)), concurrency: 2, pauseMs: 10 },
    ]).start();

    await sleep(4000);
    const acknowledgedBefore = load.attempts.filter((a) => a.answer.ok).length;
    const inFlightAtKill = load.outstanding.size;
    const killedAt = Date.now();
    first.v.proc.kill('SIGKILL');
    await first.v.exited;
    await sleep(1000); // clients keep sending to a dead port

    const second = await startReceiver(dbUrl, [], ports);
    receivers.push(second);
    const restartedAt = Date.now();
    // Each client's requests sent after the restart reach the new receiver. The exporter starts an export only once its
    // retries of earlier ones end (waiting what Retry-After says, or its backoff), which on a loaded machine can take
    // longer than the 3 seconds of load given to the others.
    await sleep(3000);
    await waitUntil('a request of every client, sent after the restart, acknowledged', () =>
      SENDERS.every((sender) => load.attempts.some((a) => a.sender === sender && a.sentAt >= restartedAt && a.answer.ok)), { timeoutMs: 20_000 });
    await load.stop(30_000);

    const stored = await checkStored(dbUrl, load.acknowledged());
    const answeredAfterKill = load.tally((a) => a.sentAt < killedAt && a.answeredAt >= killedAt);
    console.log(JSON.stringify({
      acknowledgedBefore, inFlightAtKill, answeredAfterKill,
      betweenKillAndRestart: load.tally((a) => a.sentAt >= killedAt && a.sentAt < restartedAt),
      afterRestart: load.tally((a) => a.sentAt >= restartedAt),
      all: load.tally(),
      stored,
    }, null, 2));

    // The kill landed mid-load: requests were in flight, and none of them was told "accepted" by the dead process.
    expect(first.v.proc.signalCode).toBe('SIGKILL');
    expect(acknowledgedBefore).toBeGreaterThan(20);
    expect(inFlightAtKill).toBeGreaterThan(0);
    const raw = (a: { sender: string }) => a.sender.endsWith('raw');
    expect(load.attempts.filter((a) => raw(a) && a.answer.ok && a.sentAt < killedAt && a.answeredAt > killedAt + 200)).toEqual([]);

    // The second receiver started on the same database (no repair step) and serves both transports.
    expect((await fetch(`${second.http}/readyz`)).status).toBe(200);
    // (A gRPC channel reconnects on its own backoff schedule, so it may fail fast for a moment after the restart.)
    for (const sender of SENDERS) {
      const late = load.attempts.filter((a) => a.sender === sender && a.sentAt >= restartedAt);
      const firstOk = late.findIndex((a) => a.answer.ok);
      expect(firstOk, sender).toBeGreaterThanOrEqual(0);
      expect(late.slice(firstOk).filter((a) => !a.answer.ok), sender).toEqual([]);
    }

    // No acknowledged span is missing, and none is stored twice.
    expect(stored.acknowledged).toBeGreaterThan(2000);
    expect(stored.acknowledgedDistinct).toBe(stored.acknowledged);
    expect(stored.missingExamples).toEqual([]);
    expect(stored.matched).toBe(stored.acknowledged);
    expectStoredOnce(stored);
  });
});
