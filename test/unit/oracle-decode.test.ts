/**
 * The fuzz oracle's own decoders (test/helpers/oracle/) against the official
 * OpenTelemetry JS serializers and the opentelemetry-proto example payloads:
 * what the SDK recorded must come back field for field, from protobuf and
 * from JSON. Then the wire-format and OTLP/JSON edge cases the fuzz leans on.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonLogsSerializer, JsonTraceSerializer, ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pb, varint } from '../helpers/fuzz.ts';
import { decodeRequest, InvalidId, type Decoded } from '../helpers/oracle/decode.ts';
import { decodeJson, JsonMappingError } from '../helpers/oracle/json.ts';
import { AnyValue, ExportLogsServiceRequest, ExportTraceServiceRequest } from '../helpers/oracle/otlp-messages.ts';
import { decodeProtobuf } from '../helpers/oracle/protobuf.ts';
import { message, msg, scalar, type Message } from '../helpers/oracle/schema.ts';
import { WireError } from '../helpers/oracle/wire.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ns = ([s, n]: [number, number]) => BigInt(s) * 1_000_000_000n + BigInt(n);

/** An AnyValue as plain JS (ints as bigint, bytes as hex), to compare with what the SDK was given. */
function js(v: Decoded | null): unknown {
  if (!v) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return v.intValue;
  if ('doubleValue' in v) return v.doubleValue;
  if ('bytesValue' in v) return `bytes:${hex(v.bytesValue)}`;
  if ('arrayValue' in v) return v.arrayValue.values.map(js);
  if ('kvlistValue' in v) return attrs(v.kvlistValue.values);
  return null;
}
const attrs = (kvs: Decoded[]) => Object.fromEntries(kvs.map((kv) => [kv.key, js(kv.value)]));

const spansOf = (req: Decoded): Decoded[] => req.resourceSpans.flatMap((rs: Decoded) => rs.scopeSpans.flatMap((ss: Decoded) => ss.spans));
const recordsOf = (req: Decoded): Decoded[] => req.resourceLogs.flatMap((rl: Decoded) => rl.scopeLogs.flatMap((sl: Decoded) => sl.logRecords));

function spanView(s: Decoded) {
  return {
    traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), traceState: s.traceState, name: s.name, kind: s.kind, flags: s.flags,
    start: s.startTimeUnixNano, end: s.endTimeUnixNano, attributes: attrs(s.attributes), dropped: s.droppedAttributesCount,
    events: s.events.map((e: Decoded) => ({ time: e.timeUnixNano, name: e.name, attributes: attrs(e.attributes) })),
    links: s.links.map((l: Decoded) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId), traceState: l.traceState, attributes: attrs(l.attributes) })),
    status: s.status && { code: s.status.code, message: s.status.message },
  };
}

function logView(r: Decoded) {
  return {
    time: r.timeUnixNano, observed: r.observedTimeUnixNano, severity: r.severityNumber, text: r.severityText, eventName: r.eventName,
    body: js(r.body), attributes: attrs(r.attributes), traceId: hex(r.traceId), spanId: hex(r.spanId), flags: r.flags,
  };
}

