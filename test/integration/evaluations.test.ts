/**
 * gen_ai.evaluation.result events become rows of verdict.evaluations from
 * every channel the conventions allow, and join their span in
 * verdict.trace_evaluations whichever arrived first.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';
import { grpcCall, LOGS_PATH, postJson } from '../helpers/otlp.ts';
import { double, hexId, logs, service, traces, type Attributes } from '../helpers/fixtures.ts';

const EVAL = 'gen_ai.evaluation.result';
const evalAttrs = (name: string, extra: Attributes = {}): Attributes => ({
  'gen_ai.evaluation.name': name, 'gen_ai.evaluation.score.value': 0.25, 'gen_ai.evaluation.score.label': 'not_relevant',
  'gen_ai.evaluation.explanation': 'The answer ignores the question.', ...extra,
});

const EVAL_QUERY = (where: string) => `
  SELECT trace_id, span_id, response_id, conversation_id, name, score_value, score_label, explanation, error_type,
         (extract(epoch FROM time) * 1e6)::bigint::text AS time_us, channel, source, polarity, service_name, attributes
  FROM verdict.evaluations WHERE ${where} ORDER BY channel`;

describe.each(BACKENDS)('evaluations on %s', (backend) => {
  const t = serverForSuite(backend);

  it('takes a log record whose event_name is gen_ai.evaluation.result, parented to the evaluated span', async () => {
    const [traceId, spanId] = [hexId(16, 21), hexId(8, 21)];
    const record = {
      eventName: EVAL, time: 1767225600000001000n, traceId, spanId,
      attributes: evalAttrs('Relevance', { 'gen_ai.response.id': 'chatcmpl-21', 'error.type': 'timeout', 'verdict.feedback.source': 'llm_judge' }),
    };
    const res = await postJson(`${t.httpUrl}/v1/logs`, logs([record], service('judge')).json());
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({});
    expect(await t.query(EVAL_QUERY(`trace_id = '${traceId}'`))).toEqual([{
      trace_id: traceId, span_id: spanId, response_id: 'chatcmpl-21', conversation_id: null, name: 'Relevance', score_value: 0.25, score_label: 'not_relevant',
      explanation: 'The answer ignores the question.', error_type: 'timeout', time_us: '1767225600000001', channel: 'log', source: 'llm_judge', polarity: 'negative',
      service_name: 'judge',
      attributes: {
        'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.value': 0.25, 'gen_ai.evaluation.score.label': 'not_relevant',
        'gen_ai.evaluation.explanation': 'The answer ignores the question.', 'gen_ai.response.id': 'chatcmpl-21', 'error.type': 'timeout', 'verdict.feedback.source': 'llm_judge',
      },
    }]);
    // An evaluation is a verdict, not a log line.
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.logs WHERE trace_id = '${traceId}'`)).toEqual([{ n: 0 }]);
  });

  it('takes one over gRPC, and from older SDKs that put the name in the event.name attribute', async () => {
    const [traceId, spanId] = [hexId(16, 22), hexId(8, 22)];
    const req = logs([{
      time: 1767225600000002000n, traceId, spanId, attributes: { 'event.name': EVAL, 'gen_ai.evaluation.name': 'Correctness', 'gen_ai.evaluation.score.label': 'incorrect' },
    }], { resource: null, scope: null });
    expect((await grpcCall(t.grpcAddress, LOGS_PATH, req.proto())).code).toBe(0);
    const rows = await t.query(`SELECT name, score_value, score_label, channel, span_id FROM verdict.evaluations WHERE trace_id = '${traceId}'`);
    expect(rows).toEqual([{ name: 'Correctness', score_value: null, score_label: 'incorrect', channel: 'log', span_id: spanId }]);
  });

  it('takes a span event named gen_ai.evaluation.result, judging the span that carries it', async () => {
    const [traceId, spanId] = [hexId(16, 23), hexId(8, 23)];
    const span = {
      traceId, spanId, name: 'chat', attributes: { 'gen_ai.conversation.id': 'conv-23' },
      events: [{ name: EVAL, time: 1767225600500000000n, attributes: evalAttrs('Helpfulness') }],
    };
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([span]).json())).status).toBe(200);
    const rows = await t.query(`SELECT trace_id, span_id, name, channel, conversation_id, service_name, (extract(epoch FROM time) * 1e6)::bigint::text AS time_us FROM verdict.evaluations WHERE trace_id = '${traceId}'`);
    expect(rows).toEqual([{ trace_id: traceId, span_id: spanId, name: 'Helpfulness', channel: 'span_event', conversation_id: 'conv-23', service_name: 'test-service', time_us: '1767225600500000' }]);
    // The span keeps the event as well.
    const [s] = await t.query<{ events: Array<{ name: string }> }>(`SELECT events FROM verdict.spans WHERE trace_id = '${traceId}'`);
    expect(s!.events.map((e) => e.name)).toEqual([EVAL]);
  });

  it('stores one evaluation delivered twice, as a log record and as a span event (the SDK bridge), once', async () => {
    const [traceId, spanId] = [hexId(16, 24), hexId(8, 24)];
    const time = 1767225600700000000n;
    const span = { traceId, spanId, name: 'chat', events: [{ name: EVAL, time, attributes: evalAttrs('Groundedness') }] };
    const record = { eventName: EVAL, time, traceId, spanId, attributes: evalAttrs('Groundedness') };
    expect((await postJson(`${t.httpUrl}/v1/logs`, logs([record]).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([span]).json())).status).toBe(200);
    const rows = await t.query(`SELECT name, channel FROM verdict.evaluations WHERE trace_id = '${traceId}'`);
    expect(rows).toEqual([{ name: 'Groundedness', channel: 'log' }]);
  });

  it.each(['evaluation first', 'span first'])('joins an evaluation without trace context by gen_ai.response.id (%s)', async (order) => {
    const n = order === 'span first' ? 25 : 26;
    const [traceId, spanId, responseId] = [hexId(16, n), hexId(8, n), `chatcmpl-${n}`];
    const span = {
      traceId, spanId, name: 'chat gpt-4o', kind: 'client' as const,
      attributes: { 'gen_ai.response.id': responseId, 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06', 'gen_ai.conversation.id': `conv-${n}` },
    };
    const record = { eventName: EVAL, time: 1767225602000000000n, attributes: evalAttrs('Faithfulness', { 'gen_ai.response.id': responseId }) };
    const sendSpan = () => postJson(`${t.httpUrl}/v1/traces`, traces([span], service('chatbot')).json());
    const sendEval = () => postJson(`${t.httpUrl}/v1/logs`, logs([record], service('offline-judge')).json());
    if (order === 'span first') {
      expect((await sendSpan()).status).toBe(200);
      expect((await sendEval()).status).toBe(200);
    } else {
      expect((await sendEval()).status).toBe(200);
      const pending = await t.query(`SELECT trace_id, span_id, span_name FROM verdict.trace_evaluations WHERE response_id = '${responseId}'`);
      expect(pending).toEqual([{ trace_id: null, span_id: null, span_name: null }]);
      expect((await sendSpan()).status).toBe(200);
    }
    const stored = await t.query(`SELECT trace_id, span_id, response_id FROM verdict.evaluations WHERE response_id = '${responseId}'`);
    expect(stored).toEqual([{ trace_id: null, span_id: null, response_id: responseId }]);
    const joined = await t.query(
      `SELECT trace_id, span_id, conversation_id, name, span_name, service_name, evaluator_service_name, gen_ai_request_model, gen_ai_response_model
       FROM verdict.trace_evaluations WHERE response_id = '${responseId}'`,
    );
    expect(joined).toEqual([{
      trace_id: traceId, span_id: spanId, conversation_id: `conv-${n}`, name: 'Faithfulness', span_name: 'chat gpt-4o', service_name: 'chatbot',
      evaluator_service_name: 'offline-judge', gen_ai_request_model: 'gpt-4o', gen_ai_response_model: 'gpt-4o-2024-08-06',
    }]);
  });

  it('rejects an evaluation log record without gen_ai.evaluation.name, stores the rest, and says why', async () => {
    const traceId = hexId(16, 27);
    const at = (ns: bigint) => ({ time: 1767225600000000000n + ns, traceId, spanId: hexId(8, 27) });
    const res = await postJson(`${t.httpUrl}/v1/logs`, logs([
      { ...at(0n), eventName: EVAL, attributes: { 'gen_ai.evaluation.score.value': double(1) } },
      { ...at(1n), eventName: EVAL, attributes: { 'gen_ai.evaluation.name': 'ok', 'gen_ai.evaluation.score.value': NaN } },
      { ...at(2n), eventName: EVAL, attributes: evalAttrs('Kept') },
      { ...at(3n), body: 'a plain log line, kept' },
    ]).json());
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.partialSuccess.rejectedLogRecords).toBe('2');
    expect(body.partialSuccess.errorMessage).toContain('gen_ai.evaluation.name is missing');
    expect(body.partialSuccess.errorMessage).toContain('gen_ai.evaluation.score.value must be a finite number');
    expect(await t.query(`SELECT name FROM verdict.evaluations WHERE trace_id = '${traceId}'`)).toEqual([{ name: 'Kept' }]);
    expect(await t.query(`SELECT body FROM verdict.logs WHERE trace_id = '${traceId}'`)).toEqual([{ body: 'a plain log line, kept' }]);
  });

  it('keeps a span whose evaluation event has no name, with a warning, and no evaluation row', async () => {
    const traceId = hexId(16, 28);
    const span = { traceId, spanId: hexId(8, 28), name: 'chat', events: [{ name: EVAL, time: 1767225600500000000n, attributes: { 'gen_ai.evaluation.score.label': 'pass' } }] };
    const res = await postJson(`${t.httpUrl}/v1/traces`, traces([span]).json());
    expect(res.status).toBe(200);
    expect(res.json().partialSuccess).toEqual({ rejectedSpans: '0', errorMessage: expect.stringContaining('span event not stored as an evaluation: gen_ai.evaluation.name is missing') });
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.spans WHERE trace_id = '${traceId}'`)).toEqual([{ n: 1 }]);
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.evaluations WHERE trace_id = '${traceId}'`)).toEqual([{ n: 0 }]);
  });

  it('stores an unknown verdict.feedback.source as NULL and says so', async () => {
    const traceId = hexId(16, 29);
    const record = { eventName: EVAL, time: 1767225600000000000n, traceId, spanId: hexId(8, 29), attributes: evalAttrs('Tone', { 'verdict.feedback.source': 'human' }) };
    const res = await postJson(`${t.httpUrl}/v1/logs`, logs([record]).json());
    expect(res.json().partialSuccess).toEqual({ rejectedLogRecords: '0', errorMessage: 'warning: unknown verdict.feedback.source "human" stored as NULL' });
    expect(await t.query(`SELECT name, source FROM verdict.evaluations WHERE trace_id = '${traceId}'`)).toEqual([{ name: 'Tone', source: null }]);
  });
});
