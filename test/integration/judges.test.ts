/**
 * Online LLM judges against a fake OpenAI-compatible server over real HTTP,
 * on both databases: verdicts with provenance joined in
 * verdict.trace_evaluations, always_when, budgets that stop and resume,
 * 429 with Retry-After, 500, timeouts, malformed answers, and a reload with
 * a changed prompt. The judge pool is driven step by step on a clock the
 * test moves, except in the first test, where `verdict serve` runs it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Judges } from '../../src/app/judges.ts';
import { backfill } from '../../src/judges/backfill.ts';
import { parseEvaluators, type Evaluator } from '../../src/judges/config.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { emptyBatch, type EvaluationRow } from '../../src/model/rows.ts';
import { startFakeJudge, type FakeJudge } from '../helpers/fake-judge.ts';
import { hexId, T0, traces, type SpanSpec } from '../helpers/fixtures.ts';
import { postJson } from '../helpers/otlp.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

const PROMPT = 'Trace {{trace_id}}\nQuestion: {{input}}\nAnswer: {{output}}\nTools: {{tool_calls}}\nCorrection: {{correction}}\nIs the answer relevant?';
const OUTPUT = { score: { min: 0, max: 1, pass_at: 0.5 }, labels: { relevant: 'positive', irrelevant: 'negative' }, explanation: true };

const evaluator = (judge: FakeJudge, over: Record<string, unknown>) => ({
  target: 'trace', settle: '0s', model: { base_url: judge.baseUrl, model: 'judge-model', api_key_env: 'JUDGE_KEY' }, prompt: PROMPT, output: OUTPUT, ...over,
});
const ENV = { JUDGE_KEY: 'sk-test-judge' };
const evaluators = (judge: FakeJudge, ...list: Array<Record<string, unknown>>): readonly Evaluator[] => parseEvaluators(list.map((e) => evaluator(judge, e)), ENV);

/** A run: the agent's root, a chat span with messages, and a tool call. */
function run(n: number, opts: { error?: boolean; agent?: string; model?: string } = {}): { traceId: string; rootId: string; chatId: string; spans: SpanSpec[] } {
  const [traceId, rootId, chatId, toolId] = [hexId(16, n), hexId(8, n), hexId(8, n + 100_000), hexId(8, n + 200_000)];
  const messages = (q: string) => JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: q }] }]);
  const answer = JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: `It is sunny in Paris (run ${n}).` }], finish_reason: 'stop' }]);
  return {
    traceId, rootId, chatId,
    spans: [
      { traceId, spanId: rootId, name: 'invoke_agent weather', start: T0, end: T0 + 3_000_000_000n, attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': opts.agent ?? 'weather' }, ...(opts.error ? { status: { code: 'error' as const } } : {}) },
      { traceId, spanId: chatId, parentSpanId: rootId, name: 'chat gpt-4o', start: T0 + 100_000_000n, end: T0 + 2_000_000_000n,
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': opts.model ?? 'gpt-4o', 'gen_ai.input.messages': messages(`Weather in Paris? (run ${n})`), 'gen_ai.output.messages': answer } },
      { traceId, spanId: toolId, parentSpanId: rootId, name: 'execute_tool get_weather', start: T0 + 2_100_000_000n, end: T0 + 2_500_000_000n,
        attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'get_weather', 'gen_ai.tool.call.arguments': '{"city":"Paris"}', 'gen_ai.tool.call.result': '{"temperature_c":18}' } },
    ],
  };
}

async function send(t: TestServer, ...runs: Array<ReturnType<typeof run>>): Promise<void> {
  const res = await postJson(`${t.httpUrl}/v1/traces`, traces(runs.flatMap((r) => r.spans)).json());
  expect(res.status).toBe(200);
}

function capturingLogger(): { log: Logger; lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = [];
  return { lines, log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) };
}

