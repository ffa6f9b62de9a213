/**
 * The learning loop on fixtures whose answers were worked out by hand, on
 * both databases:
 *
 * - calibration: 20 judge verdicts (on a model call) paired with a user's
 *   thumbs (on the run) through a configured pair, in a 2×2 table whose
 *   kappa is exactly 0.5 (agreement 0.75, chance 0.5), four of them scored
 *   on both sides (MAE 0.35, Pearson r = 0.3 / √0.375); a same-name pair on
 *   one span; verdicts that must not pair (another span, an unpaired name);
 *   a user who changed their mind (the later thumbs counts);
 * - drift: three weeks of one agent where the harness version changes
 *   within noise (6/60 → 8/60 negative, z ≈ 0.57) and then the model
 *   changes for real (8/60 → 30/60, z ≈ 4.32): only the second is flagged;
 * - tasks: three runs of one request (spelt differently), a good, a bad and
 *   an unjudged one, and their comparison;
 * - the eval export in its three formats, page by page and resumed, and
 *   over HTTP equal to the command's output.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, beforeAll } from 'vitest';
import { exportRuns } from '../../src/loop/export.ts';
import { parseLoopConfig } from '../../src/loop/config.ts';
import { parseExportOptions } from '../../src/loop/options.ts';
import { syncLoopSettings } from '../../src/loop/sync.ts';
import { compareTasks } from '../../src/loop/compare.ts';
import { hexId, traces, type SpanSpec, type Envelope } from '../helpers/fixtures.ts';
import { postJson } from '../helpers/otlp.ts';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/verdict.js', import.meta.url));

/** 2026-01-01T00:00:00Z (a Thursday: the week from Monday 2025-12-29). */
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const DAY = 86_400_000;
const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
const iso = (ms: number) => new Date(ms).toISOString();

const LOOP = parseLoopConfig({
  judge_pairs: [{ judge: 'helpfulness', human: ['thumbs'] }],
  kappa_threshold: 0.6,
  min_verdicts: 20,
});

const envelope = (service: string, version: string): Envelope => ({ resource: { 'service.name': service, 'service.version': version }, scope: { name: 'fixture' } });

// ---------------------------------------------------------------------------
// Calibration: 20 runs, each a root and a model call.
// ---------------------------------------------------------------------------

const CAL_RUNS = 20;
// Trace IDs from distinct seeds modulo 255 (hexId's guarantee): calibration 0–19, drift 20–199, tasks 200–202.
const calTrace = (i: number) => hexId(16, i);
const calRoot = (i: number) => hexId(8, 300 + i);
const calChat = (i: number) => hexId(8, 500 + i);
const calTool = (i: number) => hexId(8, 700 + i);
/** Judge and human polarity per run: 7 agree positive, 3 judge+ human-, 2 judge- human+, 8 agree negative. */
const TABLE: Array<[boolean, boolean]> = [
  ...Array.from({ length: 7 }, () => [true, true] as [boolean, boolean]),
  ...Array.from({ length: 3 }, () => [true, false] as [boolean, boolean]),
  ...Array.from({ length: 2 }, () => [false, true] as [boolean, boolean]),
  ...Array.from({ length: 8 }, () => [false, false] as [boolean, boolean]),
];
/** Scores on both sides for four runs: judge 0.9, 0.8, 0.2, 0.1; human 1, 1, 0, 1. */
const SCORES: Record<number, [number, number]> = { 0: [0.9, 1], 1: [0.8, 1], 8: [0.2, 0], 12: [0.1, 1] };

