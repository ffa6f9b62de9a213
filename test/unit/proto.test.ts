/**
 * Verdict's own .proto files against the official OpenTelemetry JS
 * serializers: what the SDK encodes, our decoders read back field for field,
 * in protobuf and in JSON. A field number or type that drifted in proto/
 * would fail here.
 */
import { JsonLogsSerializer, JsonTraceSerializer, ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { decodeLogsJson, decodeTraceJson } from '../../src/otlp/json.ts';
import { decodeLogsRequest, decodeTraceRequest, LogsRequest, root } from '../../src/otlp/proto.ts';
import { toJs } from '../../src/normalize/anyvalue.ts';
import { toBigInt } from '../../src/normalize/anyvalue.ts';
import type { AnyValue, KeyValue, LogRecord, Span } from '../../src/otlp/types.ts';
import { makeSpans } from '../../bench/workload.ts';
import { protobufNestingBomb } from '../helpers/bombs.ts';
import { LoggerProvider, InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const attrs = (kvs: KeyValue[]) => Object.fromEntries(kvs.map((kv) => [kv.key, toJs(kv.value as AnyValue)]));

function spanView(s: Span) {
  return {
    traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), traceState: s.traceState, flags: s.flags >>> 0, name: s.name, kind: s.kind,
    start: toBigInt(s.startTimeUnixNano), end: toBigInt(s.endTimeUnixNano), attributes: attrs(s.attributes), droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({ time: toBigInt(e.timeUnixNano), name: e.name, attributes: attrs(e.attributes) })),
    links: s.links.map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId), attributes: attrs(l.attributes) })),
    status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
  };
}

function logView(r: LogRecord) {
  return { time: toBigInt(r.timeUnixNano), observed: toBigInt(r.observedTimeUnixNano), severity: r.severityNumber, text: r.severityText, body: toJs(r.body), attributes: attrs(r.attributes), traceId: hex(r.traceId), spanId: hex(r.spanId), eventName: r.eventName, flags: r.flags >>> 0 };
}

