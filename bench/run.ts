/**
 * `npm run bench`: end-to-end ingest throughput against the database's own
 * bulk-load ceiling, measured in the same run on the same machine.
 *
 * For each backend (PostgreSQL via DATABASE_URL, and the embedded one) and
 * each scale (1×, 4×, 16× the span count):
 *   1. the ceiling: the same rows COPYed by a separate client (bench/ceiling.ts);
 *   2. for each transport (gRPC, HTTP/protobuf): a fresh receiver process,
 *      a warm-up, then the load generator (bench/loadgen.ts, its own process)
 *      closed-loop at the configured concurrency; the stored span count is
 *      checked against what was acknowledged;
 *   3. at 1×: an open-loop run at half the measured maximum, for latency;
 *   4. with --judge: the closed-loop run again on a receiver with an online
 *      evaluator judging every run (sample 1, settle 0) at its full budget,
 *      against the fake OpenAI-compatible judge (test/helpers/fake-judge.ts).
 *      The budget (default 60 calls a minute, the example's in
 *      docs/evaluators.md) is spent in a burst at the start of each minute,
 *      so a run must cover whole minutes to measure it (--spans 1500000 is
 *      about two minutes a run on a 2-core machine);
 *   5. with --baseline DIR (a checkout of an earlier commit, with its
 *      node_modules): the closed-loop run again on that checkout's receiver,
 *      on a database of its own (its schema may differ), so "before" and
 *      "after" are measured in the same run on the same machine.
 * With --judge or --baseline, --rounds repeats the pair, alternating which
 * goes first, since one pair is at the mercy of the machine.
 * Prints a table, and writes it with the raw figures to bench/results/.
 *
 *   node bench/run.ts [--database-url URL] [--backends postgres,pglite] [--transports grpc,http]
 *                     [--spans 100000] [--scales 1,4,16] [--concurrency 16] [--batch 512] [--quick]
 *                     [--judge] [--judge-calls-per-minute 60] [--baseline DIR] [--rounds 1] [--warmup 40000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { CeilingResult, CeilingSpec } from './ceiling.ts';
import type { LoadResult, LoadSpec } from './loadgen.ts';
import { emptyTables, storedSpans } from './tables.ts';
import { cpuSeconds, machineBusySeconds, memory, parentPid, serverCpuSeconds } from './proc.ts';
import { NODE_FLAGS } from '../src/runtime.ts';
import { startFakeJudge, type FakeJudge } from '../test/helpers/fake-judge.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/verdict.js', import.meta.url));

interface Options {
  databaseUrl: string;
  backends: Array<'postgres' | 'pglite'>;
  transports: Array<'grpc' | 'http'>;
  spans: number;
  scales: number[];
  concurrency: number;
  batch: number;
  /** Also measure with an evaluator judging every run, this many calls a minute. */
  judge: number | null;
  /** A checkout of an earlier commit whose receiver is measured alongside this one's. */
  baseline: string | null;
  /** With --judge or --baseline: rounds of the pair, alternating which goes first, since one pair is at the mercy of the machine. */
  rounds: number;
  warmup: number;
}

function options(argv: string[]): Options {
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const quick = argv.includes('--quick');
  return {
    databaseUrl: flag('database-url') ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    backends: (flag('backends') ?? 'postgres,pglite').split(',') as Options['backends'],
    transports: (flag('transports') ?? 'grpc,http').split(',') as Options['transports'],
    spans: Number(flag('spans') ?? (quick ? 20_000 : 100_000)),
    scales: (flag('scales') ?? (quick ? '1' : '1,4,16')).split(',').map(Number),
    concurrency: Number(flag('concurrency') ?? 16),
    batch: Number(flag('batch') ?? 512),
    warmup: Number(flag('warmup') ?? 40_000),
    // --judge-rounds is the older name of --rounds.
    rounds: Number(flag('rounds') ?? flag('judge-rounds') ?? 1),
    baseline: flag('baseline') ? resolve(flag('baseline') as string) : null,
    judge: argv.includes('--judge') ? Number(flag('judge-calls-per-minute') ?? 60) : null,
  };
}

