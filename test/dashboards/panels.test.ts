/**
 * Every query of every panel of grafana/dashboards/*.json, as Grafana would
 * send it, against a seeded database on both backends:
 *
 * - the SQL is expanded like Grafana's PostgreSQL data source does (template
 *   variables, $__interval, macros: test/helpers/grafana-macros.ts), with the
 *   panel's own interval and the dashboard's variables, in several scenarios
 *   (defaults, a narrowed selection, a wider time range, a hostile trace ID);
 * - it runs the way Grafana connects: on PostgreSQL as the read-only role the
 *   postgres init script creates (deploy/postgres-init), on the embedded
 *   database over its PostgreSQL wire-protocol port;
 * - it returns rows, with the columns the panel type needs: time series a
 *   `time` column, sorted, numeric values and text labels (Grafana's
 *   time-series format); stats one row of numbers; tables named columns;
 *   the Traces panel the data-frame fields of Grafana's trace view, which are
 *   compared with the spans the OpenTelemetry SDK recorded.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { startServer } from '../../src/app/server.ts';
import { expandQuery, loadDashboards, panelInterval, panelsOf, provisioning, type Dashboard, type Panel, type TimeRange, type Variable } from '../helpers/grafana-macros.ts';
import { adminQuery, createDatabase } from '../helpers/postgres.ts';
import { loadSeed, makeSeed, readerInitSql, SEED_FEEDBACK, SEED_LOOP, SEED_RANGE, type Queryable, type SeedData } from '../helpers/seed.ts';
import { baseConfig, BACKENDS, freePort, startTestServer, type Backend } from '../helpers/server.ts';

// PostgreSQL type OIDs, as the wire protocol reports them (and Grafana maps them to field types).
const NUMERIC = new Set([20, 21, 23, 700, 701, 1700]);
const TEXT = new Set([25, 1043, 19, 18]);
const TIME = new Set([1184, 1114, 1082]);
const JSON_TYPES = new Set([3802, 114]);
const typeName = (oid: number) =>
  NUMERIC.has(oid) ? 'number' : TEXT.has(oid) ? 'text' : TIME.has(oid) ? 'time' : JSON_TYPES.has(oid) ? 'json' : oid === 16 ? 'bool' : `oid ${oid}`;

interface Result {
  fields: Array<{ name: string; type: string }>;
  rows: Array<Record<string, any>>;
}

/** A backend with the seed loaded, and a connection made the way Grafana would make it. */
interface Running {
  httpUrl: string;
  grafana: pg.Client;
  owner: Queryable;
  close(): Promise<void>;
}

async function startPostgres(): Promise<Running> {
  const db = await createDatabase('verdict_dash');
  const role = `verdict_grafana_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  // As in the stack: the init script runs on the empty database, before Verdict's migrations.
  const owner = new pg.Client({ connectionString: db.url });
  await owner.connect();
  try {
    await owner.query(readerInitSql(role));
  } finally {
    await owner.end();
  }
  const server = await startServer(baseConfig({ databaseUrl: db.url, feedback: SEED_FEEDBACK, learningLoop: SEED_LOOP }), silentLogger);
  const url = new URL(db.url);
  url.username = role;
  const grafana = new pg.Client({ connectionString: url.toString() });
  await grafana.connect();
  return {
    httpUrl: `http://127.0.0.1:${server.http.port}`,
    grafana,
    owner: { query: async <T>(text: string) => (await sql.raw<T>(text).execute(server.store.db)).rows },
    async close() {
      await grafana.end();
      await server.close();
      await db.drop();
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    },
  };
}

async function startEmbedded(): Promise<Running> {
  const pgPort = await freePort();
  const t = await startTestServer('pglite', { pgPort, feedback: SEED_FEEDBACK, learningLoop: SEED_LOOP });
  // Grafana reaches the embedded database on its wire-protocol port (--pg-port), as user postgres with the port's password.
  const grafana = new pg.Client(t.server.store.pgUrl!);
  await grafana.connect();
  return {
    httpUrl: t.httpUrl,
    grafana,
    owner: t,
    async close() {
      await grafana.end();
      await t.close();
    },
  };
}

interface Scenario {
  name: string;
  range?: TimeRange;
  values: (s: SeedData) => Record<string, string | string[]>;
  /** Whether queries about one trace find it (false: the trace ID matches nothing). */
  traceFound?: boolean;
}