describe('the oracle decoders against the official serializers', () => {
  it('read the SDK\'s protobuf and JSON trace encodings back to what the SDK recorded', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'oracle', 'process.pid': 4242 }), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('oracle-scope', '3.2.1');
    const linked = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    tracer.startActiveSpan('parent', { kind: SpanKind.SERVER, startTime: [1767225600, 123456789] }, (parent) => {
      const child = tracer.startSpan('child', {
        kind: SpanKind.CLIENT, startTime: [1767225601, 5],
        attributes: { s: 'text é', i: 42, big: 2 ** 40, d: 0.25, neg: -7, b: true, strings: ['a', 'b'], ints: [1, 2, 3], flags: [true, false] },
        links: [{ context: linked, attributes: { 'link.kind': 'follows' } }],
      }, trace.setSpan(context.active(), parent));
      child.addEvent('gen_ai.evaluation.result', { 'gen_ai.evaluation.name': 'relevance', 'gen_ai.evaluation.score.value': 0.75 }, [1767225601, 999]);
      child.addEvent('plain', [1767225601, 1000]);
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      child.end([1767225602, 0]);
      parent.end([1767225603, 0]);
    });
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const fromProto = spansOf(decodeRequest('traces', 'protobuf', ProtobufTraceSerializer.serializeRequest(spans)!)).map(spanView);
    const fromJson = spansOf(decodeRequest('traces', 'json', JsonTraceSerializer.serializeRequest(spans)!)).map(spanView);
    expect(fromProto).toHaveLength(2);
    expect(fromJson).toEqual(fromProto);

    const [child, parent] = fromProto;
    const sdkChild = spans.find((s) => s.name === 'child')!;
    expect(child).toEqual({
      traceId: sdkChild.spanContext().traceId, spanId: sdkChild.spanContext().spanId, parentSpanId: parent!.spanId, traceState: '', name: 'child',
      kind: 3, flags: sdkChild.spanContext().traceFlags | 0x100, start: ns([1767225601, 5]), end: ns([1767225602, 0]),
      attributes: { s: 'text é', i: 42n, big: 2n ** 40n, d: 0.25, neg: -7n, b: true, strings: ['a', 'b'], ints: [1n, 2n, 3n], flags: [true, false] }, dropped: 0,
      events: [
        { time: ns([1767225601, 999]), name: 'gen_ai.evaluation.result', attributes: { 'gen_ai.evaluation.name': 'relevance', 'gen_ai.evaluation.score.value': 0.75 } },
        { time: ns([1767225601, 1000]), name: 'plain', attributes: {} },
      ],
      links: [{ traceId: linked.traceId, spanId: linked.spanId, traceState: '', attributes: { 'link.kind': 'follows' } }],
      status: { code: 2, message: 'boom' },
    });
    expect(parent).toMatchObject({ name: 'parent', kind: 2, parentSpanId: '', start: ns([1767225600, 123456789]), status: { code: 0, message: '' } });
    const req = decodeRequest('traces', 'protobuf', ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(attrs(req.resourceSpans[0].resource.attributes)).toMatchObject({ 'service.name': 'oracle', 'process.pid': 4242n });
    expect(req.resourceSpans[0].scopeSpans[0].scope).toMatchObject({ name: 'oracle-scope', version: '3.2.1' });
  });

  it('read the SDK\'s protobuf and JSON log encodings back: nested bodies, bytes, event name, trace context', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'oracle' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
    const logger = provider.getLogger('log-scope', '2.0');
    const spanContext = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', traceFlags: 1 };
    logger.emit({
      eventName: 'gen_ai.evaluation.result', severityNumber: 13, severityText: 'WARN', timestamp: [1767225600, 123], observedTimestamp: [1767225601, 0],
      body: { nested: [1, 'two', { three: true, four: [] }], d: 1.5 }, attributes: { 'gen_ai.evaluation.name': 'x', n: 3.5, i: -3 },
      context: trace.setSpanContext(context.active(), spanContext),
    });
    logger.emit({ body: Uint8Array.from([0, 1, 0xfe, 0xff]), severityNumber: 9 });
    await provider.forceFlush();
    const records = exporter.getFinishedLogRecords();
    const fromProto = recordsOf(decodeRequest('logs', 'protobuf', ProtobufLogsSerializer.serializeRequest(records)!)).map(logView);
    const fromJson = recordsOf(decodeRequest('logs', 'json', JsonLogsSerializer.serializeRequest(records)!)).map(logView);
    expect(fromJson).toEqual(fromProto);
    expect(fromProto).toEqual([
      {
        time: ns([1767225600, 123]), observed: ns([1767225601, 0]), severity: 13, text: 'WARN', eventName: 'gen_ai.evaluation.result',
        body: { nested: [1n, 'two', { three: true, four: [] }], d: 1.5 }, attributes: { 'gen_ai.evaluation.name': 'x', n: 3.5, i: -3n },
        traceId: spanContext.traceId, spanId: spanContext.spanId, flags: 1,
      },
      expect.objectContaining({ body: 'bytes:0001feff', severity: 9, traceId: '', spanId: '', eventName: '' }),
    ]);
  });

  it('read the opentelemetry-proto example payloads (uppercase hex IDs, string times, integer enums, every AnyValue kind)', () => {
    const fixture = (name: string) => readFileSync(new URL(`../fixtures/otlp/${name}`, import.meta.url));
    const [span] = spansOf(decodeRequest('traces', 'json', fixture('trace.json'))).map(spanView);
    expect(span).toMatchObject({
      traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', parentSpanId: 'eee19b7ec3c1b173', name: "I'm a server span", kind: 2,
      start: 1544712660000000000n, end: 1544712661000000000n, attributes: { 'my.span.attr': 'some value' }, status: null,
    });
    const [log] = recordsOf(decodeRequest('logs', 'json', fixture('logs.json'))).map(logView);
    expect(log).toMatchObject({
      time: 1544712660300000000n, observed: 1544712660300000000n, severity: 10, text: 'Information', body: 'Example log record',
      traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', eventName: '',
      attributes: { 'string.attribute': 'some string', 'boolean.attribute': true, 'int.attribute': 10n, 'double.attribute': 637.704, 'array.attribute': ['many', 'values'], 'map.attribute': { 'some.map.key': 'some value' } },
    });
    const [event] = recordsOf(decodeRequest('logs', 'json', fixture('events.json'))).map(logView);
    expect(event).toMatchObject({ eventName: 'browser.page_view', severity: 9, traceId: '', spanId: '', body: { type: 0n, url: 'https://www.guidgenerator.com/online-guid-generator.aspx' } });
  });
});

