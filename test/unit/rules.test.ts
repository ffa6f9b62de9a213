/**
 * The RuleEngine on its own: spans and log records built with the shared
 * fixtures go through the normalisers with the engine's observers, and the
 * verdict rows (and the user turns the `repeat` rule records) are compared
 * whole. No server, no database; what the database does with the turns is
 * covered by test/integration/rules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { contentKey } from '../../src/common/util.ts';
import { createPolicy, parseFeedbackConfig } from '../../src/feedback/policy.ts';
import type { Batch, EvaluationRow } from '../../src/model/rows.ts';
import { NO_POLICY, type EvaluationPolicy } from '../../src/normalize/evaluations.ts';
import { normalizeLogs } from '../../src/normalize/logs.ts';
import { normalizeTraces } from '../../src/normalize/spans.ts';
import { EMPTY_RULES, parseRules, type RuleSet } from '../../src/rules/config.ts';
import { RuleEngine } from '../../src/rules/engine.ts';
import { hexId, logs, SECOND, T0, traces, type Attributes, type LogSpec, type SpanSpec } from '../helpers/fixtures.ts';

const POLICY = createPolicy(parseFeedbackConfig({}));
const TRACE = hexId(16, 1);
const span = (n: number) => hexId(8, n);

const FRUSTRATION = { name: 'user_frustration', kind: 'regex', pattern: '\\b(wtf|horrible|awful|this sucks)\\b', flags: 'i', on: 'user_messages', label: 'negative', explanation: 'The user expressed frustration.' };

function engine(rules: object[], policy: EvaluationPolicy = POLICY): RuleEngine {
  const set: RuleSet = { rules: parseRules({ rules }), file: null };
  return new RuleEngine(() => set, policy);
}

function onSpans(e: RuleEngine, spans: SpanSpec[], policy: EvaluationPolicy = POLICY): Batch {
  return normalizeTraces(traces(spans).decoded(), { policy, observers: [e.spanObserver] }).batch;
}

function onLogs(e: RuleEngine, records: LogSpec[]): Batch {
  return normalizeLogs(logs(records).decoded(), { policy: POLICY, observers: [e.logObserver] }, T0).batch;
}

/** Verdict rows with their attributes parsed, for comparing. */
const verdicts = (b: Batch) => b.evaluations.map((e: EvaluationRow) => ({ ...e, attributes: JSON.parse(e.attributes) as unknown }));

/** A rule verdict: everything a rule fills the same way, and what the test names. */
const verdict = (v: { id: string; trace_id: string | null; span_id: string | null; name: string; score_label: string | null; explanation: string; time_unix_nano: bigint; polarity: string | null; attributes: object; conversation_id?: string | null; score_value?: number | null }) => ({
  response_id: null, conversation_id: null, score_value: null, error_type: null, channel: 'rule', source: 'rule', service_name: 'verdict', target: null, ...v,
});

const messages = (...turns: Array<[string, string]>) => JSON.stringify(turns.map(([role, content]) => ({ role, parts: [{ type: 'text', content }] })));
const chat = (n: number, attributes: Attributes, extra: Partial<SpanSpec> = {}): SpanSpec => ({
  traceId: TRACE, spanId: span(n), name: 'chat gpt-4o', kind: 'client', attributes: { 'gen_ai.operation.name': 'chat', ...attributes }, ...extra,
});

