/**
 * One builder for OTLP test data. Spans, log records and whole requests are
 * described compactly (hex IDs, nanosecond times, attributes as plain JS
 * values) and come out as protobuf bytes (Verdict's proto/ through
 * protobufjs), as an OTLP/JSON body, or decoded the way the receiver decodes
 * either, so no test writes nested `{ key, value: { stringValue } }` objects
 * or converts one encoding into the other by hand.
 *
 * Attribute values become AnyValues (opentelemetry-proto common.proto):
 * string → string_value, boolean → bool_value, an integral number or a bigint
 * → int_value, any other number → double_value (`double(n)` for an integral
 * double), Uint8Array → bytes_value, array → array_value, plain object →
 * kvlist_value, null → an empty AnyValue. Objects keep JS key order, so keys
 * that look like array indices come first.
 *
 * OTLP/JSON follows the spec's "JSON Protobuf Encoding": IDs in hex, enums
 * as integers, 64-bit integers as decimal strings, bytes in base64, and
 * non-finite doubles as "NaN", "Infinity", "-Infinity".
 */
import { decodeLogsJson, decodeTraceJson } from '../../src/otlp/json.ts';
import { decodeLogsRequest, decodeTraceRequest, LogsRequest, TraceRequest } from '../../src/otlp/proto.ts';
import type { ExportLogsServiceRequest, ExportTraceServiceRequest } from '../../src/otlp/types.ts';

/** An integral number sent as a double (a plain integral number becomes int_value). */
export class Double {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}
export const double = (value: number): Double => new Double(value);

export type Value = string | number | bigint | boolean | null | Uint8Array | Double | Value[] | { [key: string]: Value };
export type Attributes = Record<string, Value>;

/** A trace or span ID: hex text, or raw bytes (for IDs of the wrong length). */
export type Id = string | Uint8Array;
/** Nanoseconds since the Unix epoch. */
export type Nanos = bigint | number | string;

/** A deterministic ID of `bytes` bytes in hex, never all zeros; seeds that differ modulo 255 give different IDs. */
export const hexId = (bytes: number, seed: number): string => {
  let out = '';
  for (let i = 0; i < bytes; i++) out += (((seed * 31 + i * 17 + 1) % 255) + 1).toString(16).padStart(2, '0');
  return out;
};

/** 2026-01-01T00:00:00Z, the default start of a span. */
export const T0 = 1_767_225_600_000_000_000n;
export const SECOND = 1_000_000_000n;

const SPAN_KINDS = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;
const STATUS_CODES = { unset: 0, ok: 1, error: 2 } as const;