// ---- wire format ----

const T16 = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
const S8 = Buffer.from('b7ad6b7169203331', 'hex');
/** An ExportTraceServiceRequest holding one span made of `spanFields`. */
const request = (...spanFields: Buffer[]) => pb.msg(1, [pb.msg(2, [pb.msg(2, spanFields)])]);
const oneSpan = (bytes: Uint8Array) => spansOf(decodeProtobuf(bytes, ExportTraceServiceRequest))[0]!;
const value = (...members: Buffer[]) => decodeProtobuf(Buffer.concat(members), AnyValue);
const tag = (field: number, wireType: number) => varint((field << 3) | wireType);

describe('the oracle\'s protobuf reader', () => {
  const good = request(pb.bytes(1, T16), pb.bytes(2, S8), pb.str(5, 'op'), pb.fixed64(7, 5n));

  it('refuses every truncation of a valid body that cuts a field', () => {
    expect(hex(oneSpan(good).traceId)).toBe(hex(T16));
    for (let n = 1; n < good.length; n++) expect(() => decodeProtobuf(good.subarray(0, n), ExportTraceServiceRequest), `cut at ${n}`).toThrow(WireError);
  });

  it('reads varints of up to 10 bytes and refuses longer ones, a length past the end and a truncated fixed64', () => {
    const kind = (bytes: number[]) => oneSpan(request(Buffer.concat([tag(6, 0), Buffer.from(bytes)]))).kind;
    expect(kind([0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])).toBe(2); // 10 bytes, zero padded
    expect(kind([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).toBe(-2); // an int32 enum sent sign-extended to 64 bits
    expect(() => kind([0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])).toThrow('varint longer than 10 bytes');
    expect(() => decodeProtobuf(Buffer.concat([tag(1, 2), varint(5), Buffer.alloc(4)]), ExportTraceServiceRequest)).toThrow('past the end');
    // The length of the inner span runs past the ScopeSpans that holds it.
    expect(() => decodeProtobuf(pb.msg(1, [pb.msg(2, [Buffer.concat([tag(2, 2), varint(50), pb.str(5, 'x')])])]), ExportTraceServiceRequest)).toThrow('past the end');
    expect(() => oneSpan(request(Buffer.concat([tag(7, 1), Buffer.alloc(7)])))).toThrow('truncated');
    const max = oneSpan(request(pb.fixed64(8, (1n << 64n) - 1n)));
    expect(max.endTimeUnixNano).toBe((1n << 64n) - 1n);
  });

  it('refuses field number 0, wire types 6 and 7, a stray end-group tag and a mismatched group; skips a well-formed unknown group', () => {
    expect(() => decodeProtobuf(Buffer.from([0x00, 0x00]), ExportTraceServiceRequest)).toThrow('field number 0');
    expect(() => decodeProtobuf(Buffer.concat([tag(9, 6), Buffer.alloc(4)]), ExportTraceServiceRequest)).toThrow('invalid wire type 6');
    expect(() => decodeProtobuf(Buffer.concat([tag(9, 7)]), ExportTraceServiceRequest)).toThrow('invalid wire type 7');
    expect(() => decodeProtobuf(tag(9, 4), ExportTraceServiceRequest)).toThrow('outside a group');
    expect(() => decodeProtobuf(Buffer.concat([tag(9, 3), pb.varint(1, 5), tag(8, 4)]), ExportTraceServiceRequest)).toThrow('ended by the end tag of 8');
    expect(() => decodeProtobuf(Buffer.concat([tag(9, 3), pb.varint(1, 5)]), ExportTraceServiceRequest)).toThrow('without its end');
    const grouped = Buffer.concat([tag(20, 3), pb.varint(1, 5), tag(21, 3), pb.str(2, 'x'), tag(21, 4), tag(20, 4)]);
    expect(hex(oneSpan(request(grouped, pb.bytes(1, T16), grouped)).traceId)).toBe(hex(T16));
    // A known field given as a group is skipped like an unknown one.
    expect(oneSpan(request(Buffer.concat([tag(5, 3), tag(5, 4)]), pb.str(5, 'kept'))).name).toBe('kept');
  });

  it('skips unknown fields of every wire type, and known fields sent with the wrong wire type', () => {
    const unknown = [pb.varint(99, 7), Buffer.concat([tag(98, 1), Buffer.alloc(8, 1)]), pb.str(97, 'x'), pb.fixed32(96, 1), pb.varint(1 << 20, 1)];
    const s = oneSpan(request(...unknown, pb.bytes(1, T16), ...unknown, pb.varint(5, 1), pb.str(5, 'name'), pb.fixed32(7, 9), pb.varint(2, 3)));
    expect(s).toMatchObject({ name: 'name', startTimeUnixNano: 0n });
    expect(hex(s.traceId)).toBe(hex(T16));
    expect(s.spanId).toHaveLength(0);
  });

  it('keeps the last of a repeated scalar and merges a repeated message field', () => {
    const s = oneSpan(request(pb.str(5, 'first'), pb.fixed64(7, 1n), pb.msg(15, [pb.str(2, 'msg')]), pb.str(5, 'second'), pb.fixed64(7, 2n), pb.msg(15, [pb.varint(3, 2)])));
    expect(s).toMatchObject({ name: 'second', startTimeUnixNano: 2n, status: { message: 'msg', code: 2 } });
    const res = decodeProtobuf(pb.msg(1, [pb.msg(1, [pb.msg(1, [pb.str(1, 'a')])]), pb.msg(1, [pb.msg(1, [pb.str(1, 'b')]), pb.varint(2, 3)])]), ExportTraceServiceRequest);
    expect(res.resourceSpans[0].resource).toMatchObject({ attributes: [{ key: 'a' }, { key: 'b' }], droppedAttributesCount: 3 });
  });

  it('reads a repeated number packed and unpacked alike', () => {
    // No repeated number in OTLP traces or logs: the rule is checked on a message of its own.
    const Numbers = message('Numbers', [[1, 'small', scalar('uint32'), { repeated: true }], [2, 'times', scalar('fixed64'), { repeated: true }]]);
    const packedSmall = pb.bytes(1, Buffer.concat([varint(1), varint(300), varint(7)]));
    const packedTimes = pb.bytes(2, Buffer.concat([Buffer.from('0100000000000000', 'hex'), Buffer.from('ffffffffffffffff', 'hex')]));
    const d = decodeProtobuf(Buffer.concat([pb.varint(1, 5), packedSmall, pb.varint(1, 9), packedTimes, pb.fixed64(2, 3n)]), Numbers);
    expect(d).toEqual({ small: [5, 1, 300, 7, 9], times: [1n, (1n << 64n) - 1n, 3n] });
    expect(() => decodeProtobuf(pb.bytes(2, Buffer.alloc(12)), Numbers)).toThrow('truncated');
  });

  it('keeps each AnyValue member seen on the wire, as Verdict documents (a proto3 optional field each)', () => {
    expect(value(pb.str(1, 's'), pb.varint(3, 5))).toEqual({ stringValue: 's', intValue: 5n });
    expect(value(pb.varint(2, 1), pb.double(4, 0.5), pb.varint(2, 0))).toEqual({ boolValue: false, doubleValue: 0.5 });
    const arr = (...xs: string[]) => pb.msg(5, xs.map((x) => pb.msg(1, [pb.str(1, x)])));
    expect(js(value(arr('a'), pb.str(1, 's'), arr('b')))).toBe('s');
    expect(value(arr('a'), pb.str(1, 's'), arr('b')).arrayValue.values.map(js)).toEqual(['a', 'b']);
    // string_value_strindex (8, profiles only) is treated as absent.
    expect(value(pb.str(1, 's'), pb.varint(8, 3))).toEqual({ stringValue: 's' });
    expect(value()).toEqual({});
  });

  it('sets the last member of a oneof seen on the wire, merging a message member seen again while set', () => {
    // No OTLP oneof is read so (AnyValue above): the rule is checked on a message of its own.
    const Choice: Message = message('Choice', [[1, 'text', scalar('string'), { oneof: 'v' }], [2, 'number', scalar('int64'), { oneof: 'v' }], [3, 'inner', msg(() => Choice), { oneof: 'v' }]]);
    expect(decodeProtobuf(Buffer.concat([pb.str(1, 's'), pb.varint(2, 5)]), Choice)).toEqual({ number: 5n });
    expect(decodeProtobuf(Buffer.concat([pb.varint(2, 5), pb.str(1, 's')]), Choice)).toEqual({ text: 's' });
    expect(decodeProtobuf(Buffer.concat([pb.msg(3, [pb.str(1, 'a')]), pb.msg(3, [pb.varint(2, 1)])]), Choice)).toEqual({ inner: { number: 1n } });
    expect(decodeProtobuf(Buffer.concat([pb.msg(3, [pb.str(1, 'a')]), pb.varint(2, 7), pb.msg(3, [])]), Choice)).toEqual({ inner: {} });
  });

  it('replaces invalid UTF-8 with U+FFFD and keeps a byte order mark', () => {
    const s = oneSpan(request(pb.bytes(5, Buffer.from([0x61, 0xff, 0xc3, 0x62, 0xed, 0xa0, 0x80])), pb.bytes(3, Buffer.from([0xef, 0xbb, 0xbf, 0x61]))));
    expect(s.name).toBe('a\uFFFD\uFFFDb\uFFFD\uFFFD\uFFFD');
    expect(s.traceState).toBe('\uFEFFa');
  });

  it('refuses messages nested deeper than the limit, without overflowing the stack at 4096 levels', () => {
    // Values nested as AnyValue → ArrayValue → AnyValue …: two message levels each, under request, ResourceSpans, ScopeSpans, Span, KeyValue.
    const nested = (levels: number) => {
      let v: Buffer = pb.str(1, 'bottom');
      for (let i = 0; i < levels; i++) v = pb.msg(5, [pb.msg(1, [v])]);
      return request(pb.msg(9, [pb.str(1, 'k'), pb.msg(2, [v])]));
    };
    // Request 1, ResourceSpans 2, ScopeSpans 3, Span 4, KeyValue 5, AnyValue 6, then 2 per level.
    expect(() => decodeProtobuf(nested(4), ExportTraceServiceRequest, 14)).not.toThrow();
    expect(() => decodeProtobuf(nested(5), ExportTraceServiceRequest, 14)).toThrow('deeper than 14 levels');
    expect(() => decodeProtobuf(nested(2044), ExportTraceServiceRequest)).not.toThrow();
    expect(() => decodeProtobuf(nested(2046), ExportTraceServiceRequest)).toThrow('deeper than 4096 levels');
  });
});

// ---- OTLP/JSON ----

const jsonSpan = (span: object): Decoded => spansOf(decodeJson(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }), ExportTraceServiceRequest))[0]!;
/** The AnyValue given as JSON text (so that what JSON.stringify cannot write, like 1e400, reaches the decoder). */
const jsonValue = (v: string): Decoded => spansOf(decodeJson(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":${v}}]}]}]}]}`, ExportTraceServiceRequest))[0]!.attributes[0].value;

describe('the oracle\'s OTLP/JSON reader', () => {
  it('reads hex IDs in either case, base64 IDs of a length hex cannot have, and keeps anything else as an InvalidId', () => {
    const upper = '5B8EFFF798038103D269B633813FC60C';
    expect(hex(jsonSpan({ traceId: upper }).traceId)).toBe(upper.toLowerCase());
    const b64 = Buffer.from(upper, 'hex').toString('base64');
    expect(hex(jsonSpan({ traceId: b64 }).traceId)).toBe(upper.toLowerCase()); // 24 characters, padded
    expect(hex(jsonSpan({ traceId: b64.replace(/=+$/, '') }).traceId)).toBe(upper.toLowerCase()); // 22, unpadded
    expect(hex(jsonSpan({ spanId: Buffer.from(S8).toString('base64url') }).spanId)).toBe(hex(S8)); // 11, URL-safe
    // 22 hex digits are no hex trace ID, so they are base64.
    expect(jsonSpan({ traceId: upper.slice(0, 22) }).traceId).toHaveLength(16);
    expect(jsonSpan({ traceId: '' }).traceId).toHaveLength(0);
    for (const bad of ['zz!', 'abc', upper.slice(0, 16), `${upper}00`]) expect(jsonSpan({ traceId: bad }).traceId, bad).toBeInstanceOf(InvalidId);
    expect(jsonSpan({ spanId: hex(T16) }).spanId).toBeInstanceOf(InvalidId);
    expect(() => jsonSpan({ traceId: 7 })).toThrow(JsonMappingError);
  });

  it('reads 64-bit integers from strings and numbers, and refuses them out of range or fractional', () => {
    const s = jsonSpan({ startTimeUnixNano: '18446744073709551615', endTimeUnixNano: 1767225600000000000, attributes: [{ key: 'i', value: { intValue: '-9223372036854775808' } }] });
    expect(s.startTimeUnixNano).toBe(18446744073709551615n);
    expect(s.endTimeUnixNano).toBe(1767225600000000000n);
    expect(s.attributes[0].value).toEqual({ intValue: -9223372036854775808n });
    for (const bad of ['18446744073709551616', '-1', 1.5, '1.0', '', true]) expect(() => jsonSpan({ startTimeUnixNano: bad }), String(bad)).toThrow(JsonMappingError);
    expect(() => jsonSpan({ droppedAttributesCount: 4294967296 })).toThrow(JsonMappingError);
    expect(jsonSpan({ droppedAttributesCount: '7', flags: 4294967295 })).toMatchObject({ droppedAttributesCount: 7, flags: 4294967295 });
  });

  it('accepts snake_case names and enum names, ignores unknown fields, and takes the later of a field given under both names', () => {
    const s = jsonSpan({ trace_id: hex(T16), parent_span_id: hex(S8), kind: 'SPAN_KIND_CONSUMER', status: { code: 'STATUS_CODE_ERROR' }, whatever: [1, { x: 2 }] });
    expect(s).toMatchObject({ kind: 5, status: { code: 2 } });
    expect(hex(s.traceId)).toBe(hex(T16));
    expect(hex(s.parentSpanId)).toBe(hex(S8));
    expect(() => jsonSpan({ kind: 'SERVER' })).toThrow(JsonMappingError);
    expect(jsonSpan({ kind: 99 }).kind).toBe(99);
    // With both names, the lowerCamelCase one is the field and the other an unknown field, whatever their order or values.
    expect(jsonSpan({ start_time_unix_nano: '1', startTimeUnixNano: '2' })).toMatchObject({ startTimeUnixNano: 2n });
    expect(jsonSpan({ startTimeUnixNano: '2', start_time_unix_nano: { nested: 1 } })).toMatchObject({ startTimeUnixNano: 2n });
    expect(jsonSpan({ startTimeUnixNano: null, start_time_unix_nano: '1' })).toMatchObject({ startTimeUnixNano: 0n });
    expect(jsonSpan({ start_time_unix_nano: '1' })).toMatchObject({ startTimeUnixNano: 1n });
  });

  it('reads every AnyValue kind, treats null as absent, and refuses two members set', () => {
    expect(jsonValue('{"doubleValue":"Infinity"}')).toEqual({ doubleValue: Infinity });
    expect(jsonValue('{"doubleValue":"-1.5e3"}')).toEqual({ doubleValue: -1500 });
    expect(jsonValue('{"double_value":"NaN"}').doubleValue).toBeNaN();
    expect(jsonValue('{"bytesValue":"AQID"}')).toEqual({ bytesValue: Buffer.from([1, 2, 3]) });
    expect(jsonValue('{"bytesValue":"-_8"}')).toEqual({ bytesValue: Buffer.from([0xfb, 0xff]) });
    expect(jsonValue('{}')).toEqual({});
    expect(jsonValue('{"stringValue":null,"boolValue":false}')).toEqual({ boolValue: false });
    expect(js(jsonValue('{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":1},{}]}}},{"key":"n"}]}}'))).toEqual({ a: [1n, null], n: undefined });
    expect(jsonValue('{"arrayValue":{}}')).toEqual({ arrayValue: { values: [] } });
    expect(() => jsonValue('{"stringValue":"x","intValue":"1"}')).toThrow('two members set');
    expect(() => jsonValue('{"stringValue":"x","int_value":"1"}')).toThrow('two members set');
    expect(jsonValue('{"string_value":"y","stringValue":"x","stringValueStrindex":3}')).toEqual({ stringValue: 'x' });
    expect(() => jsonValue('{"doubleValue":1e400}')).toThrow(JsonMappingError);
    for (const bad of ['{"bytesValue":"A"}', '{"bytesValue":"AQ=D"}', '{"bytesValue":"not base64!"}', '{"boolValue":"true"}', '{"intValue":1.5}', '{"arrayValue":[]}', '{"arrayValue":{"values":[null]}}', '{"doubleValue":"0x10"}']) {
      expect(() => jsonValue(bad), bad).toThrow(JsonMappingError);
    }
  });

  it('refuses a body that is not a JSON object, or nests deeper than 4096 levels', () => {
    expect(() => decodeJson('[]', ExportTraceServiceRequest)).toThrow(JsonMappingError);
    expect(() => decodeJson('{"resourceSpans":{}}', ExportTraceServiceRequest)).toThrow(JsonMappingError);
    expect(() => decodeJson('{"resourceSpans":[', ExportTraceServiceRequest)).toThrow(SyntaxError);
    expect(() => decodeJson(Buffer.from('\uFEFF{}'), ExportTraceServiceRequest)).toThrow(SyntaxError);
    expect(decodeJson(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), ExportLogsServiceRequest)).toEqual({ resourceLogs: [] });
    const deep = (n: number) => `{"x":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
    expect(() => decodeJson(deep(4096), ExportTraceServiceRequest)).not.toThrow();
    expect(() => decodeJson(deep(4097), ExportTraceServiceRequest)).toThrow('deeper than 4096 levels');
    // A value nested right up to the limit decodes (kvlists take 4 JSON levels each, under 10 of envelope).
    let v = '{"stringValue":"bottom"}';
    for (let i = 0; i < 1021; i++) v = `{"kvlistValue":{"values":[{"key":"k","value":${v}}]}}`;
    expect(jsonValue(v)).toHaveProperty('kvlistValue');
  });
});