describe('RuleEngine: regex', () => {
  it('matches the newest user message of each LLM call, from a JSON string or a structured value, once per run and message', () => {
    const history = messages(['user', 'Where is my parcel?'], ['assistant', 'It ships today.'], ['user', 'This SUCKS, it has been a week']);
    const b = onSpans(engine([FRUSTRATION]), [
      chat(1, { 'gen_ai.input.messages': history, 'gen_ai.conversation.id': 'conv-1' }),
      // The next call of the run carries the same newest message: the same verdict id, so it is stored once.
      chat(2, { 'gen_ai.input.messages': history }),
      chat(3, { 'gen_ai.input.messages': [{ role: 'user', parts: [{ type: 'text', content: 'awful, just awful' }] }] }),
      // Frustration only in an older turn is not this call's input.
      chat(4, { 'gen_ai.input.messages': messages(['user', 'wtf'], ['assistant', 'sorry'], ['user', 'thanks, all good']) }),
      chat(5, { 'gen_ai.input.messages': messages(['system', 'this sucks'], ['assistant', 'awful']) }),
      chat(6, {}),
    ]);
    const frustrated = (n: number, match: string, normal: string, conversation: string | null = null) => verdict({
      id: contentKey('user_frustration', TRACE, normal), trace_id: TRACE, span_id: span(n), conversation_id: conversation, name: 'user_frustration',
      score_label: 'negative', explanation: 'The user expressed frustration.', time_unix_nano: T0 + SECOND, polarity: 'negative',
      attributes: { 'verdict.rule': 'user_frustration', 'verdict.rule.kind': 'regex', 'verdict.rule.match': match },
    });
    expect(verdicts(b)).toEqual([
      frustrated(1, 'This SUCKS', 'this sucks it has been a week', 'conv-1'),
      frustrated(2, 'This SUCKS', 'this sucks it has been a week'),
      frustrated(3, 'awful', 'awful just awful'),
    ]);
    expect(b.turns).toEqual([]);
  });

  it('matches span and log attributes, and the bodies of gen_ai.user.message events, explaining what matched', () => {
    const e = engine([
      { name: 'server_error_status', kind: 'regex', pattern: '^5\\d\\d$', attribute: 'http.response.status_code', label: 'fail' },
      { ...FRUSTRATION, explanation: undefined },
    ]);
    const fromSpans = onSpans(e, [
      { traceId: TRACE, spanId: span(1), attributes: { 'http.response.status_code': 503 } },
      { traceId: TRACE, spanId: span(2), attributes: { 'http.response.status_code': 200 } },
    ]);
    const time = T0 + 5n;
    const fromLogs = onLogs(e, [
      { time, traceId: TRACE, spanId: span(3), attributes: { 'http.response.status_code': '502' } },
      { time, traceId: TRACE, spanId: span(4), eventName: 'gen_ai.user.message', body: { content: 'Horrible experience' } },
      { time, eventName: 'gen_ai.user.message', body: 'wtf is this' },
      // Not a user message: not read.
      { time, traceId: TRACE, spanId: span(5), eventName: 'gen_ai.assistant.message', body: { content: 'horrible' } },
    ]);
    const status = { name: 'server_error_status', score_label: 'fail', polarity: 'negative' };
    const frustration = { name: 'user_frustration', score_label: 'negative', polarity: 'negative' };
    expect(verdicts(fromSpans)).toEqual([verdict({
      ...status, id: contentKey('server_error_status', TRACE, span(1)), trace_id: TRACE, span_id: span(1), time_unix_nano: T0 + SECOND,
      explanation: 'matched "503" in attribute http.response.status_code',
      attributes: { 'verdict.rule': 'server_error_status', 'verdict.rule.kind': 'regex', 'verdict.rule.match': '503' },
    })]);
    expect(verdicts(fromLogs)).toEqual([
      verdict({
        ...status, id: contentKey('server_error_status', `${TRACE}:${span(3)}:${time}`), trace_id: TRACE, span_id: span(3), time_unix_nano: time,
        explanation: 'matched "502" in attribute http.response.status_code',
        attributes: { 'verdict.rule': 'server_error_status', 'verdict.rule.kind': 'regex', 'verdict.rule.match': '502' },
      }),
      verdict({
        ...frustration, id: contentKey('user_frustration', TRACE, 'horrible experience'), trace_id: TRACE, span_id: span(4), time_unix_nano: time,
        explanation: 'matched "Horrible" in a user message', attributes: { 'verdict.rule': 'user_frustration', 'verdict.rule.kind': 'regex', 'verdict.rule.match': 'Horrible' },
      }),
      verdict({
        ...frustration, id: contentKey('user_frustration', `null:null:${time}`, 'wtf is this'), trace_id: null, span_id: null, time_unix_nano: time,
        explanation: 'matched "wtf" in a user message', attributes: { 'verdict.rule': 'user_frustration', 'verdict.rule.kind': 'regex', 'verdict.rule.match': 'wtf' },
      }),
    ]);
    // The records themselves are stored as usual.
    expect(fromLogs.logs).toHaveLength(4);
  });

  it('keeps at most 200 characters of the match, and makes nothing when there are no rules', () => {
    const long = { name: 'long', kind: 'regex', pattern: 'a+', attribute: 'text' };
    const [v] = verdicts(onSpans(engine([long]), [{ traceId: TRACE, spanId: span(1), attributes: { text: 'a'.repeat(500) } }]));
    expect(v!.attributes).toEqual({ 'verdict.rule': 'long', 'verdict.rule.kind': 'regex', 'verdict.rule.match': 'a'.repeat(200) });
    expect(v!.explanation).toBe(`matched "${'a'.repeat(200)}" in attribute text`);
    const none = new RuleEngine(() => EMPTY_RULES, POLICY);
    expect(onSpans(none, [{ traceId: TRACE, spanId: span(1), attributes: { text: 'aaa' } }]).evaluations).toEqual([]);
  });

  it('reads the rules anew for each span, so a reload applies to the next one', () => {
    let current: RuleSet = EMPTY_RULES;
    const e = new RuleEngine(() => current, POLICY);
    const send = () => verdicts(onSpans(e, [{ traceId: TRACE, spanId: span(1), attributes: { topic: 'please escalate' } }])).map((v) => v.name);
    expect(send()).toEqual([]);
    current = { rules: parseRules({ rules: [{ name: 'escalation', kind: 'regex', pattern: 'escalate', attribute: 'topic' }] }), file: null };
    expect(send()).toEqual(['escalation']);
  });
});