describe.each(BACKENDS)('online judges on %s', (backend) => {
  // Two fake judges: one for the server's own pool (real clock, in the background), one for the pools driven by hand.
  let served: FakeJudge;
  let judge: FakeJudge;
  let t: TestServer;
  beforeAll(async () => {
    [served, judge] = await Promise.all([startFakeJudge(), startFakeJudge()]);
    t = await startTestServer(backend, {
      evaluators: evaluators(served, { name: 'relevance', target: 'span', where: { operation: 'chat', model: '*-served' } }, { name: 'task_success', target: 'trace', where: { agent: 'weather-served' } }),
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([served?.close(), judge?.close()]);
  });

  describe('inside verdict serve', () => {
    it('a span judge and a trace judge write verdicts joined in verdict.trace_evaluations, with provenance, once each', async () => {
      const r = run(1, { agent: 'weather-served', model: 'gpt-4o-served' });
      await send(t, r);
      await send(t, r); // re-sent: the same targets, still judged once
      await waitUntil('both jobs done', async () => (await t.query(`SELECT 1 FROM verdict.judge_jobs WHERE trace_id = '${r.traceId}' AND status = 'done'`)).length === 2, { timeoutMs: 20_000 });
      const rows = await waitUntil('two judge verdicts', async () => {
        const got = await t.query<Record<string, any>>(`SELECT name, target, trace_id, span_id, span_name, channel, source, polarity, score_value, score_label, explanation, error_type, attributes
          FROM verdict.trace_evaluations WHERE trace_id = '${r.traceId}' AND source = 'llm_judge' ORDER BY name`);
        return got.length === 2 ? got : null;
      }, { timeoutMs: 20_000 });
      const [relevance, success] = t.config.evaluators;
      expect(rows[0]).toMatchObject({ name: 'relevance', target: 'span', trace_id: r.traceId, span_id: r.chatId, span_name: 'chat gpt-4o', channel: 'judge', polarity: 'positive', score_value: 0.9, score_label: 'relevant', explanation: 'on topic', error_type: null });
      expect(rows[1]).toMatchObject({ name: 'task_success', target: 'trace', trace_id: r.traceId, span_id: null, span_name: 'invoke_agent weather', channel: 'judge', polarity: 'positive' });
      for (const [row, ev] of [[rows[0], relevance], [rows[1], success]] as const) {
        expect(row!.attributes).toMatchObject({
          'verdict.evaluator.name': ev!.name, 'verdict.evaluator.version': ev!.version, 'gen_ai.request.model': 'judge-model',
          'gen_ai.response.model': 'judge-model-2026-01-01', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 20,
          'verdict.judge.latency_ms': expect.any(Number),
        });
      }
      // The jobs are done and name their verdicts; the judge was asked once per target, with structured output and the key.
      const jobs = await t.query(`SELECT evaluator, status, attempts, verdict_id IS NOT NULL AS has_verdict FROM verdict.judge_jobs WHERE trace_id = '${r.traceId}' ORDER BY evaluator`);
      expect(jobs).toEqual([{ evaluator: 'relevance', status: 'done', attempts: 1, has_verdict: true }, { evaluator: 'task_success', status: 'done', attempts: 1, has_verdict: true }]);
      expect(served.calls).toBe(2);
      const req = served.requests[0]!;
      expect(req.headers.authorization).toBe('Bearer sk-test-judge');
      expect(req.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { strict: true, schema: { required: ['score', 'label', 'explanation'], additionalProperties: false } } });
      const prompts = served.requests.map((q) => q.prompt).join('\n');
      expect(prompts).toContain('Question: Weather in Paris? (run 1)');
      expect(prompts).toContain('Answer: It is sunny in Paris (run 1).');
      expect(prompts).toContain('get_weather({"city":"Paris"}) -> {"temperature_c":18}');
      const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/verdict_judge_jobs_total\{evaluator="relevance",outcome="done"\} 1/);
      expect(metrics).toMatch(/verdict_judge_tokens_total\{evaluator="task_success",kind="input"\} 100/);
    });
  });

  describe('the pool, step by step', () => {
    let now = Date.UTC(2026, 11, 1, 10, 0, 0);
    const clock = () => now;
    const open: Judges[] = [];
    afterAll(async () => {
      for (const j of open) await j.close();
    });

    /** Writes verdict rows through the suite's batcher, as `serve` does. */
    const submit = (rows: EvaluationRow[]) => {
      const batch = emptyBatch();
      batch.evaluations = rows;
      return t.server.batcher.submit(batch, 1024);
    };

    /** Judges for these evaluators on the suite's server, driven by hand; jobs queued by backfill. */
    function manual(list: readonly Evaluator[], log: Logger = silentLogger, configFile: string | null = null, opts: { write?: typeof submit; concurrency?: number } = {}) {
      const judges = new Judges({ cfg: { ...t.config, evaluators: list, configFile }, env: ENV, log, registry: new Registry(), clock, ...(opts.concurrency ? { concurrency: opts.concurrency } : {}) });
      const pool = judges.start(t.server.store, opts.write ?? submit, { run: false });
      open.push(judges);
      /** Queues these runs' jobs (backfill over the suite's time range, then only these runs' jobs kept). */
      const queue = async (...runs: Array<{ traceId: string }>) => {
        await backfill(t.db, { since: new Date(Date.UTC(2025, 11, 31)), until: new Date(Date.UTC(2026, 0, 2)), evaluators: judges.evaluators.current(), now });
        const keep = runs.map((r) => `'${r.traceId}'`).join(', ');
        for (const e of judges.evaluators.current()) await t.query(`DELETE FROM verdict.judge_jobs WHERE evaluator = '${e.name}' AND status = 'queued' AND trace_id NOT IN (${keep})`);
      };
      return { judges, pool, queue };
    }
    const job = async (name: string, traceId: string) =>
      (await t.query<Record<string, any>>(`SELECT status, attempts, last_error, extract(epoch FROM not_before)::float8 * 1000 AS not_before_ms FROM verdict.judge_jobs WHERE evaluator = '${name}' AND trace_id = '${traceId}'`))[0];
    const verdicts = (name: string) => t.query<Record<string, any>>(`SELECT trace_id, error_type, explanation, attributes FROM verdict.evaluations WHERE name = '${name}' ORDER BY trace_id`);

    it('always_when overrides the rate: a run with a negative user verdict is judged at rate 0, the others are not', async () => {
      judge.reset();
      const [a, b] = [run(11), run(12)];
      await send(t, a, b);
      const fb = await postJson(`${t.httpUrl}/v1/feedback`, { trace_id: a.traceId, name: 'user_rating', score_label: 'thumbs_down' });
      expect(fb.status).toBe(200);
      const { pool, queue } = manual(evaluators(judge, { name: 'escalation', sample: { rate: 0, always_when: [{ has_verdict: { source: 'user', polarity: 'negative' } }] } }));
      await queue(a, b);
      expect(await pool.drain()).toBe(2);
      expect(judge.calls).toBe(1);
      expect(judge.requests[0]!.prompt).toContain(`Trace ${a.traceId}`);
      expect((await verdicts('escalation')).map((v) => v.trace_id)).toEqual([a.traceId]);
      expect(await job('escalation', b.traceId)).toMatchObject({ status: 'skipped', last_error: 'not in the sample' });
    });

    it('a worker goes on judging while its verdicts wait for their commit, and finishes each job once its verdict has committed', async () => {
      judge.reset();
      const runs = [41, 42, 43, 44, 45].map((n) => run(n));
      await send(t, ...runs);
      // A group commit that takes as long as the test likes.
      let commit!: () => void;
      const committing = new Promise<void>((resolve) => (commit = resolve));
      const { judges, pool, queue } = manual(evaluators(judge, { name: 'pipelined' }), silentLogger, null, {
        concurrency: 1,
        write: (rows) => committing.then(() => submit(rows)),
      });
      await queue(...runs);
      pool.start();
      try {
        // One worker has judged all five while none of their verdicts has committed.
        await waitUntil('five judge calls', async () => judge.calls === 5, { timeoutMs: 15_000 });
        expect(await t.query(`SELECT status, count(*)::int AS n FROM verdict.judge_jobs WHERE evaluator = 'pipelined' GROUP BY 1`)).toEqual([{ status: 'running', n: 5 }]);
        expect(await verdicts('pipelined')).toEqual([]);
        commit();
        await waitUntil('five jobs done', async () => (await t.query(`SELECT 1 FROM verdict.judge_jobs WHERE evaluator = 'pipelined' AND status = 'done'`)).length === 5, { timeoutMs: 15_000 });
        expect((await verdicts('pipelined')).map((v) => v.trace_id)).toEqual(runs.map((r) => r.traceId).sort());
        expect(judge.calls).toBe(5);
      } finally {
        commit();
        await judges.close();
      }
    });

    it("shows the judge the run's input and output text that verdict.traces shows", async () => {
      judge.reset();
      const msg = (role: string, text: string) => JSON.stringify([{ role, parts: [{ type: 'text', content: text }] }]);
      const chat = (traceId: string, spanId: string, rootId: string, start: bigint, end: bigint, q: string, a: string): SpanSpec => ({
        traceId, spanId, parentSpanId: rootId, name: 'chat', start, end,
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': msg('user', q), 'gen_ai.output.messages': msg('assistant', a) },
      });
      // The root's own text wins over its model calls'.
      const own = run(61);
      own.spans[0]!.attributes = { ...own.spans[0]!.attributes, 'gen_ai.input.messages': msg('user', 'root question 61'), 'gen_ai.output.messages': msg('assistant', 'root answer 61') };
      // No text on the root: the first call's input by start time, the last call's output by end time,
      // and between calls that start (or end) together, the lower (higher) span ID.
      const calls = run(62);
      const [tid, rid] = [calls.traceId, calls.rootId];
      calls.spans.push(
        chat(tid, hexId(8, 62_001), rid, T0 + 50_000_000n, T0 + 2_900_000_000n, 'first question 62', 'last answer 62'),
        chat(tid, hexId(8, 62_002), rid, T0 + 50_000_000n, T0 + 2_900_000_000n, 'tied question 62', 'tied answer 62'),
        chat(tid, hexId(8, 62_003), rid, T0 + 60_000_000n, T0 + 2_800_000_000n, 'later question 62', 'earlier answer 62'),
      );
      await send(t, own, calls);
      const { pool, queue } = manual(evaluators(judge, { name: 'texts', prompt: 'Trace {{trace_id}}\nInput: {{input}}\nOutput: {{output}}' }));
      await queue(own, calls);
      expect(await pool.drain()).toBe(2);
      const shown = new Map(judge.requests.map((q) => [/Trace ([0-9a-f]{32})/.exec(q.prompt)![1]!, q.prompt]));
      const views = await t.query<{ trace_id: string; input_text: string; output_text: string }>(`SELECT trace_id, input_text, output_text FROM verdict.traces WHERE trace_id IN ('${own.traceId}', '${tid}') ORDER BY trace_id`);
      const want: Record<string, [string, string]> = { [own.traceId]: ['root question 61', 'root answer 61'], [tid]: ['first question 62', 'tied answer 62'] };
      expect(Object.fromEntries(views.map((v) => [v.trace_id, [v.input_text, v.output_text]]))).toEqual(want);
      for (const v of views) expect(shown.get(v.trace_id)).toBe(`Trace ${v.trace_id}\nInput: ${v.input_text}\nOutput: ${v.output_text}`);
    });

    it("shows the judge a reviewer's correction of the run where the prompt asks for one", async () => {
      judge.reset();
      const r = run(51);
      await send(t, r);
      const fb = await postJson(`${t.httpUrl}/v1/feedback`, { trace_id: r.traceId, name: 'correctness', source: 'reviewer', score_label: 'incorrect', correction: 'It is raining in Paris.' });
      expect(fb.status).toBe(200);
      const { pool, queue } = manual(evaluators(judge, { name: 'with_correction' }, { name: 'without_correction', prompt: 'Question: {{input}}\nAnswer: {{output}}' }));
      await queue(r);
      expect(await pool.drain()).toBe(2);
      const prompts = judge.requests.map((q) => q.prompt);
      expect(prompts.filter((p) => p.includes('Correction: It is raining in Paris.'))).toHaveLength(1);
      expect(prompts.filter((p) => p.startsWith('Question: Weather in Paris? (run 51)'))).toHaveLength(1);
    });

    it('the per-minute and per-day budgets stop calls, and calls resume in the next minute and day', async () => {
      judge.reset();
      const runs = [21, 22, 23, 24].map((n) => run(n));
      await send(t, ...runs);
      const { pool, queue } = manual(evaluators(judge, { name: 'per_minute', budget: { calls_per_minute: 2 } }));
      await queue(...runs);
      await pool.drain();
      expect(judge.calls).toBe(2);
      expect((await verdicts('per_minute')).length).toBe(2);
      await pool.drain(); // the same minute: still nothing
      expect(judge.calls).toBe(2);
      now += 60_000;
      await pool.drain();
      expect(judge.calls).toBe(4);
      expect((await verdicts('per_minute')).length).toBe(4);

      judge.reset();
      // 120 tokens a call (the fake's usage): the third call would pass 200.
      const daily = manual(evaluators(judge, { name: 'per_day', budget: { tokens_per_day: 200 } }));
      await daily.queue(...runs);
      await daily.pool.drain();
      expect(judge.calls).toBe(2);
      // The job that found the budget spent waits for the next day; once the pool knows, it claims no more until then.
      const waiting = await t.query<{ last_error: string | null; attempts: number }>(`SELECT last_error, attempts FROM verdict.judge_jobs WHERE evaluator = 'per_day' AND status = 'queued' ORDER BY last_error NULLS LAST`);
      expect(waiting).toEqual([{ last_error: 'the daily token budget is spent', attempts: 0 }, { last_error: null, attempts: 0 }]);
      now += 3_600_000;
      await daily.pool.drain();
      expect(judge.calls).toBe(2);
      now += 86_400_000;
      await daily.pool.drain();
      expect(judge.calls).toBe(4);
    });

    it('429 with Retry-After waits that long; 500 is retried with backoff and fails after the retries, with a log line naming the cause', async () => {
      judge.reset();
      const a = run(31);
      await send(t, a);
      const { log, lines } = capturingLogger();
      const limited = manual(evaluators(judge, { name: 'limited', where: { agent: 'weather' }, retries: 1 }), log);
      // Only a's job: the scripted replies go to one target.
      await limited.queue(a);
      judge.next({ status: 429, retryAfter: '7' });
      await limited.pool.drain();
      expect(judge.calls).toBe(1);
      const after429 = await job('limited', a.traceId);
      expect(after429).toMatchObject({ status: 'queued', attempts: 1, last_error: expect.stringMatching(/^rate_limited/) });
      expect(after429!.not_before_ms).toBe(now + 7000);
      now += 6000;
      await limited.pool.drain();
      expect(judge.calls).toBe(1);
      now += 1000;
      judge.next({ status: 500 });
      await limited.pool.drain();
      expect(judge.calls).toBe(2);
      // retries: 1, so the second failure (attempt 2) ends the job.
      expect(await job('limited', a.traceId)).toMatchObject({ status: 'failed', attempts: 2, last_error: expect.stringMatching(/^server_error: 500/) });
      expect((await verdicts('limited')).length).toBe(0);
      const failures = lines.filter((l) => l.msg?.startsWith('judge call failed'));
      expect(failures.map((l) => [l.cause, l.retry])).toEqual([['rate_limited', true], ['server_error', false]]);
    });

    it('a timeout is retried; then the answer is stored', async () => {
      judge.reset();
      const a = run(41);
      await send(t, a);
      const slow = manual(evaluators(judge, { name: 'slow', timeout: '200ms' }));
      await slow.queue(a);
      judge.next({ delayMs: 1500 });
      await slow.pool.drain();
      expect(await job('slow', a.traceId)).toMatchObject({ status: 'queued', attempts: 1, last_error: 'timeout: no answer within 200 ms' });
      now += 60_000;
      await slow.pool.drain();
      expect(await job('slow', a.traceId)).toMatchObject({ status: 'done', attempts: 2 });
      expect((await verdicts('slow')).map((v) => [v.trace_id, v.error_type, v.attributes['verdict.judge.attempts']])).toEqual([[a.traceId, null, 2]]);
    });

    it('an answer that does not fit the output spec becomes a verdict with error_type and the raw answer', async () => {
      judge.reset();
      const [a, b, c] = [run(51), run(52), run(53)];
      await send(t, a, b, c);
      const strict = manual(evaluators(judge, { name: 'strict' }));
      await strict.queue(a, b, c);
      const bad = new Map([[a.traceId, 'Sure! It is relevant.'], [b.traceId, JSON.stringify({ score: 3, label: 'relevant', explanation: 'x' })], [c.traceId, JSON.stringify({ score: 1, label: 'great', explanation: 'x' })]]);
      judge.setDefault((req) => ({ answer: bad.get(/Trace ([0-9a-f]{32})/.exec(req.prompt)![1]!) }));
      await strict.pool.drain();
      const rows = await verdicts('strict');
      expect(rows.map((r) => [r.trace_id, r.error_type, r.explanation, r.attributes['verdict.judge.raw_answer']])).toEqual([a, b, c]
        .map((x) => x.traceId).sort()
        .map((id) => [id, 'invalid_output', id === a.traceId ? 'the answer is not JSON' : id === b.traceId ? 'the score 3 is outside 0..1' : 'the label "great" is not one of relevant, irrelevant', bad.get(id)]));
      const jobs = await t.query(`SELECT DISTINCT status FROM verdict.judge_jobs WHERE evaluator = 'strict'`);
      expect(jobs).toEqual([{ status: 'done' }]);
    });

    it('a reload with a changed prompt makes a new version: the run is judged again, and the old verdict keeps its version', async () => {
      judge.reset();
      const a = run(61);
      await send(t, a);
      const file = join(tempDir('judges-reload'), 'verdict.yaml');
      const write = (prompt: string) => writeFileSync(file, JSON.stringify({ evaluators: [evaluator(judge, { name: 'reloaded', prompt })] }));
      write('v1 {{trace_id}} {{output}}');
      const first = parseEvaluators([evaluator(judge, { name: 'reloaded', prompt: 'v1 {{trace_id}} {{output}}' })], ENV);
      const m = manual(first, silentLogger, file);
      await m.queue(a);
      await m.pool.drain();
      write('v2 {{trace_id}} {{output}} {{input}}');
      expect(m.judges.reload()).toBe(true);
      const [second] = m.judges.evaluators.current();
      expect(second!.version).not.toBe(first[0]!.version);
      await m.queue(a);
      await m.pool.drain();
      const rows = await verdicts('reloaded');
      expect(rows.map((r) => r.attributes['verdict.evaluator.version']).sort()).toEqual([first[0]!.version, second!.version].sort());
      expect(judge.requests.map((q) => q.prompt.slice(0, 2))).toEqual(['v1', 'v2']);
      // An invalid file keeps the evaluators in force.
      writeFileSync(file, JSON.stringify({ evaluators: [evaluator(judge, { name: 'reloaded', sample: { rate: 2 } })] }));
      expect(m.judges.reload()).toBe(false);
      expect(m.judges.evaluators.current()[0]!.version).toBe(second!.version);
    });
  });
});
