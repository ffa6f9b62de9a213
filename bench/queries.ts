/**
 * `npm run bench:queries`: how long what users and dashboards read takes, as
 * the data grows.
 *
 * For each size, a database of its own is loaded with synthetic runs shaped
 * like real ones (bench/synthetic.ts), through the receiver's own normaliser
 * and write path (the Store, with two writers), so the summaries and rollups
 * are built the way ingest builds them. Then every documented query is
 * timed: the point lookups and lists of docs/schema.md, the queries of
 * README.md, docs/cookbook.md and docs/feedback.md, and every Grafana panel
 * (and variable) as Grafana expands it, over the last 6 hours and 7 days.
 * Each is run once to warm the cache, then three times; the median is
 * reported. Panels and variables run with JIT off, as the read-only role
 * Grafana connects as does (deploy/postgres-init/10-grafana-reader.sql), and
 * again with the server's default, so the JSON shows what that choice is
 * worth; everything else runs with the server's defaults, as in psql.
 * Prints a table and the storage per span, and writes both to bench/results/.
 *
 *   node bench/queries.ts [--spans 100000,1000000,10000000] [--days 14] [--database-url URL] [--prefix NAME] [--keep] [--reuse]
 *
 * --keep leaves the databases (<prefix><spans>, verdict_bench_q_<spans> by
 * default; --prefix keeps benchmarks of different branches apart); --reuse
 * times an existing one instead of loading it again, after applying the
 * migrations it lacks (so a database loaded by an older build is upgraded
 * first, the way a receiver upgrades it).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPolicy, parseFeedbackConfig } from '../src/feedback/policy.ts';
import { silentLogger } from '../src/log.ts';
import { emptyBatch, type Batch } from '../src/model/rows.ts';
import { normalizeLogs } from '../src/normalize/logs.ts';
import { normalizeTraces } from '../src/normalize/spans.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { expandQuery, loadDashboards, panelInterval, panelsOf, type TimeRange, type Variable } from '../test/helpers/grafana-macros.ts';
import { examples } from '../test/helpers/markdown.ts';
import { synthetic } from './synthetic.ts';

const args = parseArgs({
  options: {
    spans: { type: 'string', default: '100000,1000000' },
    days: { type: 'string', default: '14' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    prefix: { type: 'string', default: 'verdict_bench_q_' },
    runs: { type: 'string', default: '3' },
  },
}).values;

const SIZES = String(args.spans).split(',').map(Number);
const DAYS = Number(args.days);
const RUNS = Number(args.runs);
const ADMIN = String(args['database-url']);
const PREFIX = String(args.prefix);
if (!/^[a-z_][a-z0-9_]*$/.test(PREFIX)) throw new Error(`--prefix ${JSON.stringify(PREFIX)}: lower-case letters, digits and _ only (it names databases)`);
const log = (s: string) => process.stderr.write(`${s}\n`);
const POLICY = createPolicy(parseFeedbackConfig({}));

interface Query {
  kind: 'lookup' | 'list' | 'documented' | 'panel 6h' | 'panel 7d' | 'variable';
  name: string;
  sql: string;
}

/** Milliseconds a kind may take (the targets this benchmark reports against). */
const TARGET: Record<Query['kind'], number> = { lookup: 20, list: 100, documented: 1000, 'panel 6h': 200, 'panel 7d': 1000, variable: 1000 };

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

/** Loads about `spans` spans; returns the seconds it took. */
async function load(url: string, spans: number): Promise<number> {
  const store = new PostgresStore({ url, poolSize: 6, writeTimeoutMs: 120_000, log: silentLogger });
  await store.migrate();
  const started = performance.now();
  let done = 0;
  let last = started;
  const requests = synthetic({ spans, days: DAYS, runsPerRequest: 40 });
  // Two writers, each committing batches of about 4,000 spans, as the receiver's group commit does.
  const writer = async () => {
    for (;;) {
      const batches: Batch[] = [];
      let rows = 0;
      while (rows < 4000) {
        const next = requests.next();
        if (next.done) break;
        const r = next.value;
        const t = normalizeTraces(r.traces, { policy: POLICY }).batch;
        const l = normalizeLogs(r.logs, { policy: POLICY }).batch;
        const f = emptyBatch();
        f.evaluations = r.feedback.map((v) => ({ ...v, polarity: POLICY.polarityFor(v.name, v.score_label, v.score_value) }));
        batches.push(t, l, f);
        rows += r.spans;
      }
      if (batches.length === 0) return;
      await store.write(batches);
      done += rows;
      if (performance.now() - last > 5000) {
        last = performance.now();
        log(`  loading: ${done.toLocaleString('en')} of ${spans.toLocaleString('en')} spans, ${Math.round(done / ((last - started) / 1000)).toLocaleString('en')} spans/s`);
      }
    }
  };
  await Promise.all([writer(), writer()]);
  await store.close();
  return (performance.now() - started) / 1000;
}

