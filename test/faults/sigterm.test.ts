/**
 * Fault: SIGTERM in the middle of a sustained load. Exports in flight when
 * the signal arrives finish and are stored; exports that arrive after it are
 * refused with an answer clients retry; the process exits 0.
 *
 * To make "in flight" exact rather than a matter of microseconds, the
 * database is slowed down just before the signal: a separate session holds
 * an ACCESS EXCLUSIVE lock on verdict.spans, so the exports the receiver has
 * taken stay parked in its write queue, unanswered. The signal arrives while
 * they wait; new exports keep coming after it; then the lock is released (well
 * within the write timeout) and the parked exports commit.
 *
 * "After the signal" is measured from the receiver's own log line for it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { checkStored, expectStoredOnce, installInsertCounter, grpcSender, httpSender, Load, ProtobufSource, sleep, startReceiver, type Attempt, type Receiver } from '../helpers/load.ts';

/** How long after the signal a new connection may still race the closing listener. */
const RACE_MS = 200;

describe('receiver stopped with SIGTERM under load', () => {
  let cluster: Cluster;
  let dbUrl: string;
  let receiver: Receiver | undefined;
  let locker: pg.Client | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
    dbUrl = await cluster.createDatabase('verdict_fault_sigterm');
    receiver = await startReceiver(dbUrl, ['--write-timeout', '10s', '--shutdown-timeout', '20s']);
    await installInsertCounter(dbUrl);
  });
  afterAll(async () => {
    receiver?.v.proc.kill('SIGKILL');
    await locker?.end().catch(() => {});
    await cluster?.destroy();
  });

  it('finishes and stores the exports in flight, refuses new ones with a retryable answer, and exits 0', { timeout: 90_000 }, async () => {
    const r = receiver!;
    const source = await ProtobufSource.create(5); // ~50 spans per request
    let signalled!: () => void;
    const signal = new Promise<void>((resolve) => (signalled = resolve));
    const load = new Load([
      { sender: httpSender(r.http, source), concurrency: 6, pauseMs: 10 },
      { sender: grpcSender(r.grpc, source), concurrency: 6, pauseMs: 10 },
      // Clients that only start sending once the signal has been handled.
      { sender: httpSender(r.http, source, { name: 'http/protobuf raw, new client' }), concurrency: 2, pauseMs: 50, gate: signal },
      { sender: grpcSender(r.grpc, source, { name: 'grpc raw, new client' }), concurrency: 2, pauseMs: 50, gate: signal },
    ]).start();
    await sleep(3000);
    const acknowledgedBefore = load.attempts.filter((a) => a.answer.ok).length;

    // Park the exports in flight: their transactions wait for the lock.
    locker = new pg.Client({ connectionString: dbUrl });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE verdict.spans IN ACCESS EXCLUSIVE MODE');
    const lockedAt = Date.now();
    await sleep(1000);
    // In flight at the signal: sent at least 300 ms before it and not answered yet.
    const signalSentAt = Date.now();
    const parked = [...load.outstanding].filter(([, o]) => o.sentAt <= signalSentAt - 300).map(([id]) => id);
    r.v.proc.kill('SIGTERM');
    const handled = await r.v.waitFor((l) => l.msg === 'shutting down: finishing in-flight exports', 10_000);
    const signalAt = handled.time as number;
    signalled();
    await sleep(1500); // new exports keep arriving while the parked ones wait
    await locker.query('ROLLBACK');
    const releasedAt = Date.now();
    const code = await Promise.race([r.v.exited, sleep(25_000).then(() => 'still running')]);
    const exitedAt = Date.now();
    await load.stop(30_000);

    const byId = new Map(load.attempts.map((a) => [a.id, a]));
    const parkedAttempts = parked.map((id) => byId.get(id)!);
    const after = (a: Attempt) => a.sentAt > signalAt;
    const stored = await checkStored(dbUrl, load.acknowledged());
    console.log(JSON.stringify({
      acknowledgedBefore,
      lockHeldMs: releasedAt - lockedAt,
      signalHandledMs: signalAt - signalSentAt,
      exitMsAfterSignal: exitedAt - signalAt,
      exitMsAfterLockRelease: exitedAt - releasedAt,
      exitCode: code,
      inFlightAtSignal: load.tally((a) => parked.includes(a.id)),
      sentBetweenLockAndSignal: load.tally((a) => a.sentAt > lockedAt && a.sentAt <= signalAt),
      sentWithin200msAfterSignal: load.tally((a) => a.sentAt > signalAt && a.sentAt <= signalAt + RACE_MS),
      sentLaterAfterSignal: load.tally((a) => a.sentAt > signalAt + RACE_MS),
      refusalDetails: load.details(after),
      stored,
      lastLog: r.v.lines.slice(-2).map((l) => l.msg),
    }, null, 2));

    // The process stopped by itself, cleanly, once the parked exports had committed.
    expect(code).toBe(0);
    expect(r.v.lines.some((l) => l.msg === 'stopped')).toBe(true);
    expect(r.v.lines.some((l) => /shutdown timeout/.test(l.msg ?? ''))).toBe(false);
    expect(exitedAt - releasedAt).toBeLessThan(10_000);
    expect(acknowledgedBefore).toBeGreaterThan(20);

    // Every export in flight at the signal finished with success (over both transports) and is stored.
    expect(parkedAttempts.length).toBeGreaterThanOrEqual(8);
    expect(new Set(parkedAttempts.map((a) => a.sender))).toEqual(new Set(['http/protobuf raw', 'grpc raw']));
    expect(parkedAttempts.filter((a) => !a.answer.ok)).toEqual([]);
    expect(parkedAttempts.every((a) => a.answeredAt >= releasedAt)).toBe(true);

    // Every export sent after the signal was refused, with an answer clients retry:
    // HTTP 503 with Retry-After on a connection already open, a refused connection
    // once the listener is closed, gRPC UNAVAILABLE. Never success, never an error
    // that is not retryable.
    const refused = (a: Attempt) =>
      (a.answer.kind === 'http 503' && /^\d+$/.test(a.answer.retryAfter ?? '')) || a.answer.kind === 'ECONNREFUSED' || a.answer.kind === 'grpc UNAVAILABLE';
    const afterSignal = load.attempts.filter((a) => a.sentAt > signalAt + RACE_MS);
    expect(afterSignal.length).toBeGreaterThan(20);
    expect(afterSignal.filter((a) => !refused(a)).map((a) => ({ sender: a.sender, ...a.answer }))).toEqual([]);
    // Right at the signal, a connection the kernel accepted just before the listener
    // closed is reset (ECONNRESET, which exporters retry); nothing else may differ.
    const atSignal = load.attempts.filter((a) => a.sentAt > signalAt && a.sentAt <= signalAt + RACE_MS);
    expect(atSignal.filter((a) => !refused(a) && a.answer.kind !== 'ECONNRESET').map((a) => ({ sender: a.sender, ...a.answer }))).toEqual([]);

    // Nothing acknowledged is missing or stored twice.
    expect(stored.missingExamples).toEqual([]);
    expect(stored.matched).toBe(stored.acknowledged);
    expect(stored.acknowledgedDistinct).toBe(stored.acknowledged);
    expectStoredOnce(stored);
  });
});
