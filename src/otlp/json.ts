/**
 * OTLP/JSON → the decoded request form of `types.ts`.
 *
 * OTLP/JSON is the proto3 JSON mapping with the OTLP deviations
 * (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"):
 * trace and span IDs are hex, not base64; enums are integers; 64-bit integers
 * may be strings or numbers; unknown fields are ignored. Like the reference
 * Collector, this decoder is also lenient where that costs nothing:
 * snake_case keys, enum names, and base64 IDs whose length makes them
 * unambiguous (some exporters send them, opentelemetry-proto-go#106).
 *
 * protobufjs's `fromObject` cannot be used here: it reads a string in a
 * `bytes` field as base64, which silently corrupts hex IDs.
 */
import { describeExcess, jsonExcessBytes, jsonExcessText, type JsonLimits } from '../common/json-budget.ts';
import { BadRequestError, TooLargeError } from '../errors.ts';
import { MESSAGE_BUDGET } from './budget.ts';
import type {
  AnyValue,
  AnyValueCase,
  ExportLogsServiceRequest,
  ExportTraceServiceRequest,
  InstrumentationScope,
  KeyValue,
  LogRecord,
  Resource,
  Span,
  SpanEvent,
  SpanLink,
} from './types.ts';

type Obj = Record<string, unknown>;

/**
 * An ID that was present but is neither hex nor base64. It has length 0 like
 * an absent ID, so the normaliser checks for this class to tell "absent"
 * from "garbled" and reject the item with a message naming the text.
 */
export class UndecodableId extends Uint8Array {
  readonly text: string;
  constructor(text: string) {
    super(0);
    this.text = text;
  }
}

const EMPTY = new Uint8Array(0);
const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Standard or URL-safe base64, padded or not (proto3 JSON accepts either),
 * or null if `s` is not base64. Base64 never has 4n+1 characters, and
 * padding only completes a group of four (RFC 4648 §4), which Node's
 * decoder would not check: it drops what it cannot use.
 */
function base64(s: string): Buffer | null {
  if (!BASE64.test(s)) return null;
  const data = s.length - (s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0);
  if (data % 4 === 1 || (data !== s.length && s.length % 4 !== 0)) return null;
  return Buffer.from(s, 'base64');
}

/**
 * The deepest JSON an OTLP body may nest. An AnyValue level takes 3 or 4 JSON
 * levels (value, arrayValue or kvlistValue, values, and a KeyValue), so this
 * passes any value the normaliser could store (64 levels) and far beyond;
 * deeper values are refused whole rather than built first.
 */
export const JSON_MAX_DEPTH = 4096;

/** Depth, and values as many as the decode budget allows messages (a value costs no more than a message). */
export const OTLP_JSON_LIMITS: JsonLimits = { maxDepth: JSON_MAX_DEPTH, maxNodes: MESSAGE_BUDGET };

/** Parses a JSON body (UTF-8 bytes or text) as an ExportTraceServiceRequest. */
export function decodeTraceJson(body: string | Uint8Array, limits: JsonLimits = OTLP_JSON_LIMITS): ExportTraceServiceRequest {
  const root = parseRoot(body, limits);
  return { resourceSpans: list(root, 'resourceSpans', 'resource_spans', '', readResourceSpans) };
}

/** Parses a JSON body (UTF-8 bytes or text) as an ExportLogsServiceRequest. */
export function decodeLogsJson(body: string | Uint8Array, limits: JsonLimits = OTLP_JSON_LIMITS): ExportLogsServiceRequest {
  const root = parseRoot(body, limits);
  return { resourceLogs: list(root, 'resourceLogs', 'resource_logs', '', readResourceLogs) };
}

/**
 * Refuses JSON that crosses `limits` before JSON.parse allocates anything:
 * too deep is invalid (400), too many values is too large (413, like the
 * protobuf decode budget). A body shorter than both limits cannot cross them.
 */
export function checkJsonLimits(body: string | Uint8Array, limits: JsonLimits, what = 'request body'): void {
  if (body.length < limits.maxDepth && body.length < limits.maxNodes) return;
  const excess = typeof body === 'string' ? jsonExcessText(body, limits) : jsonExcessBytes(body, limits);
  if (excess === null) return;
  if (excess.limit === 'depth') throw new BadRequestError(describeExcess(excess, what));
  throw new TooLargeError(describeExcess(excess, what));
}

