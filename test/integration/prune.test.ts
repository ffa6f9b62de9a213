/**
 * `verdict prune` on both backends: a data set with every case the retention
 * rules name (whole traces, a trace straddling the cutoff, verdicts by span,
 * by response ID and on a thread, a rule verdict, orphans, log records with
 * and without trace context, user turns) is pruned with
 * --keep-with-verdicts, then without, and exactly what should remain does.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAge, prune, type PruneTotals } from '../../src/store/prune.ts';
import { postJson } from '../helpers/otlp.ts';
import { hexId, logs, traces as tracesRequest, type Attributes, type Id, type LogSpec, type SpanSpec } from '../helpers/fixtures.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

const NOW = Date.now();
const DAY = 86_400_000;
// Old enough to prune, recent enough to have day partitions of its own (a month back at most).
const OLD = 20 * DAY;
const NEW = DAY;
const ns = (ago: number) => String(BigInt(NOW - ago) * 1_000_000n);

const TRACES = ['old', 'judged', 'completion', 'thread', 'straddling', 'recent', 'asked', 'reasked', 'fresh', 'ghost', 'alone'] as const;
type Name = (typeof TRACES)[number];
const id: Record<Name, string> = Object.fromEntries(TRACES.map((n, i) => [n, hexId(16, i + 1)])) as Record<Name, string>;
const nameOf = new Map(Object.entries(id).map(([n, v]) => [v, n]));
const fillerIds = Array.from({ length: 20 }, (_, i) => hexId(16, 100 + i));

let spanSeed = 0;
const span = (trace: Name | string, name: string, startAgo: number, endAgo: number, attributes: Attributes = {}, parent?: Id): SpanSpec => ({
  traceId: trace in id ? id[trace as Name] : trace,
  spanId: hexId(8, ++spanSeed),
  ...(parent ? { parentSpanId: parent } : {}),
  name,
  kind: 'internal',
  start: ns(startAgo),
  end: ns(endAgo),
  attributes,
});
const chat = (trace: Name, ago: number, conversation: string, question: string) =>
  span(trace, 'chat gpt-4o', ago, ago - 1000, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.conversation.id': conversation,
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: question }] }]),
  });
const context = (trace: Name, s?: { spanId: Id }) => ({ traceId: id[trace], ...(s ? { spanId: s.spanId } : {}) });
const verdict = (name: string, ago: number, ctx: LogSpec = {}, attributes: Attributes = {}): LogSpec => ({
  eventName: 'gen_ai.evaluation.result',
  time: ns(ago),
  ...ctx,
  attributes: { 'gen_ai.evaluation.name': name, 'gen_ai.evaluation.score.label': 'fail', ...attributes },
});
const logRecord = (body: string, ago: number, ctx: LogSpec = {}): LogSpec => ({ time: ns(ago), severityNumber: 9, body, ...ctx });

// The old trace's root and child arrive in different requests, with the fillers between: different pages, different slices.
const oldRoot = span('old', 'invoke_agent', OLD, OLD - 5000);
const oldChild = span('old', 'execute_tool', OLD - 1000, OLD - 2000, {}, oldRoot.spanId);
const judgedRoot = span('judged', 'invoke_agent', OLD, OLD - 5000);
const judgedChat = span('judged', 'chat gpt-4o', OLD - 100, OLD - 900, {}, judgedRoot.spanId);
const first = [
  oldRoot,
  judgedRoot,
  judgedChat,
  span('completion', 'chat gpt-4o', OLD, OLD - 1000, { 'gen_ai.response.id': 'resp-completion' }),
  span('thread', 'invoke_agent', OLD, OLD - 1000, { 'gen_ai.conversation.id': 'conv-thread' }),
  // Started long ago, ended yesterday: not all of it is old.
  span('straddling', 'invoke_agent', OLD, NEW),
  span('straddling', 'chat gpt-4o', OLD - 1000, OLD - 2000),
  span('recent', 'invoke_agent', NEW, NEW - 1000),
  chat('asked', OLD, 'conv-repeat', 'Where is my parcel?'),
  // Alone on its day, with nothing that keeps it: that day's partitions are dropped whole.
  span('alone', 'invoke_agent', OLD + 3 * DAY, OLD + 3 * DAY - 1000),
  span('alone', 'execute_tool', OLD + 3 * DAY - 100, OLD + 3 * DAY - 900),
];
// Wide rows (incompressible padding), so the fillers fill several pages.
const fillers = fillerIds.flatMap((t) => [0, 1].map((k) => span(t, `filler ${k}`, OLD, OLD - 1000, { padding: randomBytes(600).toString('hex') })));
const last = [oldChild, chat('reasked', OLD - 3_600_000, 'conv-repeat', 'where is my parcel'), chat('fresh', NEW, 'conv-fresh', 'Can I pay by card?')];

const records = [
  logRecord('old-log', OLD, context('old', oldRoot)),
  // A trace's records go with it, whatever their own time.
  logRecord('old-late-log', NEW, context('old', oldRoot)),
  logRecord('judged-log', OLD, context('judged', judgedRoot)),
  logRecord('straddling-log', OLD, context('straddling')),
  logRecord('loose-old', OLD),
  logRecord('loose-new', NEW),
  logRecord('ghost-log-old', OLD, context('ghost')),
  logRecord('alone-log', OLD + 3 * DAY, context('alone')),
  verdict('untargeted-ancient', OLD + 5 * DAY),
  verdict('judged-verdict-old', OLD - 3_600_000, context('judged', judgedChat)),
  // Judged yesterday, on a run of three weeks ago.
  verdict('judged-verdict-new', NEW, context('judged', judgedRoot)),
  verdict('completion-verdict', OLD, {}, { 'gen_ai.response.id': 'resp-completion' }),
  verdict('recent-verdict', NEW, context('recent')),
  verdict('orphan-old', OLD, context('ghost')),
  verdict('orphan-new', NEW, context('ghost')),
  verdict('orphan-response-old', OLD, {}, { 'gen_ai.response.id': 'resp-never-arrived' }),
  verdict('untargeted-old', OLD),
  verdict('untargeted-new', NEW),
];

describe('prune arguments', () => {
  it('reads ages in minutes, hours, days and weeks, and refuses anything else by name', () => {
    expect([parseAge('90m'), parseAge('12h'), parseAge('30d'), parseAge('2w')]).toEqual([90 * 60_000, 12 * 3_600_000, 30 * DAY, 14 * DAY]);
    for (const bad of ['30', '30x', '0d', '-1d', '1.5d', 'd', '', '99999999w']) expect(() => parseAge(bad), bad).toThrow(/^invalid --older-than: /);
  });
});

describe.each(BACKENDS)('prune on %s', (backend) => {
  let t: TestServer;
  beforeAll(async () => {
    const dir = tempDir('prune');
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, 'rules:\n  - name: same_question_reasked\n    kind: repeat\n');
    t = await startTestServer(backend, { rulesFile });
    for (const spans of [first, fillers, last]) expect((await postJson(`${t.httpUrl}/v1/traces`, tracesRequest(spans).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/logs`, logs(records).json())).status).toBe(200);
    const thread = await postJson(`${t.httpUrl}/v1/feedback`, { conversation_id: 'conv-thread', name: 'thread-verdict', score_label: 'fail', time: new Date(NOW - OLD).toISOString() });
    expect(thread.status).toBe(200);
    // The data set is what the cases below assume.
    expect(await turns()).toEqual(['asked', 'fresh', 'reasked']);
    expect((await verdicts()).filter((v) => v === 'same_question_reasked')).toHaveLength(1);
  });
  afterAll(async () => {
    await t?.close();
  });

  const traces = async () => (await t.query<{ trace_id: string }>(`SELECT DISTINCT trace_id FROM verdict.spans`)).map((r) => nameOf.get(r.trace_id) ?? 'filler').sort();
  const spanCount = async () => (await t.query<{ n: number }>(`SELECT count(*)::int AS n FROM verdict.spans`))[0]!.n;
  const logBodies = async () => (await t.query<{ b: string }>(`SELECT body #>> '{}' AS b FROM verdict.logs`)).map((r) => r.b).sort();
  const verdicts = async () => (await t.query<{ name: string }>(`SELECT name FROM verdict.evaluations`)).map((r) => r.name).sort();
  const turns = async () => (await t.query<{ trace_id: string }>(`SELECT trace_id FROM verdict.user_turns`)).map((r) => nameOf.get(r.trace_id)).sort();

  /** Runs prune in small batches and returns its totals and progress lines. */
  async function run(keepWithVerdicts: boolean): Promise<{ totals: PruneTotals; lines: Array<Record<string, any>> }> {
    const lines: Array<Record<string, any>> = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const totals = await prune(t.server.store, { olderThanMs: 10 * DAY, keepWithVerdicts, batchSize: 4 }, log);
    return { totals, lines };
  }

  /** Rollup rows from before the cutoff (an hourly row counts once its hour has ended by then), and recent ones. */
  async function rollups(): Promise<{ old: number; recent: number; oldLayers: number }> {
    const cutoff = `now() - interval '10 days'`;
    const [r] = await t.query<{ old: number; recent: number; old_layers: number }>(`SELECT
      (SELECT count(*) FROM verdict.verdict_layer_rollup WHERE hour <= ${cutoff} - interval '1 hour') AS old_layers,
      (SELECT count(*) FROM verdict.span_rollup WHERE minute < ${cutoff}) + (SELECT count(*) FROM verdict.latency_rollup WHERE minute < ${cutoff})
        + (SELECT count(*) FROM verdict.run_rollup WHERE minute < ${cutoff}) + (SELECT count(*) FROM verdict.verdict_rollup WHERE minute < ${cutoff})
        + (SELECT count(*) FROM verdict.span_rollup_hourly WHERE hour <= ${cutoff} - interval '1 hour')
        + (SELECT count(*) FROM verdict.latency_rollup_hourly WHERE hour <= ${cutoff} - interval '1 hour') AS old,
      (SELECT count(*) FROM verdict.span_rollup_hourly WHERE hour > now() - interval '2 days')
        + (SELECT count(*) FROM verdict.latency_rollup WHERE minute > now() - interval '2 days')
        + (SELECT count(*) FROM verdict.verdict_layer_rollup WHERE hour > now() - interval '2 days') AS recent`);
    return { old: Number(r!.old), recent: Number(r!.recent), oldLayers: Number(r!.old_layers) };
  }

  it('--keep-with-verdicts: deletes old traces without verdicts and old orphans, keeps every judged trace whole', async () => {
    const before = await rollups();
    expect(before.old).toBeGreaterThan(0);
    expect(before.oldLayers).toBeGreaterThan(0);
    const { totals, lines } = await run(true);
    // The rollups before the cutoff go (they count what was there then, kept or not); recent ones stay.
    expect(await rollups()).toEqual({ old: 0, recent: before.recent, oldLayers: 0 });
    expect(await traces()).toEqual(['asked', 'completion', 'fresh', 'judged', 'recent', 'straddling', 'thread']);
    expect(await spanCount()).toBe(9);
    expect(await logBodies()).toEqual(['judged-log', 'loose-new', 'straddling-log']);
    expect(await verdicts()).toEqual([
      'completion-verdict', 'judged-verdict-new', 'judged-verdict-old', 'orphan-new', 'recent-verdict', 'same_question_reasked', 'thread-verdict', 'untargeted-new',
    ]);
    expect(await turns()).toEqual(['fresh']);
    expect(totals).toMatchObject({ traces: 23, spans: 45, logs: 5, verdicts: 4, userTurns: 2 });

    // Progress: a line per step with running totals; the old days that held only what goes were dropped whole.
    const progress = lines.filter((l) => typeof l.step === 'string');
    expect(progress).toHaveLength(totals.batches);
    expect(progress.at(-1)!.totals).toEqual(totals);
    for (const l of progress) expect(l.msg).toMatch(/^prune: .+; deleted so far: \d+ runs \(\d+ spans\)/);
    // The day of the run alone (its spans, its log record) and the day of the ancient verdict.
    expect(totals.partitions).toBe(3);
    expect(progress.filter((l) => /^dropped /.test(l.step)).length).toBe(totals.partitions);
    // Prune vacuums where nothing else would: the embedded database has no autovacuum process.
    expect(lines.some((l) => l.msg === 'prune: vacuumed the tables (no autovacuum runs on this database)')).toBe(backend === 'pglite');
    expect(lines.at(-1)).toMatchObject({
      msg: `prune: done; deleted 23 runs (45 spans), 5 log records, 4 verdicts, 2 user turns; ${totals.partitions} day partitions dropped in ${totals.batches} steps`,
      totals,
    });
    // The views still read: the judged runs are whole.
    const judged = await t.query<{ span_count: string | number }>(`SELECT span_count FROM verdict.traces WHERE trace_id = '${id.judged}'`);
    expect(Number(judged[0]!.span_count)).toBe(2);
  });

  it('without the flag: deletes the judged old traces with their verdicts, keeps what is recent, and a second run finds nothing', async () => {
    const { totals } = await run(false);
    expect(await traces()).toEqual(['fresh', 'recent', 'straddling']);
    expect(await spanCount()).toBe(4);
    expect(await logBodies()).toEqual(['loose-new', 'straddling-log']);
    expect(await verdicts()).toEqual(['orphan-new', 'recent-verdict', 'untargeted-new']);
    expect(await turns()).toEqual(['fresh']);
    // judged (2 spans), completion, thread, asked; their verdicts, the thread verdict once its conversation was gone.
    expect(totals).toMatchObject({ traces: 4, spans: 5, logs: 1, verdicts: 5, userTurns: 0 });

    const again = await run(false);
    expect(again.totals).toMatchObject({ traces: 0, spans: 0, logs: 0, verdicts: 0, userTurns: 0 });
    expect(await spanCount()).toBe(4);
  });
});