describe('RuleEngine: status', () => {
  it('gives a GenAI span that ended in error a negative verdict, explained by its status message', () => {
    const b = onSpans(engine([{ name: 'genai_error', kind: 'status' }]), [
      chat(1, {}, { status: { code: 'error', message: 'rate limited' } }),
      chat(2, { 'gen_ai.operation.name': 'execute_tool' }, { status: { code: 'error' } }),
      // Not a GenAI span, or not in error: nothing.
      { traceId: TRACE, spanId: span(3), name: 'db query', status: { code: 'error' } },
      chat(4, {}, { status: { code: 'ok' } }),
      chat(5, {}),
    ]);
    const error = (n: number, explanation: string) => verdict({
      id: contentKey('genai_error', TRACE, span(n)), trace_id: TRACE, span_id: span(n), name: 'genai_error', score_label: 'error', explanation,
      time_unix_nano: T0 + SECOND, polarity: 'negative', attributes: { 'verdict.rule': 'genai_error', 'verdict.rule.kind': 'status' },
    });
    expect(verdicts(b)).toEqual([error(1, 'rate limited'), error(2, 'execute_tool span ended with status ERROR')]);
  });

  it('is negative without a policy too, and carries the score and label the rule sets', () => {
    const rule = { name: 'genai_error', kind: 'status', evaluation: 'llm_failed', label: 'boom', score: 0 };
    const [v] = verdicts(onSpans(engine([rule], NO_POLICY), [chat(1, {}, { status: { code: 'error' } })], NO_POLICY));
    expect([v!.name, v!.score_label, v!.score_value, v!.polarity]).toEqual(['llm_failed', 'boom', 0, 'negative']);
  });
});