const WEEK: TimeRange = { from: new Date(SEED_RANGE.to.getTime() - 7 * 86_400_000), to: SEED_RANGE.to };
const SCENARIOS: Record<string, Scenario[]> = {
  'verdict-overview': [
    { name: 'all services', values: () => ({}) },
    { name: 'support-agent only', values: () => ({ service: ['support-agent'] }) },
    { name: 'all services, last 7 days', range: WEEK, values: () => ({}) },
  ],
  'verdict-trace': [
    { name: 'a run with a failed tool and verdicts', values: (s) => ({ trace_id: s.showcaseTraceId }) },
    { name: 'a run that links to another', values: (s) => ({ trace_id: s.linkedTraceId }) },
    { name: 'a trace ID with quotes in it', values: () => ({ trace_id: "x' OR '1'='1" }), traceFound: false },
  ],
  'verdict-loop': [
    { name: 'the seeded hours', values: () => ({}) },
    { name: 'last 7 days', range: WEEK, values: () => ({}) },
  ],
  'verdict-feedback': [
    { name: 'all sources', values: () => ({}) },
    { name: 'user and reviewer', values: () => ({ source: ['user', 'reviewer'] }) },
    { name: 'all sources, last 7 days', range: WEEK, values: () => ({}) },
  ],
};

async function run(client: pg.Client, text: string): Promise<Result> {
  const r = await client.query(text);
  return { fields: r.fields.map((f) => ({ name: f.name, type: typeName(f.dataTypeID) })), rows: r.rows };
}

/** The dashboard's variables with their options resolved (query variables run their query) and the scenario's selection. */
async function variables(d: Dashboard, chosen: Record<string, string | string[]>, range: TimeRange, client: pg.Client): Promise<Variable[]> {
  const out: Variable[] = [];
  for (const v of d.templating.list) {
    const base: Variable = { name: v.name, value: chosen[v.name] ?? v.current?.value ?? '', multi: !!v.multi, includeAll: !!v.includeAll, allValue: v.allValue ?? null };
    if (v.type === 'query') {
      const text = typeof v.query === 'string' ? v.query : v.query.rawSql;
      const r = await run(client, expandQuery(text, { range, intervalMs: panelInterval(range), variables: out }).sql);
      const col = r.fields.find((f) => f.name === '__value')?.name ?? (r.fields[0]?.name as string);
      base.options = r.rows.map((row) => String(row[col]));
    } else if (v.type === 'custom') {
      base.options = String(v.query).split(',').map((x) => x.trim());
    }
    out.push(base);
  }
  return out;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : v instanceof Date ? v.getTime() : Number(v));
const hrMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
const KINDS = ['internal', 'server', 'client', 'producer', 'consumer'];
const TRACES_FIELDS: Record<string, string> = {
  traceID: 'text', spanID: 'text', parentSpanID: 'text', operationName: 'text', serviceName: 'text', serviceTags: 'json',
  startTime: 'number', duration: 'number', tags: 'json', logs: 'json', references: 'json', kind: 'text', statusCode: 'number',
  statusMessage: 'text', instrumentationLibraryName: 'text', instrumentationLibraryVersion: 'text', traceState: 'text',
};

const displayLabels = (p: Panel) => [...String(p.fieldConfig?.defaults.displayName ?? '').matchAll(/__field\.labels\.(\w+)/g)].map((m) => m[1] as string);
const overrideNames = (p: Panel) => (p.fieldConfig?.overrides ?? []).filter((o) => o.matcher.id === 'byName').map((o) => o.matcher.options);
const hasLink = (p: Panel, field: string) => (p.fieldConfig?.overrides ?? []).some((o) => o.matcher.options === field && o.properties.some((x) => x.id === 'links'));

function expectNamedColumns(p: Panel, r: Result) {
  const names = r.fields.map((f) => f.name);
  expect(new Set(names).size, `${p.title}: duplicate column names ${names}`).toBe(names.length);
  for (const n of names) expect(n, p.title).not.toMatch(/^\?column\?$/);
}

