/**
 * A run's input and output text (verdict.traces) is kept on its summary at
 * ingest, from the text the receiver works out of the content it writes.
 * It must be, character for character, what verdict.input_text and
 * verdict.output_text give for the stored span: content that has to be
 * cleaned to be stored, text cut at 1000 characters that are not all one
 * UTF-16 unit, several text parts, messages without text.
 */
import { describe, expect, it } from 'vitest';
import { logsJson, postJson, str, traceJson } from '../helpers/otlp.ts';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

const text = (content: unknown) => ({ type: 'text', content });
const user = (...parts: object[]) => ({ role: 'user', parts });
const assistant = (...parts: object[]) => ({ role: 'assistant', parts });

/** Content for a model call, and the texts verdict.input_text and verdict.output_text give for it. */
const CASES: Array<{ name: string; input: object[] | object; output: object[] | object; inputText: string | null; outputText: string | null }> = [
  { name: 'plain', input: [user(text('hello'))], output: [assistant(text('hi there'))], inputText: 'hello', outputText: 'hi there' },
  {
    name: 'cleaned to be stored: U+0000 and a lone surrogate',
    input: [user(text('a\u0000b'))], output: [assistant(text('x\uD800y'))], inputText: 'a\uFFFDb', outputText: 'x\uFFFDy',
  },
  {
    // One attribute per field (an older convention): converted, then cleaned as the column is written.
    name: 'cleaned to be stored, from flattened attributes',
    input: { 'gen_ai.prompt.0.role': 'user', 'gen_ai.prompt.0.content': 'a\u0000b' },
    output: { 'gen_ai.completion.0.role': 'assistant', 'gen_ai.completion.0.content': 'x\uD800y' },
    inputText: 'a\uFFFDb', outputText: 'x\uFFFDy',
  },
  {
    name: 'cut at 1000 characters, each two UTF-16 units',
    input: [user(text('😀'.repeat(1200)))], output: [assistant(text('é'.repeat(999) + '😀😀'))], inputText: '😀'.repeat(1000), outputText: 'é'.repeat(999) + '😀',
  },
  {
    name: 'text parts joined; empty, non-text and non-string parts skipped',
    input: [user(text('one'), text(''), { type: 'image', content: 'x' }, text(42), text('two'))],
    output: [assistant(text('first')), assistant({ type: 'tool_call', id: 'c', name: 'f', arguments: {} })],
    inputText: 'one\ntwo', outputText: 'first',
  },
  {
    name: 'the last user message with text: a tool result sent as a user message is skipped',
    input: [user(text('the question')), assistant(text('calling')), user({ type: 'tool_call_response', id: 'c', response: 'r' })],
    output: [assistant({ type: 'tool_call', id: 'c', name: 'f', arguments: {} })],
    inputText: 'the question', outputText: null,
  },
];

const T0 = 1_767_225_600_000_000_000n;
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** Messages as the current attribute (a list), or as the attributes given (an object of them). */
const content = (key: string, v: object[] | object | null) =>
  v === null ? [] : Array.isArray(v) ? [str(key, JSON.stringify(v))] : Object.entries(v).map(([k, x]) => str(k, x as string));

function chat(traceId: string, spanId: string, parent: string | null, startMs: number, endMs: number, input: object[] | object | null, output: object[] | object | null) {
  return {
    traceId, spanId, ...(parent ? { parentSpanId: parent } : {}), name: 'chat m', kind: 3,
    startTimeUnixNano: String(T0 + BigInt(startMs) * 1_000_000n), endTimeUnixNano: String(T0 + BigInt(endMs) * 1_000_000n),
    attributes: [
      str('gen_ai.operation.name', 'chat'),
      ...content('gen_ai.input.messages', input),
      ...content('gen_ai.output.messages', output),
    ],
  };
}

/** An agent's root span, with or without content of its own. */
function agent(traceId: string, spanId: string, startMs: number, endMs: number, content: { input: object[]; output: object[] } | null) {
  const span = chat(traceId, spanId, null, startMs, endMs, content?.input ?? null, content?.output ?? null);
  return { ...span, name: 'invoke_agent a', attributes: [str('gen_ai.operation.name', 'invoke_agent'), ...span.attributes.slice(1)] };
}