interface Row {
  backend: string;
  transport: string;
  scale: number;
  mode: 'max' | 'half' | 'judge';
  /** Which receiver: this checkout's, or --baseline's. */
  build: 'this' | 'baseline';
  /** Judge calls made during the run (--judge). */
  judgeCalls?: number;
  spans: number;
  spansPerSecond: number;
  ceiling: number;
  ratio: number;
  p50: number;
  p99: number;
  receiverCores: number;
  postgresCores: number;
  machineCores: number;
  peakRssMb: number;
  failed: number;
  stored: number;
  acked: number;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const BENCH_DB = `verdict_bench_${process.pid}`;

/** Runs a bench script in its own process and parses its JSON line; `onGo` runs when it prints "go". */
function child<T>(script: string, spec: unknown, onGo?: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(HERE, script), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (onGo && out.startsWith('go\n')) {
        onGo();
        onGo = undefined;
      }
    });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as T) : reject(new Error(`${script} exited ${code}`))));
  });
}

interface Receiver {
  proc: ChildProcess;
  grpc: string;
  http: string;
  /** The embedded database's wire port, password included (null on PostgreSQL). */
  pgUrl: string | null;
  stop(): Promise<void>;
}

/** The receiver's entry point in a checkout (older ones started from src/cli.ts). */
function entryOf(dir: string): string {
  const bin = join(dir, 'bin', 'verdict.js');
  if (existsSync(bin)) return bin;
  const cli = join(dir, 'src', 'cli.ts');
  if (existsSync(cli)) return cli;
  throw new Error(`--baseline ${dir}: neither bin/verdict.js nor src/cli.ts is there; give a checkout of Verdict with its node_modules`);
}

