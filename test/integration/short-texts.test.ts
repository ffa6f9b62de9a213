/**
 * A span's input_text and output_text are derived in SQL from its messages
 * (verdict.input_text, verdict.output_text), so the text is not stored twice:
 * the last user message with text and the answer, each at most 1000
 * characters, on both databases.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

const text = (content: string) => ({ type: 'text', content });

describe.each(BACKENDS)('short texts on %s', (backend) => {
  const t = serverForSuite(backend);
  const one = async (sql: string, value: unknown) => (await t.query<{ v: string | null }>(sql.replace('$1', `'${JSON.stringify(value).replaceAll("'", "''")}'::jsonb`)))[0]!.v;

  it('input_text is the last user message with text, its text parts one per line', async () => {
    const history = [
      { role: 'user', parts: [text('first')] },
      { role: 'assistant', parts: [text('answer')] },
      { role: 'user', parts: [text('second'), { type: 'tool_call', id: 'c', name: 'f', arguments: {} }, text('line two')] },
      // The Responses API sends a tool's result as a user message: not the user speaking.
      { role: 'user', parts: [{ type: 'tool_call_response', id: 'c', response: 'x' }] },
    ];
    expect(await one('SELECT verdict.last_user_text($1) AS v', history)).toBe('second\nline two');
    expect(await one('SELECT verdict.last_user_text($1) AS v', [{ role: 'assistant', parts: [text('x')] }])).toBeNull();
    expect(await one('SELECT verdict.last_user_text($1) AS v', { not: 'a list' })).toBeNull();
  });

  it('output_text is the last message with text', async () => {
    const out = [
      { role: 'assistant', parts: [text('draft')] },
      { role: 'assistant', parts: [text('final')] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: {} }] },
    ];
    expect(await one('SELECT verdict.answer_text($1) AS v', out)).toBe('final');
    expect(await one('SELECT verdict.answer_text($1) AS v', [])).toBeNull();
  });

  it('are cut at 1000 characters', async () => {
    const long = [{ role: 'user', parts: [text(`${'a'.repeat(999)}🎉bc`)] }];
    const row = (await t.query<{ input: string }>(`
      SELECT left(verdict.last_user_text('${JSON.stringify(long)}'::jsonb), 1000) AS input`))[0]!;
    expect(row.input).toBe(`${'a'.repeat(999)}🎉`);
    // And the view applies it.
    const traceId = 'e'.repeat(32);
    const body = {
      resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: {}, spans: [{
        traceId, spanId: 'f'.repeat(16), name: 'chat', kind: 3, startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n), endTimeUnixNano: String(BigInt(Date.now() + 5) * 1_000_000n),
        attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }, { key: 'gen_ai.input.messages', value: { stringValue: JSON.stringify(long) } }],
      }] }] }],
    };
    const res = await fetch(`${t.httpUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const [span] = await t.query<{ input_text: string; length: number }>(`SELECT input_text, length(input_text) AS length FROM verdict.spans WHERE trace_id = '${traceId}'`);
    expect(span).toEqual({ input_text: `${'a'.repeat(999)}🎉`, length: 1000 });
    const [run] = await t.query<{ input_text: string }>(`SELECT input_text FROM verdict.traces WHERE trace_id = '${traceId}'`);
    expect(run!.input_text).toBe(span!.input_text);
  });
});