function documented(file: string, prefix: string): Query[] {
  return examples(new URL(`../docs/${file}`, import.meta.url))
    .filter((e) => e.kind === 'sql')
    .map((e, i) => ({ kind: 'documented' as const, name: `${prefix} ${i + 1}`, sql: e.code.replace(/;\s*$/, '') }));
}

function readmeQueries(): Query[] {
  const text = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const block = /```sql\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
  return block.split(/;\s*\n/).map((q) => q.trim()).filter((q) => /SELECT/i.test(q)).map((q, i) => ({ kind: 'documented' as const, name: `README ${i + 1}`, sql: q }));
}

async function queries(c: pg.Client): Promise<Query[]> {
  const pick = async (q: string) => ((await c.query(q)).rows[0] ?? {}) as Record<string, string>;
  const run = await pick(`SELECT trace_id FROM verdict.trace_summary WHERE span_count > 0 AND verdicts > 0 ORDER BY trace_id LIMIT 1 OFFSET 37`);
  const conv = await pick(`SELECT conversation_id FROM verdict.conversation_summary ORDER BY conversation_id LIMIT 1 OFFSET 11`);
  const trace = run.trace_id!;
  const out: Query[] = [
    { kind: 'lookup', name: 'one run (verdict.traces)', sql: `SELECT * FROM verdict.traces WHERE trace_id = '${trace}'` },
    { kind: 'lookup', name: 'one conversation', sql: `SELECT * FROM verdict.conversations WHERE conversation_id = '${conv.conversation_id}'` },
    { kind: 'lookup', name: 'the verdicts of one run', sql: `SELECT * FROM verdict.trace_evaluations WHERE trace_id = '${trace}'` },
    { kind: 'lookup', name: 'the spans of one run', sql: `SELECT * FROM verdict.spans WHERE trace_id = '${trace}'` },
    { kind: 'list', name: 'newest 50 runs', sql: `SELECT * FROM verdict.traces ORDER BY start_time DESC LIMIT 50` },
    { kind: 'list', name: 'newest 50 conversations', sql: `SELECT * FROM verdict.conversations ORDER BY last_activity DESC LIMIT 50` },
    ...readmeQueries().map((q) => ({ ...q, sql: q.sql.replace(/'5b8efff798038103d269b633813fc60c'/, `'${trace}'`) })),
    ...documented('cookbook.md', 'cookbook'),
    ...documented('feedback.md', 'feedback.md'),
    ...documented('closing-the-loop.md', 'closing-the-loop'),
  ];
  const now = new Date();
  for (const [label, hours] of [['6h', 6], ['7d', 168]] as const) {
    const range: TimeRange = { from: new Date(+now - hours * 3_600_000), to: now };
    const variables: Variable[] = [
      { name: 'service', value: ['$__all'], multi: true, includeAll: true, allValue: "'__all'", options: [] },
      { name: 'source', value: ['$__all'], multi: true, includeAll: true, options: ['user', 'indirect', 'llm_judge', 'rule', 'reviewer', 'unknown'] },
      { name: 'trace_id', value: trace },
    ] as Variable[];
    for (const { file, dashboard } of loadDashboards()) {
      const board = file.replace(/\.json$/, '');
      for (const p of panelsOf(dashboard)) {
        for (const t of p.targets ?? []) {
          if (!t.rawSql) continue;
          const sql = expandQuery(t.rawSql, { range, intervalMs: panelInterval(range, p.interval, p.maxDataPoints), variables }).sql;
          out.push({ kind: label === '6h' ? 'panel 6h' : 'panel 7d', name: `${board}: ${p.title}`, sql });
        }
      }
      if (label === '7d') {
        for (const v of dashboard.templating?.list ?? []) {
          if (v.type !== 'query' || !v.query) continue;
          out.push({ kind: 'variable', name: `${board}: $${v.name}`, sql: expandQuery(String(v.query), { range, intervalMs: panelInterval(range), variables }).sql });
        }
      }
    }
  }
  return out;
}

async function time(c: pg.Client, q: Query): Promise<number> {
  await c.query(q.sql); // warm
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await c.query(q.sql);
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)] as number;
}

interface Result {
  size: number;
  loadSeconds: number | null;
  spans: number;
  bytesPerSpan: number;
  timings: Record<string, { kind: Query['kind']; ms: number; msJitDefault?: number }>;
}

async function measure(size: number): Promise<Result> {
  const name = `${PREFIX}${size}`;
  const url = dbUrl(name);
  let loadSeconds: number | null = null;
  if (!args.reuse) {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${name}`);
    log(`[${size.toLocaleString('en')} spans] loading into ${name}`);
    loadSeconds = await load(url, size);
  } else {
    const store = new PostgresStore({ url, poolSize: 1, writeTimeoutMs: 3_600_000, log: silentLogger });
    const started = performance.now();
    await store.migrate();
    await store.close();
    log(`[${size.toLocaleString('en')} spans] reusing ${name}; migrations checked and applied in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const c = new pg.Client(url);
  await c.connect();
  await c.query('VACUUM ANALYZE');
  const reader = new pg.Client(url);
  await reader.connect();
  await reader.query('SET jit = off');
  const { spans } = (await c.query('SELECT count(*)::bigint AS spans FROM verdict.span_rows')).rows[0] as { spans: string };
  const { bytes } = (await c.query(`SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'verdict' AND c.relkind IN ('r', 'm')`)).rows[0] as { bytes: string };
  log(`[${size.toLocaleString('en')} spans] ${Number(spans).toLocaleString('en')} spans stored, ${(Number(bytes) / Number(spans)).toFixed(0)} bytes a span in all tables and indexes${loadSeconds ? `; loaded in ${loadSeconds.toFixed(0)} s` : ''}`);
  const timings: Result['timings'] = {};
  for (const q of await queries(c)) {
    const key = `${q.kind} | ${q.name}`;
    const grafana = q.kind.startsWith('panel') || q.kind === 'variable';
    try {
      timings[key] = grafana ? { kind: q.kind, ms: await time(reader, q), msJitDefault: await time(c, q) } : { kind: q.kind, ms: await time(c, q) };
    } catch (err) {
      throw new Error(`${key} failed: ${(err as Error).message}\n${q.sql}`);
    }
    const t = timings[key]!;
    log(`  ${t.ms.toFixed(1).padStart(8)} ms  ${key}${t.msJitDefault === undefined ? '' : ` (JIT on: ${t.msJitDefault.toFixed(1)} ms)`}`);
  }
  await reader.end();
  await c.end();
  if (!args.keep && !args.reuse) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  return { size, loadSeconds, spans: Number(spans), bytesPerSpan: Number(bytes) / Number(spans), timings };
}

function table(results: Result[]): string {
  const keys = [...new Set(results.flatMap((r) => Object.keys(r.timings)))];
  const head = `| kind | query | target ms | ${results.map((r) => `${r.size.toLocaleString('en')} spans`).join(' | ')} |`;
  const rule = `|---|---|---|${results.map(() => '---|').join('')}`;
  const rows = keys.map((k) => {
    const kind = k.split(' | ')[0] as Query['kind'];
    const cells = results.map((r) => {
      const ms = r.timings[k]?.ms;
      return ms === undefined ? '' : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)}${ms > TARGET[kind] ? ' ✗' : ''}`;
    });
    return `| ${k} | ${TARGET[kind]} | ${cells.join(' | ')} |`;
  });
  const storage = `| storage | bytes a span (all tables and indexes) | | ${results.map((r) => Math.round(r.bytesPerSpan)).join(' | ')} |`;
  return [head, rule, ...rows, storage].join('\n');
}

const results: Result[] = [];
for (const size of SIZES) results.push(await measure(size));
const out = table(results);
process.stdout.write(`${out}\n`);
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replaceAll(':', '-');
writeFileSync(`${dir}queries-${stamp}.md`, `# bench:queries ${stamp}\n\n${out}\n`);
writeFileSync(`${dir}queries-${stamp}.json`, JSON.stringify(results, null, 2));
log(`written to bench/results/queries-${stamp}.md and .json`);