function calibrationSpans(): SpanSpec[] {
  return Array.from({ length: CAL_RUNS }, (_, i): SpanSpec[] => {
    const start = T0 + i * MIN;
    return [
      { traceId: calTrace(i), spanId: calRoot(i), name: 'invoke_agent helper', start: ns(start), end: ns(start + 5000), attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'helper' } },
      { traceId: calTrace(i), spanId: calChat(i), parentSpanId: calRoot(i), name: 'chat', start: ns(start + 100), end: ns(start + 4000), attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.response.model': 'gpt-x' } },
      { traceId: calTrace(i), spanId: calTool(i), parentSpanId: calRoot(i), name: 'execute_tool search', start: ns(start + 4100), end: ns(start + 4500), attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' } },
    ];
  }).flat();
}

function calibrationVerdicts(): object[] {
  const out: object[] = [];
  TABLE.forEach(([judge, human], i) => {
    const at = T0 + i * MIN + 10_000;
    const scores = SCORES[i];
    out.push({
      trace_id: calTrace(i), span_id: calChat(i), name: 'helpfulness', score_label: judge ? 'helpful' : 'unhelpful', source: 'llm_judge', time: iso(at),
      ...(scores ? { score_value: scores[0] } : {}),
      attributes: { 'verdict.evaluator.name': 'helpfulness', 'verdict.evaluator.version': 'v1', 'gen_ai.response.model': 'judge-model-a' },
    });
    out.push({
      // Most on the run; run 3's on its root span, which is the same target.
      trace_id: calTrace(i), ...(i === 3 ? { span_id: calRoot(i) } : {}), name: 'thumbs', score_label: human ? 'thumbs_up' : 'thumbs_down', source: 'user', time: iso(at + MIN),
      ...(scores ? { score_value: scores[1] } : {}),
    });
  });
  // Run 0's user first pressed thumbs down: only the later thumbs counts.
  out.push({ trace_id: calTrace(0), name: 'thumbs', score_label: 'thumbs_down', source: 'user', time: iso(T0 + 5000) });
  // A same-name pair on one span, with no configuration: judge and reviewer agree.
  out.push({ trace_id: calTrace(1), span_id: calChat(1), name: 'accuracy', score_label: 'correct', source: 'llm_judge', time: iso(T0 + MIN + 20_000) });
  out.push({ trace_id: calTrace(1), span_id: calChat(1), name: 'accuracy', score_label: 'incorrect', source: 'reviewer', time: iso(T0 + MIN + 30_000), correction: 'no' });
  // Not pairs: a reviewer's verdict of the same name on another span (not the run's root), and a human verdict of an unpaired name.
  out.push({ trace_id: calTrace(2), span_id: calChat(2), name: 'accuracy', score_label: 'correct', source: 'llm_judge', time: iso(T0 + 2 * MIN + 20_000) });
  out.push({ trace_id: calTrace(2), span_id: calTool(2), name: 'accuracy', score_label: 'incorrect', source: 'reviewer', time: iso(T0 + 2 * MIN + 30_000) });
  out.push({ trace_id: calTrace(3), name: 'tone', score_label: 'bad', source: 'user', time: iso(T0 + 3 * MIN + 30_000) });
  return out;
}

// ---------------------------------------------------------------------------
// Drift: one run a verdict, three weeks from D0.
// ---------------------------------------------------------------------------

const D0 = Date.UTC(2026, 0, 5);
interface Phase { fromDay: number; runs: number; negative: number; harness: string; model: string }
const PHASES: Phase[] = [
  { fromDay: 0, runs: 60, negative: 6, harness: '1.0', model: 'm1' },
  { fromDay: 7, runs: 60, negative: 8, harness: '1.1', model: 'm1' },
  { fromDay: 14, runs: 60, negative: 30, harness: '1.1', model: 'm2' },
];

function driftRequests(): Array<{ spans: SpanSpec[]; envelope: Envelope; verdicts: object[] }> {
  let n = 0;
  return PHASES.map((p) => {
    const spans: SpanSpec[] = [];
    const verdicts: object[] = [];
    for (let i = 0; i < p.runs; i++) {
      // Spread over the phase's seven days, never on its edges.
      const start = D0 + p.fromDay * DAY + 3_600_000 + Math.floor((i * (6 * DAY)) / p.runs);
      const trace = hexId(16, 20 + n);
      spans.push({
        traceId: trace, spanId: hexId(8, 2000 + n), name: 'invoke_agent drifter', start: ns(start), end: ns(start + 2000),
        attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.response.model': p.model, 'verdict.context.version': 'kb-1' },
      });
      verdicts.push({ trace_id: trace, name: 'quality', score_label: i < p.negative ? 'fail' : 'pass', source: 'llm_judge', time: iso(start + MIN) });
      n++;
    }
    return { spans, envelope: envelope('drift-agent', p.harness), verdicts };
  });
}

// ---------------------------------------------------------------------------
// Tasks: three runs of one request.
// ---------------------------------------------------------------------------

const TASK_T = T0 + 2 * DAY;
const TASK_TRACES = { good: hexId(16, 200), bad: hexId(16, 201), unjudged: hexId(16, 202) };
const messages = (text: string) => JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: text }] }]);
const answer = (text: string) => JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: 'stop' }]);

