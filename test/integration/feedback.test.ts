/**
 * The feedback API: verdicts on a span, a trace, a completion or a thread,
 * in either arrival order; idempotent retries; validation refusing the whole
 * request; CORS for browsers. And thread-level views.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';
import { post, postJson } from '../helpers/otlp.ts';
import { hexId, traces, type Attributes, type SpanSpec } from '../helpers/fixtures.ts';

const span = (traceId: string, spanId: string, attributes: Attributes = {}, extra: Partial<SpanSpec> = {}): SpanSpec => ({
  traceId, spanId, name: 'chat gpt-4o', kind: 'client', attributes, ...extra,
});

describe.each(BACKENDS)('feedback API on %s', (backend) => {
  let t: TestServer;
  const feedback = (body: unknown, headers: Record<string, string> = {}) => postJson(`${t.httpUrl}/v1/feedback`, body, headers);
  beforeAll(async () => {
    t = await startTestServer(backend, { corsOrigins: ['https://app.example'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const targets = [
    { target: 'span', n: 71, body: (tr: string, sp: string) => ({ trace_id: tr, span_id: sp }) },
    { target: 'trace', n: 72, body: (tr: string) => ({ trace_id: tr.toUpperCase() }) },
    { target: 'completion', n: 73, body: (_tr: string, _sp: string, n: number) => ({ response_id: `chatcmpl-${n}` }) },
    { target: 'conversation', n: 74, body: (_tr: string, _sp: string, n: number) => ({ conversation_id: `conv-${n}` }) },
  ];
  describe.each(targets)('a verdict on a $target', ({ target, n, body }) => {
    it.each(['verdict first', 'run first'])('joins its target (%s)', async (order) => {
      const k = n * 10 + (order === 'run first' ? 1 : 2);
      const [traceId, rootId, llmId] = [hexId(16, k), hexId(8, k), hexId(8, k + 500)];
      const run = traces([
        span(traceId, rootId, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.conversation.id': `conv-${k}` }, { name: 'invoke_agent support' }),
        span(traceId, llmId, { 'gen_ai.response.id': `chatcmpl-${k}`, 'gen_ai.request.model': 'gpt-4o', 'gen_ai.conversation.id': `conv-${k}` }, { parentSpanId: rootId }),
      ]).json();
      const verdict = { ...body(traceId, llmId, k), name: 'user_rating', score_value: 0, score_label: 'thumbs_down', explanation: 'wrong order number' };
      if (order === 'run first') expect((await postJson(`${t.httpUrl}/v1/traces`, run)).status).toBe(200);
      const res = await feedback(verdict);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ accepted: 1, ids: [expect.stringMatching(/^[0-9a-f]{32}$/)] });
      if (order !== 'run first') expect((await postJson(`${t.httpUrl}/v1/traces`, run)).status).toBe(200);

      const [row] = await t.query(`SELECT trace_id, span_id, conversation_id, span_name, channel, source, polarity, score_label, target FROM verdict.trace_evaluations WHERE id = '${res.json().ids[0]}'`);
      const expected = {
        span: { trace_id: traceId, span_id: llmId, span_name: 'chat gpt-4o' },
        trace: { trace_id: traceId, span_id: null, span_name: 'invoke_agent support' },
        completion: { trace_id: traceId, span_id: llmId, span_name: 'chat gpt-4o' },
        conversation: { trace_id: null, span_id: null, span_name: null },
      }[target];
      expect(row).toEqual({ ...expected, conversation_id: `conv-${k}`, channel: 'api', source: 'user', polarity: 'negative', score_label: 'thumbs_down', target: target === 'completion' ? 'completion' : target });
      const [conversation] = await t.query(`SELECT trace_count::int, trace_ids, verdicts::int, negative_verdicts::int, user_verdicts::int, verdicts_by_source FROM verdict.conversations WHERE conversation_id = 'conv-${k}'`);
      expect(conversation).toEqual({ trace_count: 1, trace_ids: [traceId], verdicts: 1, negative_verdicts: 1, user_verdicts: 1, verdicts_by_source: { user: { negative: 1 } } });
    });
  });

  it('lists a conversation known only from a thread verdict, before any of its runs arrive', async () => {
    expect((await feedback({ conversation_id: 'conv-only-verdict', name: 'session_rating', score_value: 5 })).status).toBe(200);
    expect(await t.query(`SELECT trace_count::int, verdicts::int FROM verdict.conversations WHERE conversation_id = 'conv-only-verdict'`)).toEqual([{ trace_count: 0, verdicts: 1 }]);
  });

  it('stores a retried verdict with the same id once, and a batch of verdicts at once', async () => {
    const traceId = hexId(16, 75);
    const one = { id: 'b5d1c2e0-retry-me', trace_id: traceId, name: 'user_rating', score_label: 'thumbs_up' };
    for (let i = 0; i < 3; i++) expect((await feedback(one)).json()).toEqual({ accepted: 1, ids: ['b5d1c2e0-retry-me'] });
    const many = await feedback([
      { trace_id: traceId, name: 'a', score_value: 1, time: '2026-11-27T10:00:00Z', source: 'reviewer', attributes: { reviewer: 'ana' } },
      { trace_id: traceId, name: 'b', score_label: 'pass' },
    ]);
    expect(many.json().accepted).toBe(2);
    const rows = await t.query(`SELECT id, name, source, (extract(epoch FROM time))::bigint::text AS t, attributes FROM verdict.evaluations WHERE trace_id = '${traceId}' ORDER BY name`);
    expect(rows.map((r) => r.name)).toEqual(['a', 'b', 'user_rating']);
    expect(rows[0]).toMatchObject({ source: 'reviewer', t: String(Date.UTC(2026, 10, 27, 10) / 1000), attributes: { reviewer: 'ana' } });
  });

  it('refuses a request with any invalid verdict, naming every bad field, and stores none of it', async () => {
    const traceId = hexId(16, 76);
    const before = await t.query(`SELECT count(*)::int AS n FROM verdict.evaluations`);
    const res = await post(`${t.httpUrl}/v1/feedback`, '[' + [
      JSON.stringify({ trace_id: traceId, name: 'fine', score_value: 1 }),
      JSON.stringify({ trace_id: traceId, score_value: 1 }),
      '{"trace_id":"' + traceId + '","name":"x","score_value":1e999}',
      JSON.stringify({ trace_id: traceId, name: 'x' }),
      JSON.stringify({ trace_id: traceId, response_id: 'r', name: 'x', score_value: 1 }),
      JSON.stringify({ name: 'x', score_value: 1 }),
      JSON.stringify({ span_id: hexId(8, 1), name: 'x', score_value: 1 }),
      JSON.stringify({ trace_id: 'xyz', name: 'x', score_value: 1 }),
      JSON.stringify({ trace_id: traceId, name: 'x', score_value: 1, source: 'customer' }),
      JSON.stringify({ trace_id: traceId, name: 'x', score_value: 1, time: 'yesterday' }),
      JSON.stringify({ trace_id: traceId, name: 'x', score_value: 1, attributes: [1] }),
      JSON.stringify({ trace_id: traceId, name: 'x', score_value: 1, colour: 'red' }),
      '"not an object"',
    ].join(',') + ']', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const messages = (res.json().message as string).split('; ');
    expect(messages).toEqual([
      '[1].name: is required',
      '[2].score_value: must be a finite number',
      '[3].score_value: give score_value, score_label or both',
      '[4].target: name exactly one target, got trace and completion',
      '[5].target: name exactly one target: trace_id (+ span_id), response_id or conversation_id',
      '[6].span_id: needs trace_id: a span is named by trace_id and span_id',
      '[7].trace_id: must be 32 hex characters, not all zero',
      '[8].source: must be one of user, indirect, llm_judge, rule, reviewer',
      '[9].time: must be an RFC 3339 timestamp such as 2026-11-27T10:15:00Z',
      '[10].attributes: must be an object',
      '[11].colour: unknown field (expected id, trace_id, span_id, response_id, conversation_id, name, score_value, score_label, explanation, correction, source, time, attributes)',
      '[12]: must be an object',
    ]);
    expect(res.json().details[0].fieldViolations[0]).toEqual({ field: '[1].name', description: 'is required' });
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.evaluations`)).toEqual(before);
    expect((await feedback({ trace_id: traceId })).json().message).toBe('name: is required; score_value: give score_value, score_label or both');
    expect((await feedback([])).status).toBe(400);
    expect((await post(`${t.httpUrl}/v1/feedback`, '{', { 'content-type': 'application/json' })).json().message).toMatch(/^request body is not valid JSON/);
    expect((await post(`${t.httpUrl}/v1/feedback`, 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(`${t.httpUrl}/v1/feedback`, '', {}, 'GET')).status).toBe(405);
  });

  it('answers CORS preflights for configured origins only, never with a wildcard and credentials', async () => {
    const preflight = (origin: string, path = '/v1/feedback') =>
      fetch(`${t.httpUrl}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    const ok = await preflight('https://app.example');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(ok.headers.get('access-control-allow-headers')).toContain('content-type');
    expect(ok.headers.get('vary')).toBe('Origin');
    expect((await preflight('https://app.example', '/v1/traces')).status).toBe(204);
    const no = await preflight('https://evil.example');
    expect(no.status).toBe(403);
    expect(no.headers.get('access-control-allow-origin')).toBeNull();
    const actual = await feedback({ trace_id: hexId(16, 77), name: 'x', score_value: 1 }, { origin: 'https://app.example' });
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await feedback({ trace_id: hexId(16, 77), name: 'x', score_value: 2 }, { origin: 'https://evil.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS with a wildcard', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('pglite', { corsOrigins: ['*'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('allows any origin without credentials', async () => {
    const res = await fetch(`${t.httpUrl}/v1/feedback`, { method: 'OPTIONS', headers: { origin: 'https://any.example', 'access-control-request-method': 'POST' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