/** Grafana's time-series format: `time`, sorted, numeric values, text labels (sqleng processFrame, data.LongToWide). */
function checkTimeSeries(p: Panel, r: Result, range: TimeRange, intervalMs: number) {
  const time = r.fields.find((f) => f.name === 'time');
  expect(time, `${p.title}: no "time" column`).toBeDefined();
  expect(['time', 'number'], p.title).toContain(time!.type);
  const labels = r.fields.filter((f) => f.name !== 'time' && f.type === 'text').map((f) => f.name);
  const values = r.fields.filter((f) => f.name !== 'time' && f.type === 'number').map((f) => f.name);
  expect(values.length, `${p.title}: no numeric value column`).toBeGreaterThan(0);
  expect(labels.length + values.length + 1, `${p.title}: columns that are neither values nor labels: ${JSON.stringify(r.fields)}`).toBe(r.fields.length);
  for (const l of displayLabels(p)) expect(labels, `${p.title}: the display name uses label ${l}`).toContain(l);
  const seen = new Set<string>();
  let previous = -Infinity;
  for (const row of r.rows) {
    let t = num(row.time) as number;
    expect(t, `${p.title}: NULL time`).not.toBeNull();
    if (time!.type === 'number') t *= 1000; // $__timeGroup gives epoch seconds
    expect(t, `${p.title}: rows not sorted by time`).toBeGreaterThanOrEqual(previous);
    expect(t, p.title).toBeGreaterThanOrEqual(range.from.getTime() - intervalMs);
    expect(t, p.title).toBeLessThanOrEqual(range.to.getTime());
    previous = t;
    const key = JSON.stringify([t, ...labels.map((l) => row[l])]);
    expect(seen.has(key), `${p.title}: two rows for ${key}`).toBe(false);
    seen.add(key);
    for (const v of values) {
      const x = num(row[v]);
      if (x !== null) expect(Number.isFinite(x), `${p.title}: ${v} = ${row[v]}`).toBe(true);
      if (x !== null && p.fieldConfig?.defaults.unit === 'percentunit') expect(x >= 0 && x <= 1, `${p.title}: ${v} = ${x} is not a share`).toBe(true);
    }
  }
}

function checkStat(p: Panel, r: Result) {
  expect(r.rows, p.title).toHaveLength(1);
  for (const f of r.fields) {
    expect(f.type, `${p.title}: ${f.name}`).toBe('number');
    const x = num(r.rows[0]![f.name]);
    expect(x, `${p.title}: ${f.name}`).not.toBeNull();
    if (p.fieldConfig?.defaults.unit === 'percentunit') expect(x! >= 0 && x! <= 1, `${p.title}: ${f.name} = ${x}`).toBe(true);
  }
}

function checkBarChart(p: Panel, r: Result) {
  const x = r.fields.find((f) => f.name === p.options?.xField);
  expect(x?.type, `${p.title}: xField ${p.options?.xField}`).toBe('text');
  expect(r.fields.filter((f) => f.type === 'number').length, p.title).toBeGreaterThan(0);
}

function checkTable(p: Panel, r: Result, seed: SeedData, oneTrace: boolean) {
  for (const n of overrideNames(p)) expect(r.fields.map((f) => f.name), `${p.title}: override for ${n}`).toContain(n);
  const time = r.fields.find((f) => f.name === 'time');
  if (time) expect(time.type, p.title).toBe('time');
  const traceCol = r.fields.find((f) => f.name === 'trace_id');
  // A list of traces links each to the Trace dashboard; a panel about one trace need not.
  if (traceCol && !oneTrace) expect(hasLink(p, 'trace_id'), `${p.title} lists trace IDs without a link`).toBe(true);
  if (traceCol && hasLink(p, 'trace_id')) {
    const known = new Set(seed.traceIds);
    for (const row of r.rows) expect(known.has(row.trace_id), `${p.title}: ${row.trace_id}`).toBe(true);
  }
}

