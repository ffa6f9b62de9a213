/**
 * What a hostile or noisy client costs everyone else: concurrent span
 * throughput (bench/loadgen.ts, its own process, OTLP/HTTP protobuf,
 * closed loop) with and without a second client doing one of:
 *
 *   --attack poisoned-feedback   100 feedback requests a second, each with
 *                                1024 CJK characters in response_id (3072
 *                                UTF-8 bytes, past the B-tree row limit);
 *   --attack admin-flood         /metrics and /readyz as fast as 16
 *                                connections go, on the admin port
 *                                (--admin-port); with --on-ingest-port, on
 *                                the OTLP/HTTP port instead (no admin port).
 *
 * One long closed-loop run on one receiver and database (a fresh database on
 * VERDICT_TEST_DATABASE_URL's server, dropped after), cut into --windows
 * windows of --window-seconds; the attack runs in half of them, in the order
 * without, with, with, without, … so that pairs alternate which goes first
 * and a slow drift (the tables grow) cancels out. Each window's throughput is
 * the spans acknowledged in it after its first --settle-seconds (the attack
 * starting or stopping, a group commit under way), and each pair of windows
 * gives one cut. Windows next to each other share the machine's state (cache,
 * table size, checkpoints to come), which separate rounds did not: that noise
 * was ±15 % a round, too much to resolve a few percent.
 *
 * Prints one JSON line: the cut of the totals, and the mean, median and 95 %
 * confidence interval of the pairs' cuts.
 *
 *   npm run bench:poisoned-feedback [-- --windows 40 --window-seconds 10 --client raw|node-http]
 *   npm run bench:admin-flood [-- --on-ingest-port]
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { LoadSpec } from './loadgen.ts';
import { cpuSeconds, runLoadgen, startServe } from './proc.ts';

const BIN = fileURLToPath(new URL('../bin/verdict.js', import.meta.url));
const ADMIN_URL = process.env.VERDICT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const log = (s: string) => process.stderr.write(`${s}\n`);

const { values: o } = parseArgs({
  options: {
    attack: { type: 'string', default: 'poisoned-feedback' },
    'on-ingest-port': { type: 'boolean', default: false },
    client: { type: 'string', default: 'raw' },
    windows: { type: 'string', default: '40' },
    'window-seconds': { type: 'string', default: '10' },
    'settle-seconds': { type: 'string', default: '2' },
  },
});

interface Receiver {
  proc: ChildProcess;
  http: string;
  admin: string | null;
}

async function startReceiver(databaseUrl: string, admin: boolean): Promise<Receiver> {
  const args = ['--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--database-url', databaseUrl, ...(admin ? ['--admin-port', '0'] : [])];
  const { proc, ready } = await startServe(BIN, args);
  return { proc, http: ready.http[0]!, admin: ready.admin?.[0] ?? null };
}


const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
function request(url: string, method: string, body?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** 1024 CJK characters in response_id: 3072 UTF-8 bytes, past the B-tree row limit. */
const POISONED = JSON.stringify({ response_id: '字'.repeat(1024), name: 'user_rating', score_value: 0 });

/**
 * Poisoned feedback, 100 requests a second whatever the answers take (open
 * loop). With --client raw (the default), from four keep-alive sockets: each
 * request is one pre-built buffer and each answer is counted by its status
 * line, pipelined when answers are slow. With --client node-http, through
 * Node.js's HTTP client, which costs the shared cores more a request
 * (about 300 µs against 120, timer included, measured against an idle
 * receiver). The attacking client's CPU is reported either way.
 */