function taskRun(trace: string, seed: number, start: number, question: string, tools: Array<{ name: string; error?: boolean }>, reply: string): SpanSpec[] {
  const root = hexId(8, seed);
  const spans: SpanSpec[] = [
    { traceId: trace, spanId: root, name: 'invoke_agent refunds', start: ns(start), end: ns(start + 10_000), attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'refunds' } },
    {
      traceId: trace, spanId: hexId(8, seed + 1), parentSpanId: root, name: 'chat', start: ns(start + 100), end: ns(start + 1000),
      attributes: {
        'gen_ai.operation.name': 'chat', 'gen_ai.response.model': 'gpt-x', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10,
        'gen_ai.system_instructions': 'You answer refund questions.', 'gen_ai.input.messages': messages(question),
      },
    },
  ];
  tools.forEach((tool, k) => {
    spans.push({
      traceId: trace, spanId: hexId(8, seed + 2 + k), parentSpanId: root, name: `execute_tool ${tool.name}`, start: ns(start + 2000 + k * 1000), end: ns(start + 2500 + k * 1000),
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool.name, 'gen_ai.tool.call.arguments': JSON.stringify({ k }) },
      ...(tool.error ? { status: { code: 'error' as const, message: 'timed out' } } : {}),
    });
  });
  spans.push({
    traceId: trace, spanId: hexId(8, seed + 9), parentSpanId: root, name: 'chat', start: ns(start + 8000), end: ns(start + 9000),
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.response.model': 'gpt-x', 'gen_ai.usage.input_tokens': 200, 'gen_ai.usage.output_tokens': 20, 'gen_ai.output.messages': answer(reply) },
  });
  return spans;
}

const TASK_SPANS = [
  ...taskRun(TASK_TRACES.good, 7100, TASK_T, 'What is the refund policy?', [{ name: 'search_kb' }], 'Refunds within 30 days.'),
  ...taskRun(TASK_TRACES.bad, 7200, TASK_T + MIN, '  what is   the REFUND policy? ', [{ name: 'lookup_order', error: true }, { name: 'search_kb' }, { name: 'search_kb' }], 'I do not know.'),
  ...taskRun(TASK_TRACES.unjudged, 7300, TASK_T + 2 * MIN, 'What is the refund policy?', [], 'Refunds within 30 days.'),
];
const CORRECTION = 'Refunds are accepted within 30 days of delivery.';
const TASK_VERDICTS = [
  { trace_id: TASK_TRACES.good, name: 'resolved', score_label: 'pass', source: 'user', time: iso(TASK_T + 20_000) },
  { trace_id: TASK_TRACES.bad, name: 'resolved', score_label: 'fail', source: 'user', time: iso(TASK_T + MIN + 20_000) },
  { trace_id: TASK_TRACES.bad, name: 'review', score_label: 'incorrect', source: 'reviewer', time: iso(TASK_T + MIN + 40_000), correction: CORRECTION },
];