function parseRoot(body: string | Uint8Array, limits: JsonLimits): Obj {
  checkJsonLimits(body, limits);
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(value)) throw new BadRequestError(`request body must be a JSON object, got ${kindOf(value)}`);
  return value;
}

function readResourceSpans(o: Obj, path: string) {
  return {
    resource: readResource(get(o, 'resource', 'resource'), `${path}.resource`),
    scopeSpans: list(o, 'scopeSpans', 'scope_spans', path, (s, p) => ({
      scope: readScope(get(s, 'scope', 'scope'), `${p}.scope`),
      spans: list(s, 'spans', 'spans', p, readSpan),
      schemaUrl: str(s, 'schemaUrl', 'schema_url', p),
    })),
    schemaUrl: str(o, 'schemaUrl', 'schema_url', path),
  };
}

function readResourceLogs(o: Obj, path: string) {
  return {
    resource: readResource(get(o, 'resource', 'resource'), `${path}.resource`),
    scopeLogs: list(o, 'scopeLogs', 'scope_logs', path, (s, p) => ({
      scope: readScope(get(s, 'scope', 'scope'), `${p}.scope`),
      logRecords: list(s, 'logRecords', 'log_records', p, readLogRecord),
      schemaUrl: str(s, 'schemaUrl', 'schema_url', p),
    })),
    schemaUrl: str(o, 'schemaUrl', 'schema_url', path),
  };
}

function readResource(v: unknown, path: string): Resource | null {
  if (v === undefined || v === null) return null;
  const o = asObj(v, path);
  return {
    attributes: attrs(o, path),
    droppedAttributesCount: uint32(o, 'droppedAttributesCount', 'dropped_attributes_count', path),
  };
}

function readScope(v: unknown, path: string): InstrumentationScope | null {
  if (v === undefined || v === null) return null;
  const o = asObj(v, path);
  return {
    name: str(o, 'name', 'name', path),
    version: str(o, 'version', 'version', path),
    attributes: attrs(o, path),
    droppedAttributesCount: uint32(o, 'droppedAttributesCount', 'dropped_attributes_count', path),
  };
}

function readSpan(o: Obj, path: string): Span {
  const status = get(o, 'status', 'status');
  let parsedStatus = null;
  if (status !== undefined && status !== null) {
    const s = asObj(status, `${path}.status`);
    parsedStatus = {
      message: str(s, 'message', 'message', `${path}.status`),
      code: enumValue(s, 'code', 'code', `${path}.status`, STATUS_CODES),
    };
  }
  return {
    traceId: id(o, 'traceId', 'trace_id', path),
    spanId: id(o, 'spanId', 'span_id', path),
    traceState: str(o, 'traceState', 'trace_state', path),
    parentSpanId: id(o, 'parentSpanId', 'parent_span_id', path),
    flags: uint32(o, 'flags', 'flags', path),
    name: str(o, 'name', 'name', path),
    kind: enumValue(o, 'kind', 'kind', path, SPAN_KINDS),
    startTimeUnixNano: uint64(o, 'startTimeUnixNano', 'start_time_unix_nano', path),
    endTimeUnixNano: uint64(o, 'endTimeUnixNano', 'end_time_unix_nano', path),
    attributes: attrs(o, path),
    droppedAttributesCount: uint32(o, 'droppedAttributesCount', 'dropped_attributes_count', path),
    events: list(o, 'events', 'events', path, readEvent),
    droppedEventsCount: uint32(o, 'droppedEventsCount', 'dropped_events_count', path),
    links: list(o, 'links', 'links', path, readLink),
    droppedLinksCount: uint32(o, 'droppedLinksCount', 'dropped_links_count', path),
    status: parsedStatus,
  };
}

function readEvent(o: Obj, path: string): SpanEvent {
  return {
    timeUnixNano: uint64(o, 'timeUnixNano', 'time_unix_nano', path),
    name: str(o, 'name', 'name', path),
    attributes: attrs(o, path),
    droppedAttributesCount: uint32(o, 'droppedAttributesCount', 'dropped_attributes_count', path),
  };
}

