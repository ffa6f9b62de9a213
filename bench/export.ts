/**
 * `npm run bench:export`: the eval export's memory and speed. Loads about
 * 100,000 spans of synthetic runs (bench/synthetic.ts, through the
 * receiver's normaliser and Store) into a database of its own, then runs
 * `verdict export` as its own process in each format, reading its stdout
 * through a pipe as a consumer would, and prints the process's peak RSS
 * (VmHWM, sampled from /proc while it runs) and runs exported per second.
 * The target: a peak that stays flat, under 200 MB, whatever the number of
 * runs (the export reads a page of runs at a time).
 *
 *   node bench/export.ts [--spans 100000] [--database-url URL] [--keep] [--reuse]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPolicy, parseFeedbackConfig } from '../src/feedback/policy.ts';
import { silentLogger } from '../src/log.ts';
import { emptyBatch, type Batch } from '../src/model/rows.ts';
import { normalizeLogs } from '../src/normalize/logs.ts';
import { normalizeTraces } from '../src/normalize/spans.ts';
import { NODE_FLAGS } from '../src/runtime.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { memory } from './proc.ts';
import { synthetic } from './synthetic.ts';

const args = parseArgs({
  options: {
    spans: { type: 'string', default: '100000' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
}).values;

const SPANS = Number(args.spans);
const ADMIN = String(args['database-url']);
const NAME = `verdict_bench_export_${SPANS}`;
const BIN = fileURLToPath(new URL('../bin/verdict.js', import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);
const POLICY = createPolicy(parseFeedbackConfig({}));

function dbUrl(name: string): string {
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(q: string): Promise<void> {
  const c = new pg.Client(ADMIN);
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

/** Loads about `spans` spans over the last 7 days, as bench:queries does. */
async function load(url: string, spans: number): Promise<void> {
  const store = new PostgresStore({ url, poolSize: 4, writeTimeoutMs: 120_000, log: silentLogger });
  await store.migrate();
  const requests = synthetic({ spans, days: 7, runsPerRequest: 40 });
  for (;;) {
    const batches: Batch[] = [];
    let rows = 0;
    while (rows < 4000) {
      const next = requests.next();
      if (next.done) break;
      const r = next.value;
      const f = emptyBatch();
      f.evaluations = r.feedback.map((v) => ({ ...v, polarity: POLICY.polarityFor(v.name, v.score_label, v.score_value) }));
      batches.push(normalizeTraces(r.traces, { policy: POLICY }).batch, normalizeLogs(r.logs, { policy: POLICY }).batch, f);
      rows += r.spans;
    }
    if (batches.length === 0) break;
    await store.write(batches);
  }
  await store.close();
}

interface Result {
  format: string;
  filter: string;
  runs: number;
  bytes: number;
  seconds: number;
  peakMb: number;
}

/** Runs `verdict export` with these flags, draining its stdout; samples its peak RSS until it exits. */
function exportOnce(url: string, format: string, filter: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // With the flags `verdict` runs under (its shebang).
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'export', '--database-url', url, '--format', format, ...filter], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let bytes = 0;
    let peak = 0;
    let stderr = '';
    const sample = () => {
      try {
        peak = Math.max(peak, memory(child.pid as number).peak);
      } catch {
        // Exited between samples.
      }
    };
    const timer = setInterval(sample, 20);
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`verdict export exited ${code}: ${stderr}`));
      resolve({ format, filter: filter.join(' ') || '(all runs)', runs: lines, bytes, seconds: (performance.now() - started) / 1000, peakMb: peak / 1e6 });
    });
  });
}

const url = dbUrl(NAME);
if (!args.reuse) {
  await admin(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${NAME}`);
  log(`loading about ${SPANS.toLocaleString('en')} spans into ${NAME}`);
  const t = performance.now();
  await load(url, SPANS);
  log(`loaded in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}
const c = new pg.Client(url);
await c.connect();
await c.query('VACUUM ANALYZE');
const { spans, runs } = (await c.query(`SELECT (SELECT count(*) FROM verdict.span_rows)::int AS spans, (SELECT count(*) FROM verdict.trace_summary WHERE span_count > 0)::int AS runs`)).rows[0] as { spans: number; runs: number };
await c.end();
log(`${spans.toLocaleString('en')} spans in ${runs.toLocaleString('en')} runs`);

const results: Result[] = [];
for (const format of ['verdict', 'messages', 'dataset']) {
  const r = await exportOnce(url, format, []);
  log(`  ${format}: ${r.runs} runs in ${r.seconds.toFixed(1)} s, peak RSS ${r.peakMb.toFixed(0)} MB`);
  results.push(r);
}
// Flat means the same peak for a tenth of the runs, and for a selective export (the runs with a negative verdict).
results.push(await exportOnce(url, 'verdict', ['--limit', String(Math.max(1, Math.floor(runs / 10)))]));
results.push(await exportOnce(url, 'verdict', ['--polarity', 'negative']));

const table = [
  `| format | runs selected | runs | MB written | seconds | runs/s | peak RSS MB |`,
  `|---|---|---|---|---|---|---|`,
  ...results.map((r) => `| ${r.format} | ${r.filter} | ${r.runs.toLocaleString('en')} | ${(r.bytes / 1e6).toFixed(1)} | ${r.seconds.toFixed(1)} | ${Math.round(r.runs / r.seconds).toLocaleString('en')} | ${r.peakMb.toFixed(0)}${r.peakMb > 200 ? ' ✗' : ''} |`),
].join('\n');
process.stdout.write(`${spans.toLocaleString('en')} spans, ${runs.toLocaleString('en')} runs\n\n${table}\n`);
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replaceAll(':', '-');
writeFileSync(`${dir}export-${stamp}.md`, `# bench:export ${stamp}\n\n${spans} spans, ${runs} runs\n\n${table}\n`);
if (!args.keep && !args.reuse) await admin(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