describe.each(BACKENDS)('run text on %s', (backend) => {
  const t = serverForSuite(backend);

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s: the run\'s text is its span\'s, as stored', async (_name, c, i) => {
    const traceId = hex(0xa000 + i, 32);
    // A root model call (its text is the run's), and a run whose root has no content (its model calls' is).
    const other = hex(0xb000 + i, 32);
    const body = traceJson([
      chat(traceId, hex(1, 16), null, 0, 1000, c.input, c.output),
      chat(other, hex(3, 16), hex(2, 16), 10, 500, c.input, c.output),
      agent(other, hex(2, 16), 0, 1000, null),
    ]);
    expect((await postJson(`${t.httpUrl}/v1/traces`, body)).status).toBe(200);
    const runs = await t.query<{ trace_id: string; input_text: string | null; output_text: string | null }>(
      `SELECT trace_id, input_text, output_text FROM verdict.traces WHERE trace_id IN ('${traceId}', '${other}') ORDER BY trace_id`);
    const spans = await t.query<{ input_text: string | null; output_text: string | null }>(
      `SELECT input_text, output_text FROM verdict.spans WHERE trace_id IN ('${traceId}', '${other}') AND gen_ai_operation_name = 'chat' ORDER BY trace_id`);
    const expected = { input_text: c.inputText, output_text: c.outputText };
    expect(spans).toEqual([expected, expected]);
    expect(runs).toEqual([{ trace_id: traceId, ...expected }, { trace_id: other, ...expected }]);
  });

  it('takes the earliest model call\'s input and the last one\'s output when the root has none, however the calls arrive', async () => {
    const traceId = hex(0xc000, 32);
    const root = agent(traceId, hex(10, 16), 0, 5000, null);
    // Same start (then the smaller span ID's input), same end (then the greater span ID's output).
    const calls = [
      chat(traceId, hex(13, 16), hex(10, 16), 100, 3000, [user(text('third by ID'))], [assistant(text('last by ID'))]),
      chat(traceId, hex(12, 16), hex(10, 16), 100, 3000, [user(text('first'))], [assistant(text('not last'))]),
      chat(traceId, hex(11, 16), hex(10, 16), 200, 2000, [user(text('later'))], [assistant(text('earlier end'))]),
      chat(traceId, hex(14, 16), hex(10, 16), 300, 2500, null, null),
    ];
    // One at a time in the worst order, then all again (a retry).
    for (const span of [calls[3], calls[2], calls[0], root, calls[1]]) expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([span as object]))).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([root, ...calls]))).status).toBe(200);
    expect(await t.query(`SELECT input_text, output_text, span_count::int FROM verdict.traces WHERE trace_id = '${traceId}'`))
      .toEqual([{ input_text: 'first', output_text: 'last by ID', span_count: 5 }]);
  });

  it('keeps a judged run\'s text and task when its call\'s messages come last, in a log record', async () => {
    const traceId = hex(0xe000, 32);
    expect((await postJson(`${t.httpUrl}/v1/feedback`, { trace_id: traceId, name: 'resolved', score_label: 'yes', source: 'user' })).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([agent(traceId, hex(30, 16), 0, 1000, null), chat(traceId, hex(31, 16), hex(30, 16), 10, 500, null, null)]))).status).toBe(200);
    const run = () => t.query(`SELECT r.input_text, s.task FROM verdict.traces r JOIN verdict.trace_summary s USING (trace_id) WHERE r.trace_id = '${traceId}'`);
    expect(await run()).toEqual([{ input_text: null, task: null }]);
    const record = { traceId, spanId: hex(31, 16), timeUnixNano: String(T0 + 20_000_000n), eventName: 'gen_ai.user.message', body: { kvlistValue: { values: [str('content', '  How do I   Reset? ')] } } };
    expect((await postJson(`${t.httpUrl}/v1/logs`, logsJson([record]))).status).toBe(200);
    expect(await run()).toEqual([{ input_text: '  How do I   Reset? ', task: 'how do i reset?' }]);
  });

  it('gives a run judged in the request that brings its spans its task at once', async () => {
    const traceId = hex(0xe100, 32);
    const root = agent(traceId, hex(40, 16), 0, 1000, { input: [user(text('  Where is   my Parcel? '))], output: [assistant(text('on its way'))] });
    const verdict = {
      timeUnixNano: String(T0 + 900_000_000n), name: 'gen_ai.evaluation.result',
      attributes: [str('gen_ai.evaluation.name', 'resolved'), str('gen_ai.evaluation.score.label', 'yes')],
    };
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([{ ...root, events: [verdict] }]))).status).toBe(200);
    expect(await t.query(`SELECT s.task, s.task_id = r.task_id AS same_id, s.positive_verdicts::int AS positive
      FROM verdict.trace_summary s CROSS JOIN LATERAL verdict.run_task(s.trace_id) r WHERE s.trace_id = '${traceId}'`))
      .toEqual([{ task: 'where is my parcel?', same_id: true, positive: 1 }]);
  });

  it('takes the root\'s text when it has some, the root arriving after its calls in one request', async () => {
    const [withText, without] = [hex(0xd000, 32), hex(0xd001, 32)];
    const call = (traceId: string) => chat(traceId, hex(21, 16), hex(20, 16), 100, 900, [user(text('the call\'s'))], [assistant(text('the call\'s answer'))]);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([
      call(withText), agent(withText, hex(20, 16), 0, 1000, { input: [user(text('the run\'s'))], output: [assistant(text('the run\'s answer'))] }),
      call(without), agent(without, hex(20, 16), 0, 1000, null),
    ]))).status).toBe(200);
    expect(await t.query(`SELECT trace_id, input_text, output_text FROM verdict.traces WHERE trace_id IN ('${withText}', '${without}') ORDER BY trace_id`)).toEqual([
      { trace_id: withText, input_text: 'the run\'s', output_text: 'the run\'s answer' },
      { trace_id: without, input_text: 'the call\'s', output_text: 'the call\'s answer' },
    ]);
  });
});