describe('proto/ against the official serializers', () => {
  it('decodes the SDK\'s protobuf and JSON trace encodings to the same spans', async () => {
    const spans = await makeSpans(3, 42);
    const fromProto = decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans)!);
    const fromJson = decodeTraceJson(Buffer.from(JsonTraceSerializer.serializeRequest(spans)!).toString());
    const viewProto = fromProto.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map(spanView)));
    const viewJson = fromJson.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map(spanView)));
    expect(viewProto).toHaveLength(spans.length);
    expect(viewJson).toEqual(viewProto);
    // And both equal what the SDK recorded.
    const byId = new Map(viewProto.map((v) => [v.spanId, v]));
    for (const s of spans) {
      const v = byId.get(s.spanContext().spanId)!;
      expect(v.traceId).toBe(s.spanContext().traceId);
      expect(v.parentSpanId).toBe(s.parentSpanContext?.spanId ?? '');
      expect(v.name).toBe(s.name);
      expect(v.kind).toBe(s.kind + 1); // api SpanKind is 0-based; OTLP adds UNSPECIFIED = 0
      expect(v.start).toBe(BigInt(s.startTime[0]) * 1_000_000_000n + BigInt(s.startTime[1]));
      expect(v.attributes).toEqual(s.attributes);
      expect(v.events.map((e) => e.name)).toEqual(s.events.map((e) => e.name));
    }
    const resource = fromProto.resourceSpans[0]!;
    expect(attrs(resource.resource!.attributes)['service.name']).toBe('support-agent');
    expect(resource.scopeSpans[0]!.scope).toMatchObject({ name: 'verdict-bench', version: '1.0.0' });
  });

  it('decodes the SDK\'s protobuf and JSON log encodings to the same records, event_name included', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'p' }), processors: [new SimpleLogRecordProcessor({ exporter })] });
    const logger = provider.getLogger('scope', '2.0');
    logger.emit({ eventName: 'gen_ai.evaluation.result', body: { nested: [1, 'two', { three: true }] }, severityNumber: 13, severityText: 'WARN', attributes: { 'gen_ai.evaluation.name': 'x', n: 3.5 }, timestamp: 1767225600123 });
    await provider.forceFlush();
    const records = exporter.getFinishedLogRecords();
    const fromProto = decodeLogsRequest(ProtobufLogsSerializer.serializeRequest(records)!);
    const fromJson = decodeLogsJson(Buffer.from(JsonLogsSerializer.serializeRequest(records)!).toString());
    const view = (r: typeof fromProto) => r.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map(logView)));
    expect(view(fromJson)).toEqual(view(fromProto));
    expect(view(fromProto)[0]).toMatchObject({ eventName: 'gen_ai.evaluation.result', severity: 13, text: 'WARN', body: { nested: [1, 'two', { three: true }] }, attributes: { 'gen_ai.evaluation.name': 'x', n: 3.5 } });
  });

  it('has the upstream field numbers for every message Verdict reads', () => {
    // opentelemetry-proto v1.11.0, as tabled in shared/reference/otlp.md §9.
    const expected: Record<string, Record<string, number>> = {
      'opentelemetry.proto.trace.v1.Span': { traceId: 1, spanId: 2, traceState: 3, parentSpanId: 4, name: 5, kind: 6, startTimeUnixNano: 7, endTimeUnixNano: 8, attributes: 9, droppedAttributesCount: 10, events: 11, droppedEventsCount: 12, links: 13, droppedLinksCount: 14, status: 15, flags: 16 },
      'opentelemetry.proto.trace.v1.Span.Event': { timeUnixNano: 1, name: 2, attributes: 3, droppedAttributesCount: 4 },
      'opentelemetry.proto.trace.v1.Span.Link': { traceId: 1, spanId: 2, traceState: 3, attributes: 4, droppedAttributesCount: 5, flags: 6 },
      'opentelemetry.proto.trace.v1.Status': { message: 2, code: 3 },
      'opentelemetry.proto.trace.v1.ResourceSpans': { resource: 1, scopeSpans: 2, schemaUrl: 3 },
      'opentelemetry.proto.trace.v1.ScopeSpans': { scope: 1, spans: 2, schemaUrl: 3 },
      'opentelemetry.proto.logs.v1.LogRecord': { timeUnixNano: 1, severityNumber: 2, severityText: 3, body: 5, attributes: 6, droppedAttributesCount: 7, flags: 8, traceId: 9, spanId: 10, observedTimeUnixNano: 11, eventName: 12 },
      'opentelemetry.proto.logs.v1.ResourceLogs': { resource: 1, scopeLogs: 2, schemaUrl: 3 },
      'opentelemetry.proto.logs.v1.ScopeLogs': { scope: 1, logRecords: 2, schemaUrl: 3 },
      'opentelemetry.proto.common.v1.AnyValue': { stringValue: 1, boolValue: 2, intValue: 3, doubleValue: 4, arrayValue: 5, kvlistValue: 6, bytesValue: 7, stringValueStrindex: 8 },
      'opentelemetry.proto.common.v1.KeyValue': { key: 1, value: 2, keyStrindex: 3 },
      'opentelemetry.proto.common.v1.InstrumentationScope': { name: 1, version: 2, attributes: 3, droppedAttributesCount: 4 },
      'opentelemetry.proto.resource.v1.Resource': { attributes: 1, droppedAttributesCount: 2, entityRefs: 3 },
      'opentelemetry.proto.collector.trace.v1.ExportTracePartialSuccess': { rejectedSpans: 1, errorMessage: 2 },
      'opentelemetry.proto.collector.logs.v1.ExportLogsPartialSuccess': { rejectedLogRecords: 1, errorMessage: 2 },
      'google.rpc.Status': { code: 1, message: 2, details: 3 },
    };
    for (const [type, fields] of Object.entries(expected)) {
      const t = root.lookupType(type);
      expect(Object.fromEntries(t.fieldsArray.map((f) => [f.name, f.id])), type).toEqual(fields);
    }
    expect(root.lookupType('opentelemetry.proto.trace.v1.Span').fields.startTimeUnixNano!.type).toBe('fixed64');
    expect(root.lookupType('opentelemetry.proto.trace.v1.Span').fields.flags!.type).toBe('fixed32');
  });

  it('keeps a request with invalid UTF-8, replacing the bad bytes with U+FFFD', () => {
    const bytes = Buffer.from(LogsRequest.encode(LogsRequest.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityText: 'XXXX' }] }] }] })).finish());
    const at = bytes.indexOf('XXXX');
    bytes[at + 1] = 0xff; // not valid anywhere in UTF-8
    bytes[at + 2] = 0xc3; // a lead byte without its continuation
    const decoded = decodeLogsRequest(bytes);
    expect(decoded.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.severityText).toBe('X\uFFFD\uFFFDX');
  });

  it('skips an unknown varint of up to 10 bytes and refuses a longer one, as it does a known field', () => {
    // Field 2 of ExportTraceServiceRequest is unknown: a varint there is skipped.
    const unknownVarint = (bytes: number) => Buffer.from([0x10, ...Array<number>(bytes - 1).fill(0x80), 0x01]);
    expect(decodeTraceRequest(unknownVarint(10)).resourceSpans).toEqual([]);
    expect(() => decodeTraceRequest(unknownVarint(11))).toThrow('invalid varint encoding');
    expect(() => decodeTraceRequest(Buffer.from([0x10, 0x80]))).toThrow('index out of range');
  });

  it('decodes messages nested to the documented limit of 4096 levels, and refuses one more', () => {
    // The request, ResourceSpans, Resource, KeyValue and AnyValue, then one message per level.
    expect(() => decodeTraceRequest(protobufNestingBomb(4091))).not.toThrow();
    expect(() => decodeTraceRequest(protobufNestingBomb(4092))).toThrow('max depth exceeded');
  });
});