describe.each(BACKENDS)('the learning loop on %s', (backend) => {
  const t = serverForSuite(backend, { learningLoop: LOOP });

  const feedback = async (body: object[]) => {
    for (let i = 0; i < body.length; i += 500) {
      const res = await fetch(`${t.httpUrl}/v1/feedback`, { method: 'POST', body: JSON.stringify(body.slice(i, i + 500)), headers: { 'content-type': 'application/json' } });
      expect(res.status, await res.text()).toBe(200);
    }
  };
  const send = async (spans: SpanSpec[], env: Envelope) => {
    const r = await postJson(`${t.httpUrl}/v1/traces`, traces(spans, env).json());
    expect(r.status).toBe(200);
  };

  beforeAll(async () => {
    await send(calibrationSpans(), envelope('helper-agent', '2.0'));
    await feedback(calibrationVerdicts());
    for (const r of driftRequests()) {
      await send(r.spans, r.envelope);
      await feedback(r.verdicts);
    }
    await send(TASK_SPANS, envelope('refund-agent', '3.0'));
    await feedback(TASK_VERDICTS);
  }, 60_000);

  describe('judge calibration', () => {
    it('pairs each judge verdict with the latest human verdict on its run, by the configured pair', async () => {
      const pairs = await t.query<{ n: number; agree: number; first: string }>(`
        SELECT count(*)::int AS n, count(*) FILTER (WHERE agree)::int AS agree,
               min(human_label) FILTER (WHERE trace_id = '${calTrace(0)}') AS first
        FROM verdict.judge_human_pairs WHERE judge_evaluation = 'helpfulness' AND time >= '${iso(T0)}' AND time < '${iso(T0 + DAY)}'`);
      expect(pairs).toEqual([{ n: 20, agree: 15, first: 'thumbs_up' }]);
    });

    it('gives agreement 0.75, kappa 0.5, MAE 0.35 and Pearson r = 0.3/√0.375 for the judge, flagged under 0.6', async () => {
      const rows = await t.query<Record<string, any>>(`
        SELECT * FROM verdict.judge_calibration WHERE week >= '${iso(T0 - 7 * DAY)}' AND week < '${iso(T0 + 7 * DAY)}' AND judge = 'helpfulness'`);
      expect(rows).toHaveLength(1);
      const r = rows[0]!;
      expect(new Date(r.week).toISOString()).toBe('2025-12-29T00:00:00.000Z');
      expect({ model: r.judge_model, version: r.judge_version, pairs: r.pairs, polarity_pairs: r.polarity_pairs, agreements: r.agreements, scored: r.scored_pairs })
        .toEqual({ model: 'judge-model-a', version: 'v1', pairs: 20, polarity_pairs: 20, agreements: 15, scored: 4 });
      expect(r.agreement).toBeCloseTo(0.75, 12);
      expect(r.kappa).toBeCloseTo(0.5, 12);
      expect(r.mae).toBeCloseTo(0.35, 12);
      expect(r.pearson).toBeCloseTo(0.3 / Math.sqrt(0.375), 12);
      expect([r.kappa_threshold, r.below_threshold]).toEqual([0.6, true]);
      // The aggregate the dashboard and alerts use gives the same.
      const [agg] = await t.query<{ kappa: number }>(`SELECT verdict.polarity_kappa(judge_polarity, human_polarity) AS kappa FROM verdict.judge_human_pairs WHERE judge = 'helpfulness' AND time >= '${iso(T0)}' AND time < '${iso(T0 + DAY)}'`);
      expect(agg!.kappa).toBeCloseTo(0.5, 12);
    });

    it('pairs verdicts of the same name on the same span without configuration, and nothing else', async () => {
      const rows = await t.query<Record<string, any>>(`
        SELECT trace_id, judge_label, human_label, human_source, correction, agree FROM verdict.judge_human_pairs
        WHERE judge_evaluation = 'accuracy' AND time >= '${iso(T0)}' AND time < '${iso(T0 + DAY)}'`);
      expect(rows).toEqual([{ trace_id: calTrace(1), judge_label: 'correct', human_label: 'incorrect', human_source: 'reviewer', correction: 'no', agree: false }]);
    });

    it('lists the disagreements with the path of their review page', async () => {
      const rows = await t.query<{ trace_id: string; review_path: string }>(`
        SELECT trace_id, review_path FROM verdict.judge_disagreements WHERE time >= '${iso(T0)}' AND time < '${iso(T0 + DAY)}' ORDER BY time`);
      // The 3 + 2 off-diagonal runs of the table, and the accuracy pair.
      const expected = [7, 8, 9, 10, 11].map(calTrace).concat(calTrace(1)).sort();
      expect(rows.map((r) => r.trace_id).sort()).toEqual(expected);
      for (const r of rows) expect(r.review_path).toBe(`/review/trace/${r.trace_id}`);
    });

    it('stops pairing a span with its run when configured so, and syncs the settings idempotently', async () => {
      const count = async () => (await t.query<{ n: number }>(`SELECT count(*)::int AS n FROM verdict.judge_human_pairs WHERE judge_evaluation = 'helpfulness' AND time >= '${iso(T0)}' AND time < '${iso(T0 + DAY)}'`))[0]!.n;
      const other = parseLoopConfig({ pair_span_with_run: false, kappa_threshold: 0.4, judge_pairs: [{ judge: 'x', human: 'y' }] });
      try {
        await syncLoopSettings(t.db, other);
        await syncLoopSettings(t.db, other);
        expect(await count()).toBe(0);
        expect(await t.query(`SELECT judge_name, human_name FROM verdict.judge_pairs`)).toEqual([{ judge_name: 'x', human_name: 'y' }]);
        expect(await t.query(`SELECT kappa_threshold, pair_span_with_run FROM verdict.loop_settings`)).toEqual([{ kappa_threshold: 0.4, pair_span_with_run: false }]);
      } finally {
        await syncLoopSettings(t.db, LOOP);
      }
      expect(await count()).toBe(20);
      expect(await t.query(`SELECT judge_name, human_name FROM verdict.judge_pairs`)).toEqual([{ judge_name: 'helpfulness', human_name: 'thumbs' }]);
    });
  });

  describe('drift by layer', () => {
    it('counts verdicts and the negative rate by day and layer', async () => {
      const rows = await t.query<Record<string, any>>(`
        SELECT harness_version, model, context_version, sum(verdicts)::int AS verdicts, sum(negative)::int AS negative
        FROM verdict.verdict_drift WHERE day >= '${iso(D0)}' AND day < '${iso(D0 + 21 * DAY)}' AND service_name = 'drift-agent'
        GROUP BY 1, 2, 3 ORDER BY 1, 2`);
      expect(rows).toEqual([
        { harness_version: '1.0', model: 'm1', context_version: 'kb-1', verdicts: 60, negative: 6 },
        { harness_version: '1.1', model: 'm1', context_version: 'kb-1', verdicts: 60, negative: 8 },
        { harness_version: '1.1', model: 'm2', context_version: 'kb-1', verdicts: 60, negative: 30 },
      ]);
    });

    it('flags the model change and not the harness change within noise', async () => {
      const rows = await t.query<Record<string, any>>(`
        SELECT changed_at, layer, value, verdicts_before, negative_before, verdicts_after, negative_after, z, significant, worse
        FROM verdict.drift_changes_between('${iso(D0)}', '${iso(D0 + 21 * DAY)}') WHERE service_name = 'drift-agent' ORDER BY changed_at`);
      // Changes are dated by the hour the new value was first seen: each phase's first verdict is a minute into its first run's hour.
      expect(rows.map(({ z: _, ...r }) => ({ ...r, changed_at: new Date(r.changed_at).toISOString() }))).toEqual([
        { changed_at: iso(D0 + 7 * DAY + 3_600_000), layer: 'harness', value: '1.1', verdicts_before: 60, negative_before: 6, verdicts_after: 60, negative_after: 8, significant: false, worse: false },
        { changed_at: iso(D0 + 14 * DAY + 3_600_000), layer: 'model', value: 'm2', verdicts_before: 60, negative_before: 8, verdicts_after: 60, negative_after: 30, significant: true, worse: true },
      ]);
      expect(rows[0]!.z).toBeCloseTo(0.5687267663569997, 9);
      expect(rows[1]!.z).toBeCloseTo(4.317323375617514, 9);
    });
  });

  describe('tasks', () => {
    const since = new Date(TASK_T - DAY);
    const until = new Date(TASK_T + DAY);

    it('groups runs of one agent with the same normalised request, with their verdict mix', async () => {
      const rows = await t.query<Record<string, any>>(`
        SELECT task, agent_name, runs, good_runs, bad_runs, best_trace_id, worst_trace_id
        FROM verdict.tasks_between('${since.toISOString()}', '${until.toISOString()}')`);
      expect(rows).toEqual([{
        // The unjudged run is not counted: a task's runs are its judged ones.
        task: 'what is the refund policy?', agent_name: 'refunds', runs: 2, good_runs: 1, bad_runs: 1,
        best_trace_id: TASK_TRACES.good, worst_trace_id: TASK_TRACES.bad,
      }]);
    });

    it('compares the good and the bad run side by side', async () => {
      const [c] = await compareTasks(t.db, { trace: TASK_TRACES.unjudged, since, until, limit: 5 });
      expect(c).toMatchObject({
        good_trace_id: TASK_TRACES.good, bad_trace_id: TASK_TRACES.bad,
        good_tools: ['search_kb'], bad_tools: ['lookup_order', 'search_kb', 'search_kb'],
        good_spans: 4, bad_spans: 6, good_errors: 0, bad_errors: 1, good_duration_ms: 10_000, bad_duration_ms: 10_000,
      });
      expect(Number(c!.good_tokens)).toBe(330);
      expect(c!.good_verdicts.map((v) => [v.name, v.polarity])).toEqual([['resolved', 'positive']]);
      expect(c!.bad_verdicts.map((v) => [v.name, v.polarity])).toEqual([['resolved', 'negative'], ['review', 'negative']]);
    });
  });

  describe('the eval export', () => {
    const options = (v: Record<string, string | boolean>) => parseExportOptions(v, (m) => new Error(m), (n) => n);
    const collect = async (v: Record<string, string | boolean>, pageSize?: number) => {
      const lines: string[] = [];
      for await (const l of exportRuns(t.db, options(v), pageSize)) lines.push(l.line);
      return lines;
    };
    const taskRange = { since: iso(TASK_T - DAY), until: iso(TASK_T + DAY) };

    it('writes a failed run with its input, output, tools in order, spans, verdicts and correction (verdict format)', async () => {
      const lines = await collect({ ...taskRange, polarity: 'negative' });
      expect(lines).toHaveLength(1);
      expect(lines[0]!.endsWith('\n')).toBe(true);
      const doc = JSON.parse(lines[0]!);
      expect(doc.trace_id).toBe(TASK_TRACES.bad);
      expect(doc.cursor).toMatch(new RegExp(`^${ns(TASK_T + MIN)}-${TASK_TRACES.bad}$`));
      expect(doc.input.messages).toEqual([{ role: 'user', parts: [{ type: 'text', content: '  what is   the REFUND policy? ' }] }]);
      expect(doc.input.system).toEqual([{ type: 'text', content: 'You answer refund questions.' }]);
      expect(doc.output.text).toBe('I do not know.');
      expect(doc.tool_calls.map((c: any) => [c.name, c.status, c.arguments])).toEqual([['lookup_order', 'error', { k: 0 }], ['search_kb', 'unset', { k: 1 }], ['search_kb', 'unset', { k: 2 }]]);
      expect(doc.spans).toMatchObject({ count: 6, errors: 1, input_tokens: 300, output_tokens: 30, operations: { invoke_agent: 1, chat: 2, execute_tool: 3 } });
      expect(doc.verdicts.map((v: any) => [v.name, v.label, v.source])).toEqual([['resolved', 'fail', 'user'], ['review', 'incorrect', 'reviewer']]);
      expect(doc.expected_output).toBe(CORRECTION);
    });

    it('writes chat messages with the correction as the answer, and dataset items', async () => {
      const [messagesLine] = await collect({ ...taskRange, polarity: 'negative', format: 'messages' });
      expect(JSON.parse(messagesLine!)).toEqual({
        messages: [
          { role: 'system', content: 'You answer refund questions.' },
          { role: 'user', content: '  what is   the REFUND policy? ' },
          { role: 'assistant', content: CORRECTION },
        ],
      });
      const items = (await collect({ ...taskRange, format: 'dataset' })).map((l) => JSON.parse(l));
      expect(items.map((i) => i.metadata.trace_id)).toEqual([TASK_TRACES.good, TASK_TRACES.bad, TASK_TRACES.unjudged]);
      expect(items.map((i) => i.expected_output)).toEqual([null, CORRECTION, null]);
      expect(items[0].input.messages.at(-1)).toEqual({ role: 'user', content: 'What is the refund policy?' });
      expect(items[0].metadata.output).toBe('Refunds within 30 days.');
      // Without a correction: the runs nobody corrected.
      expect((await collect({ ...taskRange, correction: false })).map((l) => JSON.parse(l).trace_id)).toEqual([TASK_TRACES.good, TASK_TRACES.unjudged]);
    });

    it('pages by keyset in start order, and resumes after a cursor', async () => {
      const drift = { since: iso(D0), until: iso(D0 + 21 * DAY), service: 'drift-agent' };
      const all = (await collect(drift, 7)).map((l) => JSON.parse(l) as { trace_id: string; cursor: string });
      expect(all).toHaveLength(180);
      expect(new Set(all.map((d) => d.trace_id)).size).toBe(180);
      const keys = all.map((d) => d.cursor.split('-').map((x, i) => (i === 0 ? BigInt(x) : x)) as [bigint, string]);
      for (let i = 1; i < keys.length; i++) expect(keys[i]![0] > keys[i - 1]![0] || (keys[i]![0] === keys[i - 1]![0] && keys[i]![1] > keys[i - 1]![1])).toBe(true);
      const first = (await collect({ ...drift, limit: '50' }, 7)).map((l) => JSON.parse(l).trace_id);
      const rest = (await collect({ ...drift, after: all[49]!.cursor }, 7)).map((l) => JSON.parse(l).trace_id);
      expect([...first, ...rest]).toEqual(all.map((d) => d.trace_id));
      const negatives = await collect({ ...drift, polarity: 'negative', name: 'quality' }, 7);
      expect(negatives).toHaveLength(6 + 8 + 30);
    });

    it('streams the same lines over HTTP as the command writes', async () => {
      const query = new URLSearchParams({ since: iso(D0), until: iso(D0 + 21 * DAY), format: 'dataset' });
      const res = await fetch(`${t.httpUrl}/v1/export?${query}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
      const http = await res.text();
      let cli: string;
      if (backend === 'postgres') {
        // The command itself, against the same database.
        const out = await run(process.execPath, [BIN, 'export', '--database-url', t.config.databaseUrl!, '--since', iso(D0), '--until', iso(D0 + 21 * DAY), '--format', 'dataset'], { maxBuffer: 64 * 1024 * 1024 });
        cli = out.stdout;
        expect(out.stderr).toMatch(/exported 180 runs/);
      } else {
        // An embedded database belongs to one process: the lines the command writes, from its generator.
        cli = (await collect({ since: iso(D0), until: iso(D0 + 21 * DAY), format: 'dataset' })).join('');
      }
      expect(http.split('\n').length).toBe(181);
      expect(http).toBe(cli);
    });

    it('answers bad parameters with 400 and other methods with 405', async () => {
      const bad = await fetch(`${t.httpUrl}/v1/export?polarity=awful`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { message: string }).message).toMatch(/parameter polarity.*positive, negative, neutral/);
      const unknown = await fetch(`${t.httpUrl}/v1/export?colour=red`);
      expect(unknown.status).toBe(400);
      const post = await fetch(`${t.httpUrl}/v1/export`, { method: 'POST', body: '{}' });
      expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET']);
    });
  });
});