/** The Traces panel's data frame (grafana-data TraceSpanRow; TraceView transformTraceDataFrame), against what the SDK recorded. */
function checkTraces(p: Panel, r: Result, seed: SeedData, traceId: string) {
  for (const [name, type] of Object.entries(TRACES_FIELDS)) {
    expect(r.fields.find((f) => f.name === name)?.type, `${p.title}: field ${name}`).toBe(type);
  }
  const spans = seed.spans.filter((s) => s.spanContext().traceId === traceId);
  expect(r.rows).toHaveLength(spans.length);
  const byId = new Map(r.rows.map((row) => [row.spanID as string, row]));
  expect(byId.size).toBe(spans.length);
  expect(r.rows.filter((row) => !row.parentSpanID)).toHaveLength(1);
  for (const row of r.rows) {
    expect(row.traceID).toBe(traceId);
    if (row.parentSpanID) expect(byId.has(row.parentSpanID), `parent ${row.parentSpanID}`).toBe(true);
  }
  const pairs = (x: unknown) => {
    expect(Array.isArray(x)).toBe(true);
    for (const kv of x as Array<Record<string, unknown>>) {
      expect(typeof kv.key).toBe('string');
      expect(kv).toHaveProperty('value');
    }
    return new Map((x as Array<{ key: string; value: unknown }>).map((kv) => [kv.key, kv.value]));
  };
  for (const s of spans) {
    const row = byId.get(s.spanContext().spanId);
    expect(row, s.name).toBeDefined();
    expect(row!.parentSpanID ?? null).toBe(s.parentSpanContext?.spanId ?? null);
    expect(row!.operationName).toBe(s.name);
    expect(row!.serviceName).toBe(s.resource.attributes['service.name']);
    // Milliseconds (the trace view multiplies by 1000 to get microseconds).
    expect(Number(row!.startTime)).toBeCloseTo(hrMs(s.startTime), 6);
    expect(Number(row!.duration)).toBeCloseTo(hrMs(s.duration), 6);
    expect(row!.kind).toBe(KINDS[s.kind]);
    expect(Number(row!.statusCode)).toBe(s.status.code);
    expect(row!.instrumentationLibraryName).toBe(s.instrumentationScope.name);
    const tags = pairs(row!.tags);
    for (const [k, v] of Object.entries(s.attributes)) {
      // Content attributes sent as JSON strings are stored (and shown) as the JSON they hold.
      const expected = k === 'gen_ai.input.messages' || k === 'gen_ai.output.messages' || k === 'gen_ai.tool.call.arguments' ? JSON.parse(v as string) : v;
      expect(tags.get(k), `${s.name} tag ${k}`).toEqual(expected);
    }
    expect(tags.get('error') ?? false, `${s.name}: error tag`).toBe(s.status.code === 2);
    expect(pairs(row!.serviceTags).get('service.version')).toBe(s.resource.attributes['service.version']);
    const logs = row!.logs as Array<{ timestamp: number; fields: unknown }>;
    expect(logs).toHaveLength(s.events.length);
    s.events.forEach((e, i) => {
      expect(logs[i]!.timestamp).toBeCloseTo(hrMs(e.time), 6);
      const fields = pairs(logs[i]!.fields);
      expect(fields.get('event')).toBe(e.name);
      for (const [k, v] of Object.entries(e.attributes ?? {})) expect(fields.get(k), `${e.name} ${k}`).toEqual(v);
    });
    const refs = row!.references as Array<{ traceID: string; spanID: string }>;
    expect(refs.map((x) => [x.traceID, x.spanID])).toEqual(s.links.map((l) => [l.context.traceId, l.context.spanId]));
  }
}

let seedPromise: Promise<SeedData> | null = null;
const seedData = () => (seedPromise ??= makeSeed());