async function startReceiver(args: string[], bin = BIN): Promise<Receiver> {
  const proc = spawn(process.execPath, [...NODE_FLAGS, bin, 'serve', '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<{ grpc: string[]; http: string[]; pgUrl?: string | null }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (line.includes('verdict ready')) resolve(JSON.parse(line));
      }
    });
    proc.on('exit', (code) => reject(new Error(`receiver exited ${code}: ${err}`)));
  });
  return {
    proc,
    grpc: ready.grpc[0]!,
    http: ready.http[0]!,
    pgUrl: ready.pgUrl ?? null,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const startedAt = new Date();
  const rows: Row[] = [];
  const ceilings: Array<{ backend: string; scale: number } & CeilingResult> = [];
  const tracesPerRequest = Math.max(1, Math.round(o.batch / 10));
  let salt = Math.floor(Math.random() * 2 ** 30) * 2;
  // The fake judge answers after 50 ms, like a fast hosted model; the budget, not the judge, sets the pace.
  let judge: FakeJudge | null = null;
  let judgeConfig = '';
  if (o.judge !== null) {
    judge = await startFakeJudge();
    judge.setDefault(() => ({ delayMs: 50, answer: { label: 'done', explanation: 'The agent answered.' } }));
    judgeConfig = join(mkdtempSync(join(tmpdir(), 'verdict-bench-judge-')), 'verdict.yaml');
    writeFileSync(judgeConfig, JSON.stringify({
      evaluators: [{
        name: 'bench_task_success', target: 'trace', sample: 1, settle: '0s', model: { base_url: judge.baseUrl, model: 'bench-judge' },
        prompt: 'Task: {{input}}\nAnswer: {{output}}\nTools: {{tool_calls}}', output: { labels: { done: 'positive', not_done: 'negative' } },
        budget: { calls_per_minute: o.judge },
      }],
    }));
  }
  log(`verdict bench: ${o.backends.join(', ')} × ${o.transports.join(', ')} × scales ${o.scales.join(', ')} of ${o.spans} spans; ${o.concurrency} in flight; ${tracesPerRequest} traces (~${tracesPerRequest * 10} spans) per request`);

  for (const backend of o.backends) {
    let admin: pg.Client | null = null;
    let dbUrl = '';
    let baselineDbUrl = '';
    const baselineBin = o.baseline === null ? '' : entryOf(o.baseline);
    if (backend === 'postgres') {
      admin = new pg.Client(o.databaseUrl);
      await admin.connect();
      // Names of this run's own: two benches on one server must not drop each other's databases.
      const create = async (name: string, bin: string) => {
        await admin!.query(`CREATE DATABASE ${name}`);
        const u = new URL(o.databaseUrl);
        u.pathname = `/${name}`;
        // Migrate once with the receiver's own command.
        await (await startReceiver(['--database-url', u.toString()], bin)).stop();
        return u.toString();
      };
      dbUrl = await create(BENCH_DB, BIN);
      // The baseline's schema may differ from this checkout's: a database of its own.
      if (o.baseline !== null) baselineDbUrl = await create(`${BENCH_DB}_baseline`, baselineBin);
    }
    for (const scale of o.scales) {
      const spans = o.spans * scale;
      log(`\n[${backend}, ${scale}×: ${spans} spans]`);
      const pgliteDir = backend === 'pglite' ? mkdtempSync(join(tmpdir(), 'verdict-bench-')) : '';
      const ceilingSpec: CeilingSpec = { backend, spans, tracesPerRequest, salt: salt++, ...(backend === 'postgres' ? { databaseUrl: dbUrl } : { dataDir: join(pgliteDir, 'ceiling') }) };
      const ceiling = await child<CeilingResult>('ceiling.ts', ceilingSpec);
      ceilings.push({ backend, scale, ...ceiling });
      log(`  ceiling (one client, binary COPY): ${Math.round(ceiling.spansPerSecond)} spans/s (${ceiling.spans} spans + ${ceiling.evaluations} verdicts, ${ceiling.megabytes.toFixed(0)} MB, ${ceiling.seconds.toFixed(1)} s)`);
      if (backend === 'pglite') rmSync(join(pgliteDir, 'ceiling'), { recursive: true, force: true });

      for (const transport of o.transports) for (const { judged, build } of variants(o)) {
        const db = new pg.Client((build === 'baseline' ? baselineDbUrl : dbUrl) || 'postgres://unused');
        // PostgreSQL's CPU is its own server's processes (their parent is the postmaster of this backend).
        let postmaster = 0;
        if (backend === 'postgres') {
          await db.connect();
          postmaster = parentPid(Number((await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
          await emptyTables(db);
          await db.query('CHECKPOINT');
        }
        const pgCpu = () => (backend === 'postgres' ? serverCpuSeconds(postmaster) : 0);
        const pgPort = backend === 'pglite' ? String(20000 + Math.floor(Math.random() * 20000)) : '0';
        const receiver = await startReceiver([
          ...(backend === 'postgres'
            ? ['--database-url', build === 'baseline' ? baselineDbUrl : dbUrl]
            : ['--data-dir', join(pgliteDir, `${transport}${judged ? '-judge' : ''}${build === 'baseline' ? '-baseline' : ''}`), '--pg-port', pgPort]),
          ...(judged ? ['--config', judgeConfig] : []),
        ], build === 'baseline' ? baselineBin : BIN);
        const address = transport === 'grpc' ? receiver.grpc : receiver.http;
        const run = async (n: number, rate: number): Promise<LoadResult & { receiverCpu: number; pgCpu: number; machine: number }> => {
          const spec: LoadSpec = { transport, address, tracesPerRequest, spans: n, concurrency: o.concurrency, rate, salt: salt++ };
          let r0 = 0;
          let p0 = 0;
          let m0 = 0;
          const result = await child<LoadResult>('loadgen.ts', spec, () => {
            [r0, p0, m0] = [cpuSeconds(receiver.proc.pid!), pgCpu(), machineBusySeconds()];
          });
          return { ...result, receiverCpu: cpuSeconds(receiver.proc.pid!) - r0, pgCpu: pgCpu() - p0, machine: machineBusySeconds() - m0 };
        };
        // Warm-up (JIT, buffer cache, WAL segments), then an empty table again: the measured run starts like the ceiling's.
        const warm = await child<LoadResult>('loadgen.ts', { transport, address, tracesPerRequest, spans: o.warmup, concurrency: o.concurrency, rate: 0, salt: salt++ } satisfies LoadSpec);
        const sql = backend === 'postgres' ? db : new pg.Client(receiver.pgUrl!);
        if (backend === 'pglite') await sql.connect();
        const warmStored = await storedSpans(sql);
        if (warmStored !== warm.ackedSpans) log(`  ✗ warm-up: stored ${warmStored}, acknowledged ${warm.ackedSpans}`);
        await emptyTables(sql);
        await sql.query('CHECKPOINT');
        if (backend === 'pglite') await sql.end();
        const callsBefore = judge?.calls ?? 0;
        const max = await run(spans, 0);
        const judgeCalls = (judge?.calls ?? 0) - callsBefore;
        let acked = max.ackedSpans;
        const results: Array<[LoadResult & { receiverCpu: number; pgCpu: number; machine: number }, Row['mode']]> = [[max, judged ? 'judge' : 'max']];
        // With --judge or --baseline the comparison is the point: the half-load run is left out to keep the run short.
        if (scale === o.scales[0] && o.judge === null && o.baseline === null) {
          const perSecond = (0.5 * max.spansPerSecond) / max.spansPerRequest;
          const half = await run(Math.max(200, Math.round(perSecond * 15)) * max.spansPerRequest, perSecond);
          acked += half.ackedSpans;
          results.push([half, 'half']);
        }
        const peak = memory(receiver.proc.pid!).peak;
        let stored: number;
        if (backend === 'postgres') {
          stored = await storedSpans(db);
          await db.end();
        } else {
          const c = new pg.Client(receiver.pgUrl!);
          await c.connect();
          stored = await storedSpans(c);
          await c.end();
        }
        await receiver.stop();
        for (const [r, mode] of results) {
          const row: Row = {
            backend, transport, scale, mode, build, spans: r.ackedSpans, spansPerSecond: r.spansPerSecond, ceiling: ceiling.spansPerSecond,
            ratio: r.spansPerSecond / ceiling.spansPerSecond, p50: r.latencyMs.p50, p99: r.latencyMs.p99,
            receiverCores: r.receiverCpu / r.seconds, postgresCores: r.pgCpu / r.seconds, machineCores: r.machine / r.seconds,
            peakRssMb: peak / 1048576, failed: r.failed, stored, acked, ...(mode === 'judge' ? { judgeCalls } : {}),
          };
          rows.push(row);
          log(`  ${transport.padEnd(4)} ${build === 'baseline' ? 'baseline ' : ''}${mode === 'max' ? `${o.concurrency} in flight` : mode === 'judge' ? `judged (${judgeCalls} calls)` : 'half load  '}: ${Math.round(row.spansPerSecond)} spans/s = ${row.ratio.toFixed(2)} × ceiling; p50 ${row.p50} ms, p99 ${row.p99} ms; receiver ${row.receiverCores.toFixed(2)} cores, postgres ${row.postgresCores.toFixed(2)}, machine ${row.machineCores.toFixed(2)}; peak RSS ${row.peakRssMb.toFixed(0)} MB; failed ${row.failed}${JSON.stringify(r.statuses) !== `{"${transport === 'grpc' ? 'OK' : '200'}":${r.requests}}` ? ` ${JSON.stringify(r.statuses)}` : ''}`);
        }
        log(`  ${transport}: stored ${stored} spans, acknowledged ${acked}${stored === acked ? ' ✓' : ' ✗ MISMATCH'}`);
      }
      if (backend === 'pglite') rmSync(pgliteDir, { recursive: true, force: true });
    }
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
      await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB}_baseline WITH (FORCE)`);
      await admin.end();
    }
  }

  await judge?.close();
  const table = render(rows, o) + comparison(rows, o);
  process.stdout.write(`\n${table}\n`);
  const dir = join(HERE, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const env = { cpus: `${cpus().length} × ${cpus()[0]?.model}`, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, options: o, startedAt };
  writeFileSync(join(dir, `${stamp}.md`), `# Verdict bench, ${startedAt.toISOString()}\n\n${'```'}\n${JSON.stringify(env, null, 2)}\n${'```'}\n\n${table}\n`);
  writeFileSync(join(dir, `${stamp}.json`), JSON.stringify({ env, ceilings, rows }, null, 2));
  log(`\nwritten to bench/results/${stamp}.md and .json`);
}

interface Variant {
  judged: boolean;
  build: Row['build'];
}

/**
 * The receivers of one transport's runs: this checkout's alone, or a pair
 * (without and with the evaluator; the baseline and this checkout), round
 * after round, alternating the order: [a, b, b, a, …].
 */
function variants(o: Options): Variant[] {
  const pair: Variant[] | null =
    o.judge !== null ? [{ judged: false, build: 'this' }, { judged: true, build: 'this' }]
    : o.baseline !== null ? [{ judged: false, build: 'baseline' }, { judged: false, build: 'this' }]
    : null;
  if (pair === null) return [{ judged: false, build: 'this' }];
  return Array.from({ length: o.rounds }, (_, i) => (i % 2 === 0 ? pair : [...pair].reverse())).flat();
}

/** Per backend and transport with --judge or --baseline: the median of each side's rounds, and their ratio. */
function comparison(rows: Row[], o: Options): string {
  if (o.judge === null && o.baseline === null) return '';
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const [a, b] = o.judge !== null ? ['without evaluator', 'with evaluator'] : ['baseline', 'this checkout'];
  const lines = [`| backend | transport | scale | ${a}, spans/s (median) | ${b} | ratio | rounds |`, '|---|---|---|---|---|---|---|'];
  for (const key of new Set(rows.map((r) => `${r.backend}|${r.transport}|${r.scale}`))) {
    const mine = rows.filter((r) => `${r.backend}|${r.transport}|${r.scale}` === key && r.mode !== 'half');
    const isB = (r: Row) => (o.judge !== null ? r.mode === 'judge' : r.build === 'this');
    const before = median(mine.filter((r) => !isB(r)).map((r) => r.spansPerSecond));
    const after = median(mine.filter(isB).map((r) => r.spansPerSecond));
    const [backend, transport, scale] = key.split('|');
    lines.push(`| ${backend} | ${transport} | ${scale}× | ${Math.round(before)} | ${Math.round(after)} | ${(after / before).toFixed(3)} | ${mine.length / 2} |`);
  }
  return `\n\n${lines.join('\n')}`;
}

function render(rows: Row[], o: Options): string {
  const head = '| backend | transport | scale | load | spans | spans/s | COPY ceiling | ratio | p50 ms | p99 ms | receiver CPU (cores) | postgres CPU | peak RSS MB | failed | stored = acked |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const body = rows.map((r) =>
    `| ${r.backend} | ${r.transport} | ${r.scale}× | ${r.build === 'baseline' ? 'baseline, ' : ''}${r.mode === 'max' ? `${o.concurrency} in flight` : r.mode === 'judge' ? `${o.concurrency} in flight, judged (${r.judgeCalls} judge calls)` : 'half of max'} | ${r.spans} | ${Math.round(r.spansPerSecond)} | ${Math.round(r.ceiling)} | ${r.ratio.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.receiverCores.toFixed(2)} | ${r.backend === 'postgres' ? r.postgresCores.toFixed(2) : '(in receiver)'} | ${r.peakRssMb.toFixed(0)} | ${r.failed} | ${r.stored === r.acked ? 'yes' : `NO (${r.stored}/${r.acked})`} |`,
  );
  return [head, sep, ...body].join('\n');
}

void main().catch((err: unknown) => {
  log(`bench failed: ${(err as Error).stack}`);
  process.exit(1);
});
