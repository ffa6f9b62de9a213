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
 * Rounds come in pairs, without and with the attack, alternating which goes
 * first (--rounds pairs, default 2), each on emptied tables after a
 * CHECKPOINT, so that no round inherits a bigger table or the last round's
 * dirty pages; on PostgreSQL (a fresh database on VERDICT_TEST_DATABASE_URL's
 * server, dropped after). Prints one JSON line: spans/s of each round, the
 * cut of the means, and the median of the pairs' cuts (less at the mercy of
 * one slow round).
 *
 *   npm run bench:poisoned-feedback
 *   npm run bench:admin-flood [-- --on-ingest-port]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { NODE_FLAGS } from '../src/runtime.ts';
import type { LoadSpec } from './loadgen.ts';
import { emptyTables } from './tables.ts';
import { runLoadgen } from './proc.ts';

const BIN = fileURLToPath(new URL('../bin/verdict.js', import.meta.url));
const ADMIN_URL = process.env.VERDICT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const log = (s: string) => process.stderr.write(`${s}\n`);

const { values: o } = parseArgs({
  options: {
    attack: { type: 'string', default: 'poisoned-feedback' },
    'on-ingest-port': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
    spans: { type: 'string', default: '30000' },
  },
});

interface Receiver {
  proc: ChildProcess;
  http: string;
  admin: string | null;
}

async function startReceiver(databaseUrl: string, admin: boolean): Promise<Receiver> {
  const args = ['serve', '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--database-url', databaseUrl, ...(admin ? ['--admin-port', '0'] : [])];
  const proc = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VERDICT_LOG_FORMAT: 'json' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<{ http: string[]; admin?: string[] }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) if (line.includes('verdict ready')) resolve(JSON.parse(line));
    });
    proc.on('exit', (code) => reject(new Error(`receiver exited ${code}: ${err}`)));
  });
  // Nothing of the receiver's log is needed after this: drain it.
  proc.stdout!.resume();
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

/** Starts the attack; returns a stop function resolving to the attack's statuses. */
function attack(r: Receiver): () => Promise<Record<string, number>> {
  const statuses: Record<string, number> = {};
  const count = (s: number) => (statuses[s] = (statuses[s] ?? 0) + 1);
  let running = true;
  const loops: Promise<void>[] = [];
  if (o.attack === 'poisoned-feedback') {
    const body = JSON.stringify({ response_id: '字'.repeat(1024), name: 'user_rating', score_value: 0 });
    // Open loop: 100 a second whatever the answers take.
    const timer = setInterval(() => void request(`http://${r.http}/v1/feedback`, 'POST', body).then(count), 10);
    loops.push(new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (!running) {
          clearInterval(timer);
          clearInterval(check);
          resolve();
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

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const name = `verdict_bench_interference_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const useAdmin = o.attack === 'admin-flood' && !o['on-ingest-port'];
  const r = await startReceiver(url.toString(), useAdmin);
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  const rounds: Array<{ attack: boolean; spansPerSecond: number; attackStatuses?: Record<string, number> }> = [];
  try {
    const spec = (salt: number): LoadSpec => ({ transport: 'http', address: r.http, tracesPerRequest: 10, spans: Number(o.spans), concurrency: 8, rate: 0, salt });
    // Warm-up: partitions, JIT, connections.
    await runLoadgen({ ...spec(1), spans: 5000 });
    for (let i = 0; i < Number(o.rounds) * 2; i++) {
      // Pairs alternate their order: [without, with], [with, without], …
      const attacking = (i % 2 === 1) !== (Math.floor(i / 2) % 2 === 1);
      await emptyTables(db);
      await db.query('CHECKPOINT');
      const stop = attacking ? attack(r) : null;
      const res = await runLoadgen(spec(100 + i));
      const statuses = stop ? await stop() : undefined;
      rounds.push({ attack: attacking, spansPerSecond: Math.round(res.spansPerSecond), ...(statuses ? { attackStatuses: statuses } : {}) });
      log(`  round ${i + 1}: ${attacking ? 'with' : 'without'} ${o.attack}: ${Math.round(res.spansPerSecond)} spans/s${statuses ? ` (attack answers ${JSON.stringify(statuses)})` : ''}`);
    }
  } finally {
    await db.end();
    r.proc.kill('SIGTERM');
    await new Promise((resolve) => r.proc.once('exit', resolve));
    agent.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const without = mean(rounds.filter((x) => !x.attack).map((x) => x.spansPerSecond));
  const withAttack = mean(rounds.filter((x) => x.attack).map((x) => x.spansPerSecond));
  const pairCuts: number[] = [];
  for (let i = 0; i + 1 < rounds.length; i += 2) {
    const pair = [rounds[i]!, rounds[i + 1]!];
    const w = pair.find((x) => !x.attack)!.spansPerSecond;
    const a = pair.find((x) => x.attack)!.spansPerSecond;
    pairCuts.push(((w - a) / w) * 100);
  }
  pairCuts.sort((a, b) => a - b);
  const mid = pairCuts.length / 2;
  const medianCut = pairCuts.length % 2 ? pairCuts[Math.floor(mid)]! : (pairCuts[mid - 1]! + pairCuts[mid]!) / 2;
  const result = {
    attack: o.attack + (o.attack === 'admin-flood' ? (useAdmin ? ' (admin port)' : ' (ingest port, no admin port)') : ''),
    rounds,
    spansPerSecondWithout: Math.round(without),
    spansPerSecondWith: Math.round(withAttack),
    cutPercent: Number((((without - withAttack) / without) * 100).toFixed(1)),
    pairCutsPercent: pairCuts.map((c) => Number(c.toFixed(1))),
    medianPairCutPercent: Number(medianCut.toFixed(1)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
