/**
 * The decoded form of an OTLP request that the normaliser reads.
 *
 * Both decoders produce this shape: the protobuf decoder gets it from
 * protobufjs message objects as they are, and the JSON decoder
 * (`json.ts`) builds it by hand. Differences between the wire encodings are
 * settled before this point: IDs are bytes, enums are numbers, 64-bit values
 * are a Long, a number or a bigint, and an AnyValue's members are own
 * properties (`anyValueCase` tells which one it holds).
 */

/** A 64-bit integer as protobufjs (Long), or the JSON decoder (bigint), gives it. */
export type Int64 = LongLike | number | bigint;

/** The part of protobufjs's Long that Verdict reads. */
export interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

export type AnyValueCase = 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue';

/**
 * A member is present when it is an own property of the object; none means
 * an empty value. Upstream declares the members as `oneof value`; see
 * proto/opentelemetry/proto/common/v1/common.proto for why Verdict does not,
 * and docs/design.md for the one consequence: a protobuf value sent with
 * several members keeps them all, and `anyValueCase` picks one.
 * Absent members may still read as protobufjs prototype defaults, so test
 * presence with `anyValueCase`, never by comparing a member with undefined.
 */
export interface AnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64 | null;
  doubleValue?: number | null;
  arrayValue?: { values: AnyValue[] } | null;
  kvlistValue?: { values: KeyValue[] } | null;
  bytesValue?: Uint8Array | null;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Which member of an AnyValue is set (most common first), or undefined for an empty value. */
export function anyValueCase(v: AnyValue): AnyValueCase | undefined {
  if (hasOwn.call(v, 'stringValue')) return 'stringValue';
  if (hasOwn.call(v, 'intValue')) return 'intValue';
  if (hasOwn.call(v, 'doubleValue')) return 'doubleValue';
  if (hasOwn.call(v, 'boolValue')) return 'boolValue';
  if (hasOwn.call(v, 'arrayValue')) return 'arrayValue';
  if (hasOwn.call(v, 'kvlistValue')) return 'kvlistValue';
  if (hasOwn.call(v, 'bytesValue')) return 'bytesValue';
  return undefined;
}

export interface KeyValue {
  key: string;
  value?: AnyValue | null;
}

export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanEvent {
  timeUnixNano: Int64;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

export interface Status {
  message: string;
  code: number;
}

export interface Span {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState: string;
  parentSpanId: Uint8Array;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: Int64;
  endTimeUnixNano: Int64;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status?: Status | null;
}

export interface ScopeSpans {
  scope?: InstrumentationScope | null;
  spans: Span[];
  schemaUrl: string;
}

export interface ResourceSpans {
  resource?: Resource | null;
  scopeSpans: ScopeSpans[];
  schemaUrl: string;
}

export interface ExportTraceServiceRequest {
  resourceSpans: ResourceSpans[];
}

export interface LogRecord {
  timeUnixNano: Int64;
  observedTimeUnixNano: Int64;
  severityNumber: number;
  severityText: string;
  body?: AnyValue | null;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
  traceId: Uint8Array;
  spanId: Uint8Array;
  eventName: string;
}

export interface ScopeLogs {
  scope?: InstrumentationScope | null;
  logRecords: LogRecord[];
  schemaUrl: string;
}

export interface ResourceLogs {
  resource?: Resource | null;
  scopeLogs: ScopeLogs[];
  schemaUrl: string;
}

export interface ExportLogsServiceRequest {
  resourceLogs: ResourceLogs[];
}

export type Signal = 'traces' | 'logs';
export type Encoding = 'protobuf' | 'json';