function poisonedFeedback(address: string, count: (status: number) => void): () => Promise<void> {
  const body = POISONED;
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const request = Buffer.from(`POST /v1/feedback HTTP/1.1\r\nhost: ${address}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const sockets = Array.from({ length: 4 }, () => {
    const socket = net.connect(port, host);
    let tail = '';
    socket.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      for (const m of text.matchAll(/HTTP\/1\.1 (\d{3}) /g)) count(Number(m[1]));
      tail = text.slice(-16);
    });
    socket.on('error', () => count(0));
    return socket;
  });
  let n = 0;
  const timer = setInterval(() => sockets[n++ % sockets.length]!.write(request), 10);
  return async () => {
    clearInterval(timer);
    // Let the last answers arrive before the sockets go.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const s of sockets) s.destroy();
  };
}

function nodeHttpFeedback(address: string, count: (status: number) => void): () => Promise<void> {
  const timer = setInterval(() => void request(`http://${address}/v1/feedback`, 'POST', POISONED).then(count), 10);
  return async () => clearInterval(timer);
}

/** Starts the attack; returns a stop function resolving to the attack's statuses. */
function attack(r: Receiver): () => Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  const count = (s: number) => (statuses[s] = (statuses[s] ?? 0) + 1);
  let running = true;
  const loops: Promise<void>[] = [];
  if (o.attack === 'poisoned-feedback') {
    const stop = o.client === 'node-http' ? nodeHttpFeedback(r.http, count) : poisonedFeedback(r.http, count);
    loops.push(new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (!running) {
          clearInterval(check);
          void stop().then(resolve);
        }
      }, 50);
    }));
  } else {
    const base = o['on-ingest-port'] ? r.http : r.admin!;
    for (let i = 0; i < 16; i++) {
      loops.push((async () => {
        for (let n = 0; running; n++) count(await request(`http://${base}${n % 2 === 0 ? '/metrics' : '/readyz'}`, 'GET'));
      })());
    }
  }
  return async () => {
    running = false;
    await Promise.all(loops);
    return statuses;
  };
}

/** Two-sided 95 % quantile of Student's t for n - 1 degrees of freedom (n pairs). */
function t95(n: number): number {
  const table: Array<[number, number]> = [[2, 12.71], [3, 4.303], [4, 3.182], [5, 2.776], [6, 2.571], [8, 2.365], [10, 2.262], [15, 2.145], [20, 2.093], [30, 2.045], [60, 2.001]];
  for (const [k, t] of table) if (n <= k) return t;
  return 1.96;
}