function readLink(o: Obj, path: string): SpanLink {
  return {
    traceId: id(o, 'traceId', 'trace_id', path),
    spanId: id(o, 'spanId', 'span_id', path),
    traceState: str(o, 'traceState', 'trace_state', path),
    attributes: attrs(o, path),
    droppedAttributesCount: uint32(o, 'droppedAttributesCount', 'dropped_attributes_count', path),
    flags: uint32(o, 'flags', 'flags', path),
  };
}

function readLogRecord(o: Obj, path: string): LogRecord {
  const body = get(o, 'body', 'body');
  return {
    timeUnixNano: uint64(o, 'timeUnixNano', 'time_unix_nano', path),
    observedTimeUnixNano: uint64(o, 'observedTimeUnixNano', 'observed_time_unix_nano', path),
    severityNumber: enumValue(o, 'severityNumber', 'severity_number', path, SEVERITY_NUMBERS),
    severityText: str(o, 'severityText', 'severity_text', path),
    body: body === undefined || body === null ? null : readAnyValue(body, `${path}.body`),
    attributes: attrs(o, path),
    droppedAttributesCount: uint32(o, 'droppedAttributesCount', 'dropped_attributes_count', path),
    flags: uint32(o, 'flags', 'flags', path),
    traceId: id(o, 'traceId', 'trace_id', path),
    spanId: id(o, 'spanId', 'span_id', path),
    eventName: str(o, 'eventName', 'event_name', path),
  };
}

function attrs(o: Obj, path: string): KeyValue[] {
  return list(o, 'attributes', 'attributes', path, readKeyValue);
}

function readKeyValue(o: Obj, path: string): KeyValue {
  const value = get(o, 'value', 'value');
  return {
    key: str(o, 'key', 'key', path),
    value: value === undefined || value === null ? null : readAnyValue(value, `${path}.value`),
  };
}

/** AnyValue members under either JSON name (a Map: a JSON key may be anything, "constructor" included). */
const MEMBERS = new Map<string, AnyValueCase>(
  (['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] as const).flatMap((m) => [
    [m, m],
    [m.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), m],
  ]),
);

function readAnyValue(v: unknown, path: string): AnyValue {
  const o = asObj(v, path);
  // proto3 JSON: a oneof has at most one member set, and a second one makes
  // the message invalid (protobuf conformance test OneofFieldDuplicate);
  // null counts as absent. As for any field (get), the snake_case name is
  // read only when the lowerCamelCase one is not there.
  let member: AnyValueCase | undefined;
  let x: unknown;
  for (const key in o) {
    const m = MEMBERS.get(key);
    // Unknown members (including the profiles-only string_value_strindex) are ignored.
    if (m === undefined || (key !== m && Object.hasOwn(o, m))) continue;
    const value = o[key];
    if (value === null || value === undefined) continue;
    if (member !== undefined) {
      const description = `an AnyValue holds one value, got both ${member} and ${m}`;
      throw new BadRequestError(`${path}: ${description}`, [{ field: path, description }]);
    }
    member = m;
    x = value;
  }
  switch (member) {
    case 'stringValue':
      if (typeof x !== 'string') throw typeError(`${path}.stringValue`, 'a string', x);
      return { stringValue: x };
    case 'boolValue':
      if (typeof x !== 'boolean') throw typeError(`${path}.boolValue`, 'true or false', x);
      return { boolValue: x };
    case 'intValue':
      return { intValue: int64Of(x, `${path}.intValue`, true) };
    case 'doubleValue':
      return { doubleValue: doubleOf(x, `${path}.doubleValue`) };
    case 'arrayValue':
      return { arrayValue: { values: list(asObj(x, `${path}.arrayValue`), 'values', 'values', `${path}.arrayValue`, (e, p) => readAnyValue(e, p), true) } };
    case 'kvlistValue':
      return { kvlistValue: { values: list(asObj(x, `${path}.kvlistValue`), 'values', 'values', `${path}.kvlistValue`, readKeyValue) } };
    case 'bytesValue': {
      const bytes = typeof x === 'string' ? base64(x) : null;
      if (bytes === null) throw typeError(`${path}.bytesValue`, 'a base64 string', x);
      return { bytesValue: bytes };
    }
    default:
      return {};
  }
}

