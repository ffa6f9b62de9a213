/**
 * The one shape of message content (the GenAI conventions' input/output
 * messages): conversion from every shape the captured emitters use, the
 * flattened per-field attributes, message events, and the short texts.
 */
import { describe, expect, it } from 'vitest';
import { Flattened } from '../../src/normalize/conventions/flattened.ts';
import { eventFragments } from '../../src/normalize/message-events.ts';
import { finishReason, lastUserText, toMessages, toSystemParts } from '../../src/normalize/message-shape.ts';
import type { KeyValue } from '../../src/otlp/types.ts';

const text = (content: string) => ({ type: 'text', content });
const call = (id: string | null, name: string, args: unknown) => ({ type: 'tool_call', id, name, arguments: args });
const result = (id: string | null, response: unknown) => ({ type: 'tool_call_response', id, response });
const WEATHER = { city: 'Paris', temperature_c: 18, conditions: 'cloudy' };
const s = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

describe('conversion to the one shape', () => {
  it('keeps messages already in the shape as they are', () => {
    const m = [{ role: 'user', parts: [text('hi')] }, { role: 'assistant', parts: [call('c1', 'f', '{"a":1}')], finish_reason: 'tool_call', extra: 1 }];
    expect(toMessages(m, 'input')).toBe(m);
  });

  it('converts an OpenAI chat request and response, tool calls with parsed arguments', () => {
    const request = {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: JSON.stringify(WEATHER) },
      ],
    };
    expect(toMessages(request, 'input')).toEqual([
      { role: 'system', parts: [text('Be terse.')] },
      { role: 'user', parts: [text('Weather in Paris?')] },
      { role: 'assistant', parts: [call('call_1', 'get_weather', { city: 'Paris' })] },
      { role: 'tool', parts: [result('call_1', JSON.stringify(WEATHER))] },
    ]);
    const response = { id: 'chatcmpl-1', choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', function: { name: 'get_weather', arguments: 'not json' } }] } }] };
    expect(toMessages(response, 'output')).toEqual([{ role: 'assistant', parts: [call('call_1', 'get_weather', 'not json')], finish_reason: 'tool_call' }]);
  });

  it('converts the AI SDK prompt messages (tool-call and tool-result blocks)', () => {
    const prompt = [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'call_1', toolName: 'get_weather', output: { type: 'json', value: WEATHER } }] },
    ];
    expect(toMessages(prompt, 'input')).toEqual([
      { role: 'system', parts: [text('Be terse.')] },
      { role: 'user', parts: [text('Weather in Paris?')] },
      { role: 'assistant', parts: [call('call_1', 'get_weather', { city: 'Paris' })] },
      { role: 'tool', parts: [result('call_1', WEATHER)] },
    ]);
  });

  it('converts LangChain serialised messages and generations', () => {
    const lc = (cls: string, kwargs: object) => ({ lc: 1, type: 'constructor', id: ['langchain_core', 'messages', cls], kwargs });
    const input = { messages: [[
      lc('SystemMessage', { content: [{ type: 'text', text: 'Be terse.' }] }),
      lc('HumanMessage', { content: 'Weather in Paris?' }),
      lc('AIMessage', { content: '', tool_calls: [{ name: 'get_weather', args: { city: 'Paris' }, id: 'call_1', type: 'tool_call' }], additional_kwargs: { tool_calls: [{ id: 'call_1', function: { name: 'x', arguments: '{}' } }] } }),
      lc('ToolMessage', { content: '{"city":"Paris"}', tool_call_id: 'call_1', name: 'get_weather' }),
    ]] };
    expect(toMessages(input, 'input')).toEqual([
      { role: 'system', parts: [text('Be terse.')] },
      { role: 'user', parts: [text('Weather in Paris?')] },
      { role: 'assistant', parts: [call('call_1', 'get_weather', { city: 'Paris' })] },
      { role: 'tool', parts: [result('call_1', '{"city":"Paris"}')] },
    ]);
    const output = { generations: [[{ text: 'Sunny.', message: lc('AIMessage', { id: 'chatcmpl-9', content: 'Sunny.', response_metadata: { finish_reason: 'stop' } }), generationInfo: { finish_reason: 'stop' } }]] };
    expect(toMessages(output, 'output')).toEqual([{ role: 'assistant', parts: [text('Sunny.')], finish_reason: 'stop' }]);
  });

  it('keeps of an agent\'s final state what follows the last user message', () => {
    const state = { messages: [{ role: 'user', content: 'Q?' }, { role: 'assistant', content: 'thinking' }, { role: 'assistant', content: 'A.' }] };
    expect(toMessages(state, 'output')).toEqual([{ role: 'assistant', parts: [text('thinking')] }, { role: 'assistant', parts: [text('A.')] }]);
    expect(toMessages(state, 'input')).toHaveLength(3);
  });

  it('reads plain text, wrapped inputs and outputs, and Traceloop entity arguments', () => {
    expect(toMessages('Hello', 'input')).toEqual([{ role: 'user', parts: [text('Hello')] }]);
    expect(toMessages('Bye', 'output')).toEqual([{ role: 'assistant', parts: [text('Bye')] }]);
    expect(toMessages({ input: 'Q' }, 'input')).toEqual([{ role: 'user', parts: [text('Q')] }]);
    expect(toMessages({ outputs: 'A' }, 'output')).toEqual([{ role: 'assistant', parts: [text('A')] }]);
    expect(toMessages({ args: ['Q'], kwargs: {} }, 'input')).toEqual([{ role: 'user', parts: [text('Q')] }]);
    expect(toMessages({ args: [], kwargs: { question: 'Q' } }, 'input')).toEqual([{ role: 'user', parts: [text('Q')] }]);
  });

  it('finds no messages in what holds none', () => {
    for (const v of [undefined, null, '', 42, { city: 'Paris' }, { args: [], kwargs: {} }, { input: ['a', 'b'] }, [{ no: 'role' }]]) expect(toMessages(v, 'input')).toBeNull();
    // LangChain nests one list of messages per prompt; deeper nesting is not a conversation.
    expect(toMessages([[{ role: 'user', content: 'x' }]], 'input')).toEqual([{ role: 'user', parts: [text('x')] }]);
    expect(toMessages([[[{ role: 'user', content: 'x' }]]], 'input')).toBeNull();
  });

  it('spells finish reasons the conventions\' way and roles likewise', () => {
    expect(['tool_calls', 'tool-calls', 'end_turn', 'max_tokens', 'content-filter', 'stop', 'custom'].map(finishReason)).toEqual(['tool_call', 'tool_call', 'stop', 'length', 'content_filter', 'stop', 'custom']);
    expect(toMessages([{ role: 'human', content: 'a' }, { role: 'ai', content: 'b' }, { role: 'developer', content: 'c' }], 'input')!.map((m) => m.role)).toEqual(['user', 'assistant', 'system']);
  });

  it('makes system instructions a list of parts', () => {
    expect(toSystemParts('Be terse.')).toEqual([text('Be terse.')]);
    expect(toSystemParts([text('a'), { type: 'text', text: 'b' }])).toEqual([text('a'), text('b')]);
    expect(toSystemParts('')).toBeNull();
  });
});

