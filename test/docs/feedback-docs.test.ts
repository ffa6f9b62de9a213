/**
 * The examples of docs/feedback.md, run as written against a live Verdict:
 * `http://localhost:4318` in them is pointed at the test server, nothing else
 * changes. The Python SDK example is only compiled (the SDK cannot be
 * installed here); the standard-library Python example runs.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicy, parseFeedbackConfig } from '../../src/feedback/policy.ts';
import { makeSpans, Payload } from '../../bench/workload.ts';
import { examples } from '../helpers/markdown.ts';
import { postProto } from '../helpers/otlp.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';

const DOC = new URL('../../docs/feedback.md', import.meta.url);
const all = examples(DOC);
const byKind = (kind: string) => all.filter((e) => e.kind === kind);
const JUDGED = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const REPO = fileURLToPath(new URL('../../', import.meta.url));
// The server runs in this process: examples must run asynchronously, or they would wait on a blocked event loop.
const run = async (cmd: string, args: string[]) => (await promisify(execFile)(cmd, args, { encoding: 'utf8', timeout: 30_000 })).stdout;

describe('docs/feedback.md', () => {
  it('marks the examples this test runs', () => {
    expect(all.map((e) => e.kind)).toEqual(['js', 'python-sdk', 'python-stdlib', 'curl', 'config', 'sql', 'sql', 'sql', 'sql']);
  });

  it('has a Python SDK example that compiles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'verdict-docs-'));
    const file = join(dir, 'judge.py');
    writeFileSync(file, byKind('python-sdk')[0]!.code);
    execFileSync('python3', ['-m', 'py_compile', file]);
    expect(byKind('python-sdk')[0]!.code).toContain('event_name="gen_ai.evaluation.result"');
  });

  it('has a feedback configuration that validates and means what the text says', () => {
    const doc = parse(byKind('config')[0]!.code) as { feedback: unknown };
    const policy = createPolicy(parseFeedbackConfig(doc.feedback));
    expect(policy.polarityFor('Relevance', null, 0.3)).toBe('negative');
    expect(policy.polarityFor('toxicity_v1', null, 0.05)).toBe('positive');
    expect(policy.polarityFor('x', 'meh', null)).toBe('neutral');
    expect(policy.sourceFor('Faithfulness', 'ragas-worker')).toBe('llm_judge');
    expect(policy.sourceFor('user_rating', 'web')).toBe('user');
  });
});

describe.each(BACKENDS)('docs/feedback.md examples against %s', (backend) => {
  let t: TestServer;
  const local = (code: string) => code.replaceAll('http://localhost:4318', t.httpUrl);
  beforeAll(async () => {
    t = await startTestServer(backend);
    // A judged span for the examples, and agent runs (with LLM-judge verdicts, some failing) for the queries.
    const spans = await makeSpans(12, 5);
    expect((await postProto(`${t.httpUrl}/v1/traces`, new Payload(spans).bytes)).status).toBe(200);
    const judged = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: JUDGED.traceId, spanId: JUDGED.spanId, name: 'chat gpt-4o', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000', attributes: [{ key: 'gen_ai.conversation.id', value: { stringValue: 'conv-docs' } }] }] }] }] };
    expect((await fetch(`${t.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(judged) })).status).toBe(200);
    // A run of the last hour that a judge failed: the queries look at the last day.
    const now = BigInt(Date.now()) * 1_000_000n;
    const recent = { resourceSpans: [{ scopeSpans: [{ spans: [{
      traceId: 'fe'.repeat(16), spanId: 'fe'.repeat(8), name: 'invoke_agent support', startTimeUnixNano: String(now - 3_000_000_000n), endTimeUnixNano: String(now - 1_000_000_000n),
      events: [{ timeUnixNano: String(now), name: 'gen_ai.evaluation.result', attributes: [{ key: 'gen_ai.evaluation.name', value: { stringValue: 'AnswerQuality' } }, { key: 'gen_ai.evaluation.score.label', value: { stringValue: 'fail' } }] }],
    }] }] }] };
    expect((await fetch(`${t.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(recent) })).status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  const verdictOn = (name: string) => t.query(`SELECT trace_id, span_id, name, score_label, source, channel, polarity, evaluator_service_name AS service_name FROM verdict.trace_evaluations WHERE name = '${name}'`);

  it('runs the JavaScript example', async () => {
    const dir = join(REPO, 'test', '.tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `docs-example-${backend}.mjs`);
    writeFileSync(file, local(byKind('js')[0]!.code));
    try {
      await run(process.execPath, [file]);
    } finally {
      rmSync(file, { force: true });
    }
    expect(await verdictOn('Relevance')).toEqual([{ ...trace(), name: 'Relevance', score_label: 'not_relevant', source: 'llm_judge', channel: 'log', polarity: 'negative', service_name: 'support-judge' }]);
  });

  it('runs the standard-library Python example', async () => {
    const out = await run('python3', ['-c', local(byKind('python-stdlib')[0]!.code)]);
    expect(out.trim()).toBe('200');
    expect(await verdictOn('TaskSuccess')).toEqual([{ ...trace(), name: 'TaskSuccess', score_label: 'fail', source: 'reviewer', channel: 'log', polarity: 'negative', service_name: 'nightly-review' }]);
  });

  it('runs the curl example and gets the answer the text promises', async () => {
    const out = await run('sh', ['-c', local(byKind('curl')[0]!.code)]);
    expect(JSON.parse(out)).toEqual({ accepted: 1, ids: ['ticket-4711-reopened'] });
    expect(await verdictOn('ticket_reopened')).toEqual([{ trace_id: JUDGED.traceId, span_id: null, name: 'ticket_reopened', score_label: 'reopened', source: 'indirect', channel: 'api', polarity: 'negative', service_name: null }]);
  });

  it.each(byKind('sql').map((e, i) => [i + 1, e] as const))('runs SQL example %i and gets rows', async (_i, example) => {
    const rows = await t.query(example.code.replace(/;\s*$/, ''));
    expect(rows.length).toBeGreaterThan(0);
  });

  const trace = () => ({ trace_id: JUDGED.traceId, span_id: JUDGED.spanId });
});