describe('RuleEngine: threshold', () => {
  it('compares the duration of the operations named, and numeric attributes, with the bounds', () => {
    const b = onSpans(engine([
      { name: 'slow_llm_call', kind: 'threshold', attribute: 'duration_ms', above: 30000, operation: 'chat', label: 'slow', polarity: 'negative' },
      { name: 'huge_prompt', kind: 'threshold', attribute: 'gen_ai.usage.input_tokens', above: 100000 },
      { name: 'empty_answer', kind: 'threshold', attribute: 'gen_ai.usage.output_tokens', below: 1, operation: 'invoke_*', label: 'empty' },
    ]), [
      chat(1, {}, { end: T0 + 45n * SECOND }),
      // The operation filter: an embeddings call and a span without an operation may be slow.
      chat(2, { 'gen_ai.operation.name': 'embeddings' }, { end: T0 + 45n * SECOND }),
      { traceId: TRACE, spanId: span(3), end: T0 + 45n * SECOND },
      chat(4, {}, { end: T0 + 30n * SECOND }),
      chat(5, { 'gen_ai.usage.input_tokens': 250000 }),
      chat(6, { 'gen_ai.usage.input_tokens': 900 }),
      chat(7, { 'gen_ai.usage.input_tokens': 'lots' }),
      chat(8, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.output_tokens': 0 }),
      chat(9, { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.output_tokens': 0 }),
    ]);
    const over = (rule: string, n: number, label: string, polarity: string | null, explanation: string, value: number, end = T0 + SECOND) => verdict({
      id: contentKey(rule, TRACE, span(n)), trace_id: TRACE, span_id: span(n), name: rule, score_label: label, explanation, time_unix_nano: end, polarity,
      attributes: { 'verdict.rule': rule, 'verdict.rule.kind': 'threshold', 'verdict.rule.value': value },
    });
    expect(verdicts(b)).toEqual([
      over('slow_llm_call', 1, 'slow', 'negative', 'duration_ms 45000 is above 30000', 45000, T0 + 45n * SECOND),
      // over_threshold (the default label) has no polarity in the default map.
      over('huge_prompt', 5, 'over_threshold', null, 'gen_ai.usage.input_tokens 250000 is above 100000', 250000),
      over('empty_answer', 8, 'empty', null, 'gen_ai.usage.output_tokens 0 is below 1', 0),
    ]);
  });
});

describe('RuleEngine: repeat', () => {
  it('records the newest user message of each call in a conversation as a turn, and makes no verdict itself', () => {
    const e = engine([{ name: 'same_question_reasked', kind: 'repeat', label: 'reasked' }]);
    const ask = (n: number, q: string, conversation: string | null = 'conv-r') =>
      chat(n, { ...(conversation ? { 'gen_ai.conversation.id': conversation } : {}), 'gen_ai.input.messages': messages(['user', 'earlier question'], ['assistant', 'answer'], ['user', q]) }, { start: T0 + BigInt(n) * SECOND, end: T0 + BigInt(n + 1) * SECOND });
    const long = `Where ${'really '.repeat(40)}is it?`;
    const b = onSpans(e, [
      ask(1, 'Where is my order #123?'),
      ask(2, 'WHERE IS MY   ORDER 123!!'),
      ask(3, long),
      // No conversation, or nothing left once punctuation is gone: no turn.
      ask(4, 'Where is my order #123?', null),
      ask(5, '?!'),
    ]);
    const turn = (n: number, message: string, normal: string) => ({
      conversation_id: 'conv-r', message_hash: contentKey(normal), trace_id: TRACE, span_id: span(n), time_unix_nano: T0 + BigInt(n) * SECOND, message,
      rule: 'same_question_reasked', label: 'reasked', polarity: 'negative',
    });
    expect(b.turns).toEqual([
      turn(1, 'Where is my order #123?', 'where is my order 123'),
      turn(2, 'WHERE IS MY   ORDER 123!!', 'where is my order 123'),
      turn(3, long.slice(0, 200), long.toLowerCase().replace('?', '').trim()),
    ]);
    expect(b.evaluations).toEqual([]);
  });

  it('takes the verdict name, label and polarity the rule sets', () => {
    const e = engine([{ name: 'reask', kind: 'repeat', evaluation: 'asked_again', label: 'again', polarity: 'neutral' }]);
    const b = onSpans(e, [chat(1, { 'gen_ai.conversation.id': 'c', 'gen_ai.input.messages': messages(['user', 'hi']) })]);
    expect(b.turns.map((t) => [t.rule, t.label, t.polarity])).toEqual([['asked_again', 'again', 'neutral']]);
  });
});