export interface EventSpec {
  name: string;
  time?: Nanos;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

export interface LinkSpec {
  traceId?: Id;
  spanId?: Id;
  traceState?: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
  flags?: number;
}

export interface SpanSpec {
  traceId: Id;
  spanId: Id;
  parentSpanId?: Id;
  traceState?: string;
  flags?: number;
  /** Default 'op'. */
  name?: string;
  kind?: keyof typeof SPAN_KINDS | number;
  /** Default T0. */
  start?: Nanos;
  /** Default one second after the start. */
  end?: Nanos;
  attributes?: Attributes;
  droppedAttributesCount?: number;
  events?: EventSpec[];
  droppedEventsCount?: number;
  links?: LinkSpec[];
  droppedLinksCount?: number;
  status?: { code: keyof typeof STATUS_CODES | number; message?: string };
}

export interface LogSpec {
  time?: Nanos;
  observedTime?: Nanos;
  severityNumber?: number;
  severityText?: string;
  /** Absent: no body; null: an empty AnyValue. */
  body?: Value;
  attributes?: Attributes;
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Id;
  spanId?: Id;
  eventName?: string;
}

export interface ScopeSpec {
  name?: string;
  version?: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

/** The resource and instrumentation scope that items are sent under; null leaves the message out. */
export interface Envelope {
  resource?: Attributes | null;
  resourceDroppedAttributesCount?: number;
  resourceSchemaUrl?: string;
  scope?: ScopeSpec | null;
  scopeSchemaUrl?: string;
}

/** What most tests send under: service test-service, scope test-scope 1.0. */
export const TEST_ENVELOPE: Envelope = { resource: { 'service.name': 'test-service' }, scope: { name: 'test-scope', version: '1.0' } };

/** The envelope of one service, with the test scope. */
export const service = (name: string): Envelope => ({ ...TEST_ENVELOPE, resource: { 'service.name': name } });

/** One request, in each form a test may need. */
export interface OtlpRequest<Decoded> {
  /** The OTLP/JSON body as an object (post it, or change it to test a quirk first). */
  json(): Record<string, any>;
  /** The protobuf body. */
  proto(): Buffer;
  /** proto() as the receiver's protobuf decoder reads it. */
  decoded(): Decoded;
  /** json() as the receiver's OTLP/JSON decoder reads it. */
  decodedJson(): Decoded;
}

type Form = 'proto' | 'json';
type Obj = Record<string, unknown>;

/** A trace request: one resource and scope per [envelope, spans] pair. */
export function traceRequest(...parts: Array<[Envelope, SpanSpec[]]>): OtlpRequest<ExportTraceServiceRequest> {
  const build = (form: Form) => envelopes(parts, form, ['resourceSpans', 'scopeSpans', 'spans'], spanObject);
  return request(build, TraceRequest, decodeTraceRequest, decodeTraceJson);
}

/** A trace request with the given spans under one envelope (TEST_ENVELOPE unless given). */
export const traces = (spans: SpanSpec[], envelope: Envelope = TEST_ENVELOPE) => traceRequest([envelope, spans]);

/** A logs request: one resource and scope per [envelope, records] pair. */
export function logsRequest(...parts: Array<[Envelope, LogSpec[]]>): OtlpRequest<ExportLogsServiceRequest> {
  const build = (form: Form) => envelopes(parts, form, ['resourceLogs', 'scopeLogs', 'logRecords'], logObject);
  return request(build, LogsRequest, decodeLogsRequest, decodeLogsJson);
}

/** A logs request with the given records under one envelope (TEST_ENVELOPE unless given). */
export const logs = (records: LogSpec[], envelope: Envelope = TEST_ENVELOPE) => logsRequest([envelope, records]);

/** The Resource* / Scope* nesting both signals share, with the field names of one of them. */
function envelopes<T>(parts: Array<[Envelope, T[]]>, form: Form, [resources, scopes, items]: [string, string, string], item: (x: T, form: Form) => Obj): Obj {
  return {
    [resources]: parts.map(([env, xs]) => ({
      ...resourcePart(env, form),
      [scopes]: [{ ...scopePart(env, form), [items]: xs.map((x) => item(x, form)) }],
    })),
  };
}

interface MessageType {
  fromObject(o: Obj): object;
  encode(m: object): { finish(): Uint8Array };
}

function request<D>(build: (form: Form) => Obj, type: MessageType, decodeProto: (b: Uint8Array) => D, decodeJson: (text: string) => D): OtlpRequest<D> {
  const proto = () => Buffer.from(type.encode(type.fromObject(build('proto'))).finish());
  return {
    json: () => build('json') as Record<string, any>,
    proto,
    decoded: () => decodeProto(proto()),
    decodedJson: () => decodeJson(JSON.stringify(build('json'))),
  };
}

/** An AnyValue in protobufjs object form (bytes as Buffers) or in OTLP/JSON. */
function anyValue(v: Value, form: Form): Obj {
  if (v === null) return {};
  if (v instanceof Double) return { doubleValue: doubleOf(v.value, form) };
  if (v instanceof Uint8Array) return { bytesValue: form === 'proto' ? Buffer.from(v) : Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => anyValue(x, form)) } };
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'bigint':
      return { intValue: String(v) };
    case 'number':
      return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: doubleOf(v, form) };
    default:
      return { kvlistValue: { values: keyValues(v, form) } };
  }
}

/** Attributes as an OTLP KeyValue list. */
function keyValues(attrs: Attributes, form: Form): Obj[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value, form) }));
}

