/** The OTLP/JSON decoder's rules and leniencies, and its error messages. */
import { describe, expect, it } from 'vitest';
import { decodeLogsJson, decodeTraceJson, UndecodableId } from '../../src/otlp/json.ts';
import { BadRequestError } from '../../src/errors.ts';
import { anyValueCase } from '../../src/otlp/types.ts';

const spanOf = (span: object) => decodeTraceJson(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] })).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('OTLP/JSON decoding', () => {
  it('reads hex IDs in any case, and base64 IDs when their length rules hex out', () => {
    const trace = '5B8EFFF798038103D269B633813FC60C';
    expect(hex(spanOf({ traceId: trace, spanId: 'eee19b7ec3c1b174' }).traceId)).toBe(trace.toLowerCase());
    const b64 = Buffer.from(trace, 'hex').toString('base64');
    expect(b64).toHaveLength(24);
    expect(hex(spanOf({ traceId: b64 }).traceId)).toBe(trace.toLowerCase());
    expect(hex(spanOf({ traceId: b64.replace(/=+$/, '') }).traceId)).toBe(trace.toLowerCase());
    const spanB64 = Buffer.from('eee19b7ec3c1b174', 'hex').toString('base64url');
    expect(hex(spanOf({ spanId: spanB64 }).spanId)).toBe('eee19b7ec3c1b174');
    expect(spanOf({ traceId: '' }).traceId).toHaveLength(0);
    const bad = spanOf({ traceId: 'zz!' }).traceId;
    expect(bad).toBeInstanceOf(UndecodableId);
    expect((bad as UndecodableId).text).toBe('zz!');
  });

  it('reads 64-bit integers from strings and numbers, exactly', () => {
    const s = spanOf({ startTimeUnixNano: '18446744073709551615', endTimeUnixNano: 1767225600000000000, attributes: [{ key: 'i', value: { intValue: '-9223372036854775808' } }] });
    expect(s.startTimeUnixNano).toBe(18446744073709551615n);
    expect(s.attributes[0]!.value!.intValue).toBe(-9223372036854775808n);
    expect(() => spanOf({ startTimeUnixNano: '18446744073709551616' })).toThrow('startTimeUnixNano: expected an unsigned 64-bit integer');
    expect(() => spanOf({ startTimeUnixNano: '-1' })).toThrow(BadRequestError);
    expect(() => spanOf({ startTimeUnixNano: 1.5 })).toThrow(BadRequestError);
  });

  it('accepts snake_case keys and enum names, and ignores unknown fields', () => {
    const s = spanOf({ trace_id: 'ab'.repeat(16), parent_span_id: 'cd'.repeat(8), kind: 'SPAN_KIND_CONSUMER', status: { code: 'STATUS_CODE_ERROR' }, dropped_attributes_count: '3', whatever: [1, 2] });
    expect(hex(s.traceId)).toBe('ab'.repeat(16));
    expect(hex(s.parentSpanId)).toBe('cd'.repeat(8));
    expect(s.kind).toBe(5);
    expect(s.status!.code).toBe(2);
    expect(s.droppedAttributesCount).toBe(3);
    expect(() => spanOf({ kind: 'SERVER' })).toThrow('kind: expected an integer enum value, got the string "SERVER"');
  });

  it('reads every AnyValue kind and treats null as absent', () => {
    const s = spanOf({ attributes: [
      { key: 'd', value: { doubleValue: 'Infinity' } }, { key: 'n', value: { doubleValue: 'NaN' } }, { key: 'b', value: { bytesValue: 'AQID' } },
      { key: 'e', value: {} }, { key: 'nul', value: null }, { key: 'x', value: { stringValue: null, boolValue: false } },
    ] });
    expect(s.attributes.map((kv) => [kv.key, kv.value ? anyValueCase(kv.value) : null])).toEqual([['d', 'doubleValue'], ['n', 'doubleValue'], ['b', 'bytesValue'], ['e', undefined], ['nul', null], ['x', 'boolValue']]);
    expect(s.attributes[0]!.value!.doubleValue).toBe(Infinity);
    expect(s.attributes[1]!.value!.doubleValue).toBeNaN();
    expect(Array.from(s.attributes[2]!.value!.bytesValue!)).toEqual([1, 2, 3]);
  });

  it('refuses an AnyValue with two members, base64 of an impossible length and doubles out of range, as proto3 JSON does', () => {
    const value = (v: string) => decodeTraceJson(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":${v}}]}]}]}]}`).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes[0]!.value!;
    expect(() => value('{"stringValue":"x","int_value":"1"}')).toThrow('value: an AnyValue holds one value, got both stringValue and intValue');
    // One member under both names is one field: the lowerCamelCase name wins, even as null.
    expect(value('{"string_value":"y","stringValue":"x"}')).toEqual({ stringValue: 'x' });
    expect(value('{"stringValue":null,"string_value":"y"}')).toEqual({});
    expect(value('{"bytesValue":"q93jAEAQ"}').bytesValue).toHaveLength(6);
    for (const bad of ['{"bytesValue":"q93jAEAQX"}', '{"bytesValue":"AB="}', '{"doubleValue":1e400}', '{"doubleValue":"+1"}', '{"doubleValue":" 1"}', '{"doubleValue":".5"}']) {
      expect(() => value(bad), bad).toThrow(BadRequestError);
    }
    expect(value('{"doubleValue":"-2.5e-3"}')).toEqual({ doubleValue: -0.0025 });
    // A base64 ID of an impossible length is no ID.
    expect(spanOf({ traceId: `${Buffer.alloc(16, 7).toString('base64').slice(0, 22)}=` }).traceId).toBeInstanceOf(UndecodableId);
  });

  it('names the path of what is wrong', () => {
    const cases: Array<[unknown, string]> = [
      [{ resourceSpans: {} }, 'resourceSpans: expected an array, got an object'],
      [{ resourceSpans: [{ scopeSpans: [{ spans: [{ attributes: [{ key: 'a', value: { boolValue: 'yes' } }] }] }] }] }, 'resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.boolValue: expected true or false, got the string "yes"'],
      [{ resourceSpans: [{ scopeSpans: [{ spans: [{ attributes: [{ key: 'a', value: { bytesValue: 'not base64!' } }] }] }] }] }, 'resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.bytesValue: expected a base64 string, got the string "not base64!"'],
      [{ resourceSpans: [{ scopeSpans: [{ spans: [{ flags: -1 }] }] }] }, 'resourceSpans[0].scopeSpans[0].spans[0].flags: expected an unsigned 32-bit integer, got number -1'],
      [[1], 'request body must be a JSON object, got an array'],
    ];
    for (const [body, message] of cases) expect(() => decodeTraceJson(JSON.stringify(body)), message).toThrow(message);
    expect(() => decodeLogsJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":7}]}]}]}')).toThrow('resourceLogs[0].scopeLogs[0].logRecords[0].eventName: expected a string, got number 7');
    expect(() => decodeLogsJson('nope')).toThrow(/^request body is not valid JSON/);
  });
});