describe.each(BACKENDS)('dashboard queries on %s', (backend: Backend) => {
  let b: Running;
  let seed: SeedData;

  beforeAll(async () => {
    seed = await seedData();
    b = backend === 'postgres' ? await startPostgres() : await startEmbedded();
    await loadSeed(b.httpUrl, b.owner, seed);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
  });

  for (const { dashboard } of loadDashboards()) {
    const scenarios: Scenario[] = SCENARIOS[dashboard.uid] ?? [{ name: 'defaults', values: () => ({}) }];
    describe(dashboard.title, () => {
      it('has its variables resolve: query variables return options', async () => {
        const vars = await variables(dashboard, {}, SEED_RANGE, b.grafana);
        expect(vars.map((v) => v.name)).toEqual(dashboard.templating.list.map((v) => v.name));
        for (const v of dashboard.templating.list.filter((x) => x.type === 'query' || x.type === 'custom')) {
          expect(vars.find((x) => x.name === v.name)!.options!.length, v.name).toBeGreaterThan(0);
        }
      });

      for (const scenario of scenarios) {
        for (const panel of panelsOf(dashboard).filter((p) => p.targets?.length)) {
          it(`${panel.title} (${scenario.name})`, async () => {
            const range = scenario.range ?? SEED_RANGE;
            const intervalMs = panelInterval(range, panel.interval, panel.maxDataPoints);
            const vars = await variables(dashboard, scenario.values(seed), range, b.grafana);
            for (const target of panel.targets!) {
              const expanded = expandQuery(target.rawSql, { range, intervalMs, variables: vars });
              // No macro or variable may survive expansion.
              expect(expanded.sql, panel.title).not.toMatch(/\$(__|\{|\w+\b(?!\$))|\[\[/);
              const r = await run(b.grafana, expanded.sql);
              expectNamedColumns(panel, r);
              const oneTrace = /'\$\{trace_id\}'/.test(target.rawSql);
              if (oneTrace && scenario.traceFound === false) {
                expect(r.rows, `${panel.title}: a trace ID that matches nothing`).toHaveLength(0);
                continue;
              }
              expect(r.rows.length, `${panel.title}: no rows`).toBeGreaterThan(0);
              switch (panel.type) {
                case 'timeseries':
                  checkTimeSeries(panel, r, range, intervalMs);
                  break;
                case 'stat':
                case 'bargauge':
                  checkStat(panel, r);
                  break;
                case 'barchart':
                  checkBarChart(panel, r);
                  break;
                case 'table':
                  checkTable(panel, r, seed, oneTrace);
                  break;
                case 'traces':
                  checkTraces(panel, r, seed, scenario.values(seed).trace_id as string);
                  break;
                default:
                  throw new Error(`${panel.title}: no check for panel type ${panel.type}`);
              }
            }
          });
        }
      }
    });
  }

  it('reads the same from the hourly rollups as from the minute ones, over whole hours', async () => {
    const overview = loadDashboards().find((d) => d.dashboard.uid === 'verdict-overview')!.dashboard;
    const HOUR = 3_600_000;
    const range: TimeRange = { from: new Date(Math.floor(SEED_RANGE.from.getTime() / HOUR) * HOUR), to: new Date(Math.ceil(SEED_RANGE.to.getTime() / HOUR) * HOUR - 1) };
    const vars = await variables(overview, {}, range, b.grafana);
    const switching = panelsOf(overview).filter((p) => p.targets?.some((t) => t.rawSql.includes('$__interval_ms >= 3600000')));
    expect(switching.map((p) => p.title)).toEqual(expect.arrayContaining(['Spans and traces per minute', 'Latency p95 by operation', 'Latency percentiles by operation']));
    for (const p of switching) {
      const text = p.targets![0]!.rawSql;
      const hourly = await run(b.grafana, expandQuery(text, { range, intervalMs: HOUR, variables: vars }).sql);
      // The same query forced onto the minute rollups, at the same hourly interval.
      const forced = text.replaceAll('$__interval_ms < 3600000', 'true').replaceAll('$__interval_ms >= 3600000', 'false');
      const minutes = await run(b.grafana, expandQuery(forced, { range, intervalMs: HOUR, variables: vars }).sql);
      expect(hourly.rows.length, p.title).toBeGreaterThan(0);
      expect(hourly.rows, p.title).toEqual(minutes.rows);
    }
  });

  it.each(provisioning('alerting').flatMap((f) => f.doc.groups.flatMap((g: any) => g.rules)).map((r: any) => [r.uid, r]))(
    'runs alert rule %s on the seed: one count, and the rise after support-agent 1.15.0 fires',
    async (uid, rule: any) => {
      const query = rule.data.find((d: any) => d.datasourceUid !== '__expr__');
      // The rule's relative range, ending where the seed ends.
      const range: TimeRange = { from: new Date(SEED_RANGE.to.getTime() - query.relativeTimeRange.from * 1000), to: SEED_RANGE.to };
      const r = await run(b.grafana, expandQuery(query.model.rawSql, { range, intervalMs: 60_000, variables: [] }).sql);
      expect(r.rows).toHaveLength(1);
      expect(r.fields.map((f) => f.type)).toEqual(['number']);
      const n = Number(Object.values(r.rows[0]!)[0]);
      if (uid === 'verdict-negative-rate-rise') expect(n).toBeGreaterThan(0);
      else expect(n).toBeGreaterThanOrEqual(0);
    },
  );

  it('shows the showcase run with its verdicts from several sources and its log records', async () => {
    const trace = loadDashboards().find((d) => d.dashboard.uid === 'verdict-trace')!.dashboard;
    const vars = await variables(trace, { trace_id: seed.showcaseTraceId }, SEED_RANGE, b.grafana);
    const query = (title: string) => run(b.grafana, expandQuery(panelsOf(trace).find((p) => p.title === title)!.targets![0]!.rawSql, { range: SEED_RANGE, intervalMs: 60_000, variables: vars }).sql);
    const verdicts = await query('Verdicts on this trace');
    expect(new Set(verdicts.rows.map((r) => r.source)).size).toBeGreaterThanOrEqual(3);
    expect(verdicts.rows.some((r) => r.polarity === 'negative')).toBe(true);
    const logs = await query('Log records');
    expect(logs.rows.some((r) => r.severity === 'WARN' && /timed out/.test(r.body))).toBe(true);
  });
});