describe('the last user message (what the rules read)', () => {
  it('is the last user message with text, its text parts one per line', () => {
    const history = [
      { role: 'user', parts: [text('first')] },
      { role: 'assistant', parts: [text('answer')] },
      { role: 'user', parts: [text('second'), text('line two')] },
      // The Responses API sends a tool's result as a user message: not the user speaking.
      { role: 'user', parts: [result('c', 'x')] },
    ];
    expect(lastUserText(history)).toBe('second\nline two');
    expect(lastUserText([{ role: 'assistant', parts: [text('x')] }])).toBeNull();
  });
});

describe('flattened messages', () => {
  it('reads OpenInference\'s llm.input_messages.* fields', () => {
    const f = new Flattened();
    const add = (k: string, v: string) => f.add(k, { stringValue: v });
    add('1.message.role', 'assistant');
    add('1.message.tool_calls.0.tool_call.id', 'call_1');
    add('1.message.tool_calls.0.tool_call.function.name', 'get_weather');
    add('1.message.tool_calls.0.tool_call.function.arguments', '{"city":"Paris"}');
    add('0.message.role', 'user');
    add('0.message.contents.1.message_content.text', 'part two');
    add('0.message.contents.0.message_content.type', 'text');
    add('0.message.contents.0.message_content.text', 'part one');
    add('0.message.contents.1.message_content.type', 'text');
    add('2.message.role', 'tool');
    add('2.message.tool_call_id', 'call_1');
    add('2.message.content', 'sunny');
    add('x.message.role', 'ignored');
    add('99999999.message.role', 'ignored');
    expect(f.toMessages('input')).toEqual([
      { role: 'user', parts: [text('part one'), text('part two')] },
      { role: 'assistant', parts: [call('call_1', 'get_weather', { city: 'Paris' })] },
      { role: 'tool', parts: [result('call_1', 'sunny')] },
    ]);
  });

  it('reads OpenLLMetry\'s gen_ai.completion.* fields, with the finish reason', () => {
    const f = new Flattened();
    f.add('0.role', { stringValue: 'assistant' });
    f.add('0.content', { stringValue: 'Hi' });
    f.add('0.finish_reason', { stringValue: 'length' });
    f.add('1.content', { stringValue: 'Second choice' });
    expect(f.toMessages('output', 'stop')).toEqual([
      { role: 'assistant', parts: [text('Hi')], finish_reason: 'length' },
      { role: 'assistant', parts: [text('Second choice')], finish_reason: 'stop' },
    ]);
  });
});

