/**
 * What one online-judge call costs the machine, measured directly rather
 * than as a cut in ingest throughput (whose noise on a 2-core machine is
 * larger than the effect):
 *
 *   1. a receiver without evaluators stores --runs agent runs (the `npm run
 *      bench` workload, about 10 spans each), then stops;
 *   2. a receiver with one evaluator (target trace, sample 1, settle 0, no
 *      budget to speak of, the prompt of `npm run bench -- --judge`) starts
 *      on the same database, idle;
 *   3. `verdict evaluate --backfill` queues a job for every run (the workload
 *      dates its runs from 2026-11-01), and the
 *      receiver's judge pool works through them against the fake
 *      OpenAI-compatible judge of the tests (in this process, so its CPU is
 *      not counted);
 *   4. the receiver's CPU time and PostgreSQL's (the server's processes, from
 *      /proc) from before the backfill until the last job is done, divided by
 *      the judge calls made.
 *
 * The fake judge answers at once: the figures are CPU per call, and the
 * wall time only says how fast the pool goes when nothing else runs. With
 * no ingest going on, each group commit holds a few verdicts only, so the
 * write's share of PostgreSQL's figure is larger than under load, where the
 * verdicts join ingest's batches.
 *
 *   npm run bench:judge-cost [-- --runs 2000] [--checkout DIR] [--cpu-prof DIR]
 *
 * --checkout runs another checkout's receiver (e.g. a git worktree of an
 * earlier commit), to compare; --cpu-prof writes the judging receiver's CPU
 * profile (node --cpu-prof) into DIR. A CPU profile counts time the process
 * waits in a socket write while PostgreSQL runs on the same cores; /proc does
 * not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { NODE_FLAGS } from '../src/runtime.ts';
import { startFakeJudge } from '../test/helpers/fake-judge.ts';
import { cpuTimes, parentPid, runLoadgen, serverCpuSeconds, startServe } from './proc.ts';

const ADMIN_URL = process.env.VERDICT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const log = (s: string) => process.stderr.write(`${s}\n`);

const { values: o } = parseArgs({ options: { runs: { type: 'string', default: '2000' }, checkout: { type: 'string' }, 'cpu-prof': { type: 'string' } } });
const runs = Number(o.runs);
if (!Number.isSafeInteger(runs) || runs < 10) throw new Error(`--runs must be an integer of at least 10, got ${o.runs}`);
const BIN = o.checkout ? join(resolve(o.checkout), 'bin/verdict.js') : fileURLToPath(new URL('../bin/verdict.js', import.meta.url));

async function serve(databaseUrl: string, config: string | null): Promise<{ proc: ChildProcess; http: string }> {
  const profile = o['cpu-prof'] && config ? ['--cpu-prof', `--cpu-prof-dir=${resolve(o['cpu-prof'])}`] : [];
  const { proc, ready } = await startServe(BIN, ['--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--database-url', databaseUrl, ...(config ? ['--config', config] : [])], profile);
  return { proc, http: ready.http[0]! };
}

async function stop(proc: ChildProcess): Promise<void> {
  proc.kill('SIGTERM');
  await new Promise((resolve) => proc.once('exit', resolve));
}

async function run(args: string[]): Promise<void> {
  const p = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
  if (code !== 0) throw new Error(`verdict ${args[0]} exited ${code}: ${out.slice(-2000)}`);
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const postmaster = parentPid(Number((await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid));
  const name = `verdict_bench_judge_cost_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  const judge = await startFakeJudge();
  judge.setDefault(() => ({ answer: { label: 'done', explanation: 'The agent answered.' } }));
  const config = join(mkdtempSync(join(tmpdir(), 'verdict-bench-judge-cost-')), 'verdict.yaml');
  writeFileSync(config, JSON.stringify({
    evaluators: [{
      name: 'bench_task_success', target: 'trace', sample: 1, settle: '0s', model: { base_url: judge.baseUrl, model: 'bench-judge' },
      prompt: 'Task: {{input}}\nAnswer: {{output}}\nTools: {{tool_calls}}', output: { labels: { done: 'positive', not_done: 'negative' } },
      budget: { calls_per_minute: 1_000_000 },
    }],
  }));
  const db = new pg.Client({ connectionString: dbUrl });
  try {
    log(`judge cost: storing ${runs} runs`);
    const loader = await serve(dbUrl, null);
    await runLoadgen({ transport: 'http', address: loader.http, tracesPerRequest: 10, spans: runs * 10, concurrency: 8, rate: 0, salt: Math.floor(Math.random() * 2 ** 30) });
    await stop(loader.proc);

    const r = await serve(dbUrl, config);
    await db.connect();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const before = { receiver: cpuTimes(r.proc.pid!), postgres: serverCpuSeconds(postmaster), calls: judge.calls, at: performance.now() };
    log('judge cost: queueing a job for every run; the receiver judges them');
    await run(['evaluate', '--backfill', '--since', '2000-01-01', '--config', config, '--database-url', dbUrl]);
    const queued = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM verdict.judge_jobs')).rows[0]!.n);
    for (;;) {
      const { rows } = await db.query<{ open: string }>(`SELECT count(*) FILTER (WHERE status IN ('queued', 'running')) AS open FROM verdict.judge_jobs`);
      if (Number(rows[0]!.open) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const after = { receiver: cpuTimes(r.proc.pid!), postgres: serverCpuSeconds(postmaster), calls: judge.calls, at: performance.now() };
    await stop(r.proc);
    const calls = after.calls - before.calls;
    if (calls === 0) throw new Error(`no judge call was made for ${queued} queued jobs: the runs were not queued (the workload's dates) or the receiver's judge pool did not start`);
    const perCall = (s: number) => ((s * 1e6) / calls).toFixed(0);
    const result = {
      checkout: o.checkout ?? '.', runs, queued, calls, seconds: Number(((after.at - before.at) / 1000).toFixed(1)),
      receiverMicrosPerCall: Number(perCall(after.receiver.user + after.receiver.system - before.receiver.user - before.receiver.system)),
      ofWhichKernel: Number(perCall(after.receiver.system - before.receiver.system)), postgresMicrosPerCall: Number(perCall(after.postgres - before.postgres)),
    };
    log(`judge cost: ${calls} calls in ${result.seconds} s: receiver ${result.receiverMicrosPerCall} µs (kernel ${result.ofWhichKernel}), PostgreSQL ${result.postgresMicrosPerCall} µs of CPU per call`);
    console.log(JSON.stringify(result));
  } finally {
    await db.end().catch(() => {});
    await judge.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