async function main(): Promise<void> {
  const windows = Number(o.windows);
  const windowMs = Number(o['window-seconds']) * 1000;
  const settleMs = Number(o['settle-seconds']) * 1000;
  if (!Number.isInteger(windows) || windows < 2 || windows % 2 !== 0) throw new Error(`--windows must be an even number of at least 2, got ${o.windows}`);
  if (o.client !== 'raw' && o.client !== 'node-http') throw new Error(`--client must be raw or node-http, got ${o.client}`);
  if (!(settleMs >= 0 && settleMs < windowMs)) throw new Error('--settle-seconds must be shorter than --window-seconds');
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const name = `verdict_bench_interference_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const useAdmin = o.attack === 'admin-flood' && !o['on-ingest-port'];
  const r = await startReceiver(url.toString(), useAdmin);
  const plan = Array.from({ length: windows }, (_, i) => (i % 2 === 1) !== (Math.floor(i / 2) % 2 === 1));
  const marks: Array<{ attack: boolean; fromMs: number; toMs: number; receiverCpu: number; attackerCpu: number; attackStatuses?: Record<string, number> }> = [];
  let result: Awaited<ReturnType<typeof runLoadgen>>;
  try {
    const spec: LoadSpec = { transport: 'http', address: r.http, tracesPerRequest: 10, spans: 0, concurrency: 8, rate: 0, salt: 1 };
    // Warm-up: partitions, JIT, connections.
    await runLoadgen({ ...spec, spans: 5000 });
    log(`  ${windows} windows of ${windowMs / 1000} s, ${o.attack} in half of them`);
    let went!: () => void;
    const go = new Promise<void>((resolve) => (went = resolve));
    const load = runLoadgen({ ...spec, salt: 2, seconds: (windows * windowMs) / 1000 + 1, timelineMs: 100 }, () => went());
    await go;
    const t0 = Date.now() + 500;
    for (const [i, attacking] of plan.entries()) {
      const fromMs = t0 + i * windowMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, fromMs - Date.now())));
      const [receiver0, attacker0] = [cpuSeconds(r.proc.pid!), process.cpuUsage()];
      const stop = attacking ? attack(r) : null;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, fromMs + windowMs - Date.now())));
      const statuses = stop ? await stop() : undefined;
      const attacker = process.cpuUsage(attacker0);
      marks.push({
        attack: attacking, fromMs, toMs: fromMs + windowMs,
        // CPU seconds a second over the window: the receiver's, and this process's (the attacking client).
        receiverCpu: (cpuSeconds(r.proc.pid!) - receiver0) / (windowMs / 1000),
        attackerCpu: (attacker.user + attacker.system) / 1e6 / (windowMs / 1000),
        ...(statuses ? { attackStatuses: statuses } : {}),
      });
    }
    result = await load;
  } finally {
    r.proc.kill('SIGTERM');
    await new Promise((resolve) => r.proc.once('exit', resolve));
    agent.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  const tl = result.timeline!;
  // Spans a second acknowledged in a window, after its settling time.
  const rate = (fromMs: number, toMs: number) => {
    let spans = 0;
    let n = 0;
    for (let b = Math.ceil((fromMs - tl.startMs) / tl.bucketMs); (b + 1) * tl.bucketMs + tl.startMs <= toMs; b++, n++) spans += tl.acked[b] ?? 0;
    return (spans * 1000) / (n * tl.bucketMs);
  };
  const measured = marks.map((m) => ({ ...m, spansPerSecond: rate(m.fromMs + settleMs, m.toMs) }));
  for (const [i, m] of measured.entries()) log(`  window ${i + 1}: ${m.attack ? 'with' : 'without'}: ${Math.round(m.spansPerSecond)} spans/s${m.attackStatuses ? ` (attack answers ${JSON.stringify(m.attackStatuses)})` : ''}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const without = mean(measured.filter((x) => !x.attack).map((x) => x.spansPerSecond));
  const withAttack = mean(measured.filter((x) => x.attack).map((x) => x.spansPerSecond));
  const cuts: number[] = [];
  for (let i = 0; i + 1 < measured.length; i += 2) {
    const pair = [measured[i]!, measured[i + 1]!];
    const w = pair.find((x) => !x.attack)!.spansPerSecond;
    const a = pair.find((x) => x.attack)!.spansPerSecond;
    cuts.push(((w - a) / w) * 100);
  }
  const m = mean(cuts);
  const sd = Math.sqrt(cuts.reduce((s, c) => s + (c - m) ** 2, 0) / (cuts.length - 1));
  const half = (t95(cuts.length) * sd) / Math.sqrt(cuts.length);
  const sorted = [...cuts].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const round1 = (x: number) => Number(x.toFixed(1));
  const out = {
    attack: o.attack + (o.attack === 'admin-flood' ? (useAdmin ? ' (admin port)' : ' (ingest port, no admin port)') : ` (${o.client} client)`),
    windows, windowSeconds: windowMs / 1000, settleSeconds: settleMs / 1000,
    spansPerSecondWithout: Math.round(without),
    receiverCoresWithout: Number(mean(measured.filter((x) => !x.attack).map((x) => x.receiverCpu)).toFixed(3)),
    receiverCoresWith: Number(mean(measured.filter((x) => x.attack).map((x) => x.receiverCpu)).toFixed(3)),
    attackerCoresWith: Number(mean(measured.filter((x) => x.attack).map((x) => x.attackerCpu)).toFixed(3)),
    spansPerSecondWith: Math.round(withAttack),
    cutPercent: round1(((without - withAttack) / without) * 100),
    pairCutsPercent: cuts.map(round1),
    meanPairCutPercent: round1(m),
    medianPairCutPercent: round1(median),
    pairCut95Percent: [round1(m - half), round1(m + half)],
    attackAnswers: measured.filter((x) => x.attackStatuses).reduce<Record<string, number>>((acc, x) => {
      for (const [k, v] of Object.entries(x.attackStatuses!)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    failed: result.failed,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