describe('message events', () => {
  it('reads the per-message events of semconv 1.28–1.36 from bodies, and from span event attributes', () => {
    expect(eventFragments('gen_ai.user.message', [], { content: 'Q?' })).toEqual([{ kind: 'input', value: [{ role: 'user', parts: [text('Q?')] }] }]);
    expect(eventFragments('gen_ai.system.message', [], 'Be terse.')).toEqual([{ kind: 'input', value: [{ role: 'system', parts: [text('Be terse.')] }] }]);
    expect(eventFragments('gen_ai.assistant.message', [], { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }))
      .toEqual([{ kind: 'input', value: [{ role: 'assistant', parts: [call('call_1', 'f', { a: 1 })] }] }]);
    expect(eventFragments('gen_ai.tool.message', [], { id: 'call_1', content: '{"ok":true}' })).toEqual([{ kind: 'input', value: [{ role: 'tool', parts: [result('call_1', '{"ok":true}')] }] }]);
    expect(eventFragments('gen_ai.choice', [], { index: 0, finish_reason: 'tool_calls', message: { content: 'A.' } })).toEqual([{ kind: 'output', value: [{ role: 'assistant', parts: [text('A.')], finish_reason: 'tool_call' }] }]);
    // As a span event, the body's fields are the event's attributes.
    expect(eventFragments('gen_ai.user.message', [s('content', 'From attributes'), s('gen_ai.system', 'openai')], undefined)).toEqual([{ kind: 'input', value: [{ role: 'user', parts: [text('From attributes')] }] }]);
  });

  it('reads gen_ai.client.inference.operation.details (structured or JSON) and the v1.26 content events', () => {
    const input = { arrayValue: { values: [{ kvlistValue: { values: [s('role', 'user'), { key: 'parts', value: { arrayValue: { values: [{ kvlistValue: { values: [s('type', 'text'), s('content', 'Q?')] } }] } } }] } }] } };
    expect(eventFragments('gen_ai.client.inference.operation.details', [{ key: 'gen_ai.input.messages', value: input }, s('gen_ai.system_instructions', 'Be terse.'), s('gen_ai.output.messages', JSON.stringify([{ role: 'assistant', parts: [text('A.')], finish_reason: 'stop' }]))], null))
      .toEqual([
        { kind: 'system', value: [text('Be terse.')] },
        { kind: 'input', value: [{ role: 'user', parts: [text('Q?')] }] },
        { kind: 'output', value: [{ role: 'assistant', parts: [text('A.')], finish_reason: 'stop' }] },
      ]);
    expect(eventFragments('gen_ai.content.prompt', [s('gen_ai.prompt', JSON.stringify([{ role: 'user', content: 'Q?' }]))], undefined)).toEqual([{ kind: 'input', value: [{ role: 'user', parts: [text('Q?')] }] }]);
    expect(eventFragments('gen_ai.evaluation.result', [], {})).toEqual([]);
  });
});
