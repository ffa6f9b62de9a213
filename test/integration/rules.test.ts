/**
 * Deterministic rules at ingest (every kind), polarity and source attribution
 * from configuration, and rule reloading without a restart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFeedbackConfig } from '../../src/feedback/policy.ts';
import { ConfigError } from '../../src/errors.ts';
import { startServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';
import { BACKENDS, baseConfig, startTestServer, type TestServer } from '../helpers/server.ts';
import { postJson } from '../helpers/otlp.ts';
import { hexId, logs, service, T0, traces, type Attributes, type SpanSpec } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/tmp.ts';

const example = readFileSync(new URL('../../examples/rules.yaml', import.meta.url), 'utf8');
const EXTRA = `
  - name: server_error_status
    kind: regex
    pattern: '^5\\d\\d$'
    attribute: http.response.status_code
    label: fail
  - name: huge_prompt
    kind: threshold
    attribute: gen_ai.usage.input_tokens
    above: 100000
  - name: catastrophic
    kind: regex
    pattern: '(a+)+$'
    label: aaa
`;
const messages = (...turns: Array<[string, string]>) => JSON.stringify(turns.map(([role, content]) => ({ role, parts: [{ type: 'text', content }] })));
const llm = (traceId: string, spanId: string, attributes: Attributes = {}, extra: Partial<SpanSpec> = {}): SpanSpec => ({
  traceId, spanId, name: 'chat gpt-4o', kind: 'client', attributes: { 'gen_ai.operation.name': 'chat', ...attributes }, ...extra,
});
const verdicts = (t: TestServer, where: string) =>
  t.query(`SELECT name, trace_id, span_id, score_label, channel, source, polarity, explanation, conversation_id, service_name FROM verdict.evaluations WHERE ${where} ORDER BY name, trace_id, span_id`);

describe.each(BACKENDS)('rules and policy on %s', (backend) => {
  let t: TestServer;
  let dir: string;
  let rulesFile: string;
  beforeAll(async () => {
    dir = tempDir('rules');
    rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, example + EXTRA);
    t = await startTestServer(backend, {
      rulesFile,
      feedback: parseFeedbackConfig({ sources: [{ service: 'judge-*', source: 'llm_judge' }, { name: 'user_*', source: 'user' }], polarity: { labels: { meh: 'neutral' } } }),
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('regex: flags a frustrated user message once per run, from JSON-string or structured messages', async () => {
    const traceId = hexId(16, 81);
    const history = messages(['user', 'Where is my parcel?'], ['assistant', 'It ships today.'], ['user', 'This SUCKS, it has been a week']);
    const structured = [{ role: 'user', parts: [{ type: 'text', content: 'awful, just awful' }] }];
    const res = await postJson(`${t.httpUrl}/v1/traces`, traces([
      llm(traceId, hexId(8, 1), { 'gen_ai.input.messages': history, 'gen_ai.conversation.id': 'conv-81' }),
      // A second call in the same run carries the same newest user message: no second verdict.
      llm(traceId, hexId(8, 2), { 'gen_ai.input.messages': history }),
      llm(traceId, hexId(8, 3), { 'gen_ai.input.messages': structured }),
      // Frustration only in an old turn is not this call's input.
      llm(traceId, hexId(8, 4), { 'gen_ai.input.messages': messages(['user', 'wtf'], ['assistant', 'sorry'], ['user', 'thanks, all good']) }),
    ]).json());
    expect(res.status).toBe(200);
    expect(await verdicts(t, `trace_id = '${traceId}' AND name = 'user_frustration'`)).toEqual([
      { name: 'user_frustration', trace_id: traceId, span_id: hexId(8, 1), score_label: 'negative', channel: 'rule', source: 'rule', polarity: 'negative', explanation: 'The user expressed frustration.', conversation_id: 'conv-81', service_name: 'verdict' },
      { name: 'user_frustration', trace_id: traceId, span_id: hexId(8, 3), score_label: 'negative', channel: 'rule', source: 'rule', polarity: 'negative', explanation: 'The user expressed frustration.', conversation_id: null, service_name: 'verdict' },
    ]);
    // Re-sent: nothing twice.
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([llm(traceId, hexId(8, 1), { 'gen_ai.input.messages': history })]).json())).status).toBe(200);
    expect((await verdicts(t, `trace_id = '${traceId}' AND name = 'user_frustration'`)).length).toBe(2);
  });

  it('regex: reads gen_ai.user.message event bodies and named attributes', async () => {
    const traceId = hexId(16, 82);
    expect((await postJson(`${t.httpUrl}/v1/logs`, logs([
      { eventName: 'gen_ai.user.message', time: T0, traceId, spanId: hexId(8, 1), body: { content: 'Horrible experience' } },
    ]).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([
      { traceId, spanId: hexId(8, 2), name: 'GET', end: T0 + 100_000_000n, attributes: { 'http.response.status_code': 503 } },
      { traceId, spanId: hexId(8, 3), name: 'GET', end: T0 + 100_000_000n, attributes: { 'http.response.status_code': 200 } },
    ]).json())).status).toBe(200);
    const rows = await verdicts(t, `trace_id = '${traceId}'`);
    expect(rows.map((r) => [r.name, r.span_id, r.score_label, r.polarity, r.explanation])).toEqual([
      ['server_error_status', hexId(8, 2), 'fail', 'negative', 'matched "503" in attribute http.response.status_code'],
      ['user_frustration', hexId(8, 1), 'negative', 'negative', 'The user expressed frustration.'],
    ]);
  });

  it('regex: a catastrophic-backtracking pattern on a 1 MB message finishes promptly', async () => {
    const traceId = hexId(16, 83);
    const started = performance.now();
    const res = await postJson(`${t.httpUrl}/v1/traces`, traces([llm(traceId, hexId(8, 1), { 'gen_ai.input.messages': messages(['user', `${'a'.repeat(1024 * 1024)}!`]) })]).json());
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(5000);
    expect(await verdicts(t, `trace_id = '${traceId}' AND name = 'catastrophic'`)).toEqual([]);
    const match = hexId(16, 84);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([llm(match, hexId(8, 1), { 'gen_ai.input.messages': messages(['user', 'a'.repeat(1024 * 1024)]) })]).json())).status).toBe(200);
    expect((await verdicts(t, `trace_id = '${match}' AND name = 'catastrophic'`)).length).toBe(1);
  });

  it('status: a GenAI span that ended in error gets a negative verdict; other spans do not', async () => {
    const traceId = hexId(16, 85);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([
      llm(traceId, hexId(8, 1), {}, { status: { code: 'error', message: 'rate limited' } }),
      { traceId, spanId: hexId(8, 2), name: 'db query', status: { code: 'error' } },
      llm(traceId, hexId(8, 3), {}, { status: { code: 'ok' } }),
    ]).json())).status).toBe(200);
    expect((await verdicts(t, `trace_id = '${traceId}'`)).map((r) => [r.name, r.span_id, r.score_label, r.polarity, r.explanation])).toEqual([
      ['genai_error', hexId(8, 1), 'error', 'negative', 'rate limited'],
    ]);
  });

  it('threshold: duration and numeric attributes over a bound, for the operations named', async () => {
    const traceId = hexId(16, 86);
    const end = T0 + 45_000_000_000n; // a 45 s call
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([
      llm(traceId, hexId(8, 1), {}, { end }),
      llm(traceId, hexId(8, 2), { 'gen_ai.operation.name': 'embeddings' }, { end }),
      llm(traceId, hexId(8, 3), { 'gen_ai.usage.input_tokens': 250000 }),
      llm(traceId, hexId(8, 4), { 'gen_ai.usage.input_tokens': 900 }),
    ]).json())).status).toBe(200);
    expect((await verdicts(t, `trace_id = '${traceId}'`)).map((r) => [r.name, r.span_id, r.score_label, r.polarity, r.explanation])).toEqual([
      ['huge_prompt', hexId(8, 3), 'over_threshold', null, 'gen_ai.usage.input_tokens 250000 is above 100000'],
      ['slow_llm_call', hexId(8, 1), 'slow', 'negative', 'duration_ms 45000 is above 30000'],
    ]);
  });

  it('repeat: the same question asked again marks the earlier run\'s answer, across requests and within one', async () => {
    const [a, b, c] = [hexId(16, 87), hexId(16, 88), hexId(16, 89)];
    const ask = (traceId: string, spanId: string, minute: bigint, q: string, conv = 'conv-repeat') =>
      llm(traceId, spanId, { 'gen_ai.conversation.id': conv, 'gen_ai.input.messages': messages(['user', q]) }, { start: T0 + minute * 60_000_000_000n, end: T0 + minute * 60_000_000_000n });
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([ask(a, hexId(8, 1), 0n, 'Where is my order #123?')]).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([
      ask(b, hexId(8, 2), 1n, 'where is my   order 123'),
      ask(c, hexId(8, 3), 2n, 'WHERE IS MY ORDER 123!!'),
      ask(hexId(16, 90), hexId(8, 4), 3n, 'where is my order 123', 'another-conversation'),
    ]).json())).status).toBe(200);
    const rows = await verdicts(t, `name = 'same_question_reasked'`);
    expect(rows.map((r) => [r.trace_id, r.span_id, r.score_label, r.source, r.polarity, r.channel, r.conversation_id])).toEqual([
      [a, hexId(8, 1), 'reasked', 'indirect', 'negative', 'rule', 'conv-repeat'],
      [b, hexId(8, 2), 'reasked', 'indirect', 'negative', 'rule', 'conv-repeat'],
    ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)));
    expect(rows[0]!.explanation).toMatch(/^the user asked the same again in a later run \(trace [0-9a-f]{32}\): /);
    // Re-sending everything marks nothing twice.
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([ask(c, hexId(8, 3), 2n, 'WHERE IS MY ORDER 123!!')]).json())).status).toBe(200);
    expect((await verdicts(t, `name = 'same_question_reasked'`)).length).toBe(2);
  });

  it('fills polarity from labels and source from the configured rules for OTLP verdicts', async () => {
    const traceId = hexId(16, 91);
    const ev = (name: string, label: string, extra: Attributes = {}) => ({
      eventName: 'gen_ai.evaluation.result', time: T0, traceId, spanId: hexId(8, 1), attributes: { 'gen_ai.evaluation.name': name, 'gen_ai.evaluation.score.label': label, ...extra },
    });
    expect((await postJson(`${t.httpUrl}/v1/logs`, logs([ev('Relevance', 'not_relevant'), ev('Tone', 'meh')], service('judge-ragas')).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/logs`, logs([ev('user_thumbs', 'thumbs_down'), ev('Other', 'pass', { 'verdict.feedback.source': 'reviewer' }), ev('Unknown', 'blue')], service('web')).json())).status).toBe(200);
    expect((await t.query(`SELECT name, source, polarity FROM verdict.evaluations WHERE trace_id = '${traceId}' ORDER BY name`))).toEqual([
      { name: 'Other', source: 'reviewer', polarity: 'positive' },
      { name: 'Relevance', source: 'llm_judge', polarity: 'negative' },
      { name: 'Tone', source: 'llm_judge', polarity: 'neutral' },
      { name: 'Unknown', source: null, polarity: null },
      { name: 'user_thumbs', source: 'user', polarity: 'negative' },
    ]);
  });

  it('reloads rules without a restart, and keeps the old ones when the new file is invalid', async () => {
    const before = hexId(16, 92);
    const ping = (traceId: string) => postJson(`${t.httpUrl}/v1/traces`, traces([llm(traceId, hexId(8, 1), { 'gen_ai.input.messages': messages(['user', 'please escalate']) })]).json());
    expect((await ping(before)).status).toBe(200);
    expect(await verdicts(t, `trace_id = '${before}'`)).toEqual([]);
    writeFileSync(rulesFile, `${example}${EXTRA}  - name: escalation\n    kind: regex\n    pattern: escalate\n    label: escalation\n`);
    expect(t.server.reloadRules()).toBe(true);
    const after = hexId(16, 93);
    expect((await ping(after)).status).toBe(200);
    expect((await verdicts(t, `trace_id = '${after}'`)).map((r) => r.name)).toEqual(['escalation']);

    writeFileSync(rulesFile, 'rules:\n  - name: broken\n    kind: regex\n    pattern: "("\n');
    expect(t.server.reloadRules()).toBe(false);
    const still = hexId(16, 94);
    expect((await ping(still)).status).toBe(200);
    expect((await verdicts(t, `trace_id = '${still}'`)).map((r) => r.name)).toEqual(['escalation']);

    // The file watcher picks up an edit by itself.
    writeFileSync(rulesFile, `rules:\n  - name: watched\n    kind: regex\n    pattern: escalate\n`);
    const deadline = Date.now() + 5000;
    let names: string[] = [];
    for (let i = 0; Date.now() < deadline; i++) {
      const id = hexId(16, 200 + i);
      await ping(id);
      names = (await verdicts(t, `trace_id = '${id}'`)).map((r) => r.name as string);
      if (names.includes('watched')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(names).toEqual(['watched']);
  });
});

describe('a rules file with an invalid pattern', () => {
  it('stops start-up with a message naming the rule', async () => {
    const dir = tempDir('rules');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'rules:\n  - name: user_frustration\n    kind: regex\n    pattern: "(wtf|awful"\n');
    const started = startServer(baseConfig({ dataDir: 'memory://', rulesFile: file }), silentLogger);
    await expect(started).rejects.toThrow(ConfigError);
    await expect(started).rejects.toThrow(`${file}: rule "user_frustration": invalid pattern "(wtf|awful": error parsing regexp: missing closing ): \`(wtf|awful\``);
  });
});