function doubleOf(n: number, form: Form): number | string {
  if (form === 'proto' || Number.isFinite(n)) return n;
  return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

const idOf = (id: Id, form: Form) => (form === 'proto' ? (typeof id === 'string' ? Buffer.from(id, 'hex') : Buffer.from(id)) : typeof id === 'string' ? id : Buffer.from(id).toString('hex'));

/** Sets only the fields given, so absent ones stay absent on the wire. */
function defined(o: Obj): Obj {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

const opt = <T, R>(v: T | undefined, f: (x: T) => R): R | undefined => (v === undefined ? undefined : f(v));

function resourcePart(env: Envelope, form: Form): Obj {
  return defined({
    resource: env.resource === null || env.resource === undefined ? undefined : defined({ attributes: keyValues(env.resource, form), droppedAttributesCount: env.resourceDroppedAttributesCount }),
    schemaUrl: env.resourceSchemaUrl,
  });
}

function scopePart(env: Envelope, form: Form): Obj {
  const s = env.scope;
  return defined({
    scope: s === null || s === undefined ? undefined : defined({ name: s.name, version: s.version, attributes: opt(s.attributes, (a) => keyValues(a, form)), droppedAttributesCount: s.droppedAttributesCount }),
    schemaUrl: env.scopeSchemaUrl,
  });
}

function spanObject(s: SpanSpec, form: Form): Obj {
  const start = BigInt(s.start ?? T0);
  const status = s.status && defined({ code: typeof s.status.code === 'number' ? s.status.code : STATUS_CODES[s.status.code], message: s.status.message });
  return defined({
    traceId: idOf(s.traceId, form),
    spanId: idOf(s.spanId, form),
    parentSpanId: opt(s.parentSpanId, (id) => idOf(id, form)),
    traceState: s.traceState,
    flags: s.flags,
    name: s.name ?? 'op',
    kind: typeof s.kind === 'string' ? SPAN_KINDS[s.kind] : s.kind,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(s.end ?? start + SECOND),
    attributes: opt(s.attributes, (a) => keyValues(a, form)),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events?.map((e) => defined({ timeUnixNano: opt(e.time, String), name: e.name, attributes: opt(e.attributes, (a) => keyValues(a, form)), droppedAttributesCount: e.droppedAttributesCount })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links?.map((l) => defined({
      traceId: opt(l.traceId, (id) => idOf(id, form)), spanId: opt(l.spanId, (id) => idOf(id, form)), traceState: l.traceState,
      attributes: opt(l.attributes, (a) => keyValues(a, form)), droppedAttributesCount: l.droppedAttributesCount, flags: l.flags,
    })),
    droppedLinksCount: s.droppedLinksCount,
    status,
  });
}

function logObject(r: LogSpec, form: Form): Obj {
  return defined({
    timeUnixNano: opt(r.time, String),
    observedTimeUnixNano: opt(r.observedTime, String),
    severityNumber: r.severityNumber,
    severityText: r.severityText,
    body: r.body === undefined ? undefined : anyValue(r.body, form),
    attributes: opt(r.attributes, (a) => keyValues(a, form)),
    droppedAttributesCount: r.droppedAttributesCount,
    flags: r.flags,
    traceId: opt(r.traceId, (id) => idOf(id, form)),
    spanId: opt(r.spanId, (id) => idOf(id, form)),
    eventName: r.eventName,
  });
}

// ---- samples shared by the unit and integration tests ----------------------

/** An envelope with every field set. */
export const EVERY_FIELD_ENVELOPE: Envelope = {
  resource: { 'service.name': 'checkout', 'service.version': '2.1.0' },
  resourceDroppedAttributesCount: 1,
  resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.38.0',
  scope: { name: 'my.library', version: '1.0.0', attributes: { 'scope.attr': true } },
  scopeSchemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
};

/** A span with every OTLP field set, and an attribute of each AnyValue kind (edge values included). */
export const everyFieldSpan = (traceId: string, spanId: string): SpanSpec => ({
  traceId,
  spanId,
  parentSpanId: '0102030405060708',
  traceState: 'vendor=abc',
  flags: 0x301,
  name: 'chat gpt-4o',
  kind: 'client',
  start: 1767225600123456789n,
  end: 1767225601987654321n,
  attributes: {
    s: 'text with "quotes" and \\ and \n newline',
    b: false,
    i: 42,
    neg: -7,
    big: 9007199254740993n,
    d: 1.5,
    nan: NaN,
    inf: -Infinity,
    bytes: new Uint8Array([1, 2, 3]),
    arr: ['x', 1, null],
    map: { k: 'v', nested: { z: true } },
    empty: null,
    unicode: 'héllo 日本 🎉',
  },
  droppedAttributesCount: 2,
  events: [{ time: 1767225600500000000n, name: 'exception', attributes: { 'exception.message': 'boom' }, droppedAttributesCount: 1 }],
  droppedEventsCount: 3,
  links: [{ traceId: hexId(16, 9), spanId: hexId(8, 9), traceState: 'k=v', attributes: { 'link.attr': 5 }, droppedAttributesCount: 6, flags: 1 }],
  droppedLinksCount: 4,
  status: { code: 'error', message: 'upstream failed' },
});

/** The JSON the normaliser makes of everyFieldSpan's attributes, events and links. */
export const EVERY_FIELD_SPAN_JSON = {
  attributes: {
    s: 'text with "quotes" and \\ and \n newline',
    b: false,
    i: 42,
    neg: -7,
    big: '9007199254740993',
    d: 1.5,
    nan: 'NaN',
    inf: '-Infinity',
    bytes: 'AQID',
    arr: ['x', 1, null],
    map: { k: 'v', nested: { z: true } },
    empty: null,
    unicode: 'héllo 日本 🎉',
  },
  events: [{ time_unix_nano: '1767225600500000000', name: 'exception', attributes: { 'exception.message': 'boom' }, dropped_attributes_count: 1 }],
  links: [{ trace_id: hexId(16, 9), span_id: hexId(8, 9), trace_state: 'k=v', attributes: { 'link.attr': 5 }, dropped_attributes_count: 6, flags: 1 }],
};

/** A log record with every OTLP field set, sent under an envelope with every field set. */
export const everyFieldLog = (traceId: string, spanId: string) =>
  logs(
    [{
      time: 1767225600123456789n,
      observedTime: 1767225600223456789n,
      severityNumber: 17,
      severityText: 'ERROR',
      body: { content: 'What is my balance?' },
      attributes: { 'user.id': 'u-1' },
      droppedAttributesCount: 2,
      flags: 1,
      traceId,
      spanId,
      eventName: 'gen_ai.user.message',
    }],
    {
      resource: { 'service.name': 'agent' },
      resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.38.0',
      scope: { name: 'agent.logger', version: '3.2', attributes: { x: 1 } },
      scopeSchemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
    },
  );