// ---- scalar readers ------------------------------------------------------

function get(o: Obj, camel: string, snake: string): unknown {
  const v = o[camel];
  return v === undefined ? o[snake] : v;
}

function list<T>(o: Obj, camel: string, snake: string, path: string, read: (item: Obj, path: string) => T, raw = false): T[] {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return [];
  const p = path ? `${path}.${camel}` : camel;
  if (!Array.isArray(v)) throw typeError(p, 'an array', v);
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) {
    const ip = `${p}[${i}]`;
    out[i] = read(raw ? (v[i] as Obj) : asObj(v[i], ip), ip);
  }
  return out;
}

function str(o: Obj, camel: string, snake: string, path: string): string {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw typeError(`${path}.${camel}`, 'a string', v);
  return v;
}

function uint32(o: Obj, camel: string, snake: string, path: string): number {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw typeError(`${path}.${camel}`, 'an unsigned 32-bit integer', v);
  }
  return n;
}

function uint64(o: Obj, camel: string, snake: string, path: string): bigint {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return 0n;
  return int64Of(v, `${path}.${camel}`, false);
}

function int64Of(v: unknown, path: string, signed: boolean): bigint {
  let n: bigint | undefined;
  if (typeof v === 'string' && (signed ? /^-?\d+$/ : /^\d+$/).test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  const [min, max] = signed ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
  if (n === undefined || n < min || n > max) {
    throw typeError(path, signed ? 'a 64-bit integer (number or decimal string)' : 'an unsigned 64-bit integer (number or decimal string)', v);
  }
  return n;
}

/** A JSON number (RFC 8259 §6): the form a double sent as a string must have, as it would unquoted. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * proto3 JSON: a number, a number in a string, or "NaN", "Infinity",
 * "-Infinity". JSON has no infinite numbers: JSON.parse gives Infinity only
 * for a literal beyond the range of a double, which is refused (protobuf
 * conformance test DoubleFieldTooLarge), not stored as Infinity.
 */
function doubleOf(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  if (typeof v === 'string' && JSON_NUMBER.test(v) && Number.isFinite(Number(v))) return Number(v);
  throw typeError(path, 'a number within the range of a double, or "NaN", "Infinity", "-Infinity"', v);
}

function enumValue(o: Obj, camel: string, snake: string, path: string, names: Record<string, number>): number {
  const v = get(o, camel, snake);
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return v;
  // Enum names are not OTLP/JSON, but the Collector accepts them and so do we.
  if (typeof v === 'string' && names[v] !== undefined) return names[v];
  throw typeError(`${path}.${camel}`, 'an integer enum value', v);
}

/**
 * Hex (any case) as the spec says; base64 when the length rules hex out
 * (24/22 characters for a trace ID, 12/11 for a span ID). Anything else is
 * kept as an UndecodableId so the item, not the request, is rejected.
 */
function id(o: Obj, camel: string, snake: string, path: string): Uint8Array {
  const v = get(o, camel, snake);
  if (v === undefined || v === null || v === '') return EMPTY;
  if (typeof v !== 'string') throw typeError(`${path}.${camel}`, 'a hex string', v);
  if (v.length % 2 === 0 && HEX.test(v) && (v.length === 32 || v.length === 16)) return Buffer.from(v, 'hex');
  const bytes = base64(v);
  if (bytes !== null && (bytes.length === 16 || bytes.length === 8)) return bytes;
  if (v.length % 2 === 0 && HEX.test(v)) return Buffer.from(v, 'hex');
  return new UndecodableId(v);
}

function asObj(v: unknown, path: string): Obj {
  if (!isObj(v)) throw typeError(path, 'an object', v);
  return v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function typeError(path: string, expected: string, got: unknown): BadRequestError {
  const description = `expected ${expected}, got ${kindOf(got)}`;
  return new BadRequestError(`${path}: ${description}`, [{ field: path, description }]);
}

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };
const SEVERITY_NUMBERS: Record<string, number> = Object.fromEntries(
  ['UNSPECIFIED', ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((s) => [s, `${s}2`, `${s}3`, `${s}4`])].map((n, i) => [`SEVERITY_NUMBER_${n}`, i]),
);
