/**
 * Building blocks of the fuzz test (test/fuzz/otlp-fuzz.test.ts):
 *
 * - a seeded PRNG, so every run sends the same inputs;
 * - a raw protobuf writer for OTLP, so inputs can hold what protobufjs would
 *   refuse to encode (invalid UTF-8, NaN payloads, 2^64-1, repeated fields),
 *   and an OTLP/JSON renderer of the same model (raw bytes inside strings);
 * - byte and JSON mutators;
 * - HTTP/1.1 and raw HTTP/2 gRPC clients that report exactly what came back
 *   (a status, or the connection error when there was no answer);
 * - an oracle: given the bytes the receiver will decode, it says what the
 *   answer must be and which spans, log records and verdicts must be stored.
 *   It is independent of the receiver: it decodes with decoders of its own
 *   (test/helpers/oracle/: a hand-written protobuf wire reader and OTLP/JSON
 *   mapping over field tables transcribed from the OTLP specification, no
 *   src/, protobufjs or proto/; checked against the official OpenTelemetry
 *   serializers in test/unit/oracle-decode.test.ts), so a receiver that
 *   refuses a body the specification and Verdict's documented leniencies
 *   accept, or accepts or misreads one, disagrees with it and fails the test.
 *   It then applies the documented rules, also without src/normalize:
 *   invalid IDs, times past 2^63-1 ns and AnyValue nesting deeper than 64
 *   levels reject the item; duplicates are stored once; everything else is
 *   stored.
 */
import http from 'node:http';
import http2 from 'node:http2';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';
import { decodeRequest, InvalidId, type Decoded } from './oracle/decode.ts';

// ---- seeded PRNG (sfc32, seeded through splitmix32) ------------------------

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uint32. */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  float(): number {
    return this.next() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }

  /** A length with many small values and a long tail: 0..max. */
  length(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.float() * Math.log(max + 1))) - 1 + this.int(2));
  }

  /** An independent stream derived from this seed and a label. */
  fork(label: number): Rng {
    return new Rng((this.next() ^ Math.imul(label + 1, 0x27d4eb2d)) >>> 0);
  }
}

// ---- raw protobuf writer ------------------------------------------------------

/** A string field's content: text (encoded as UTF-8) or raw bytes (possibly invalid UTF-8). */
export type Str = string | Uint8Array;

const strBytes = (s: Str): Uint8Array => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

export function varint(v: number | bigint): Buffer {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return Buffer.from(out);
}

const key = (field: number, wireType: number) => varint((field << 3) | wireType);

export const pb = {
  bytes: (field: number, b: Uint8Array): Buffer => Buffer.concat([key(field, 2), varint(b.length), b]),
  str: (field: number, s: Str | undefined): Buffer => (s === undefined ? EMPTY : pb.bytes(field, strBytes(s))),
  msg: (field: number, parts: readonly Uint8Array[]): Buffer => pb.bytes(field, Buffer.concat(parts)),
  varint: (field: number, v: number | bigint | undefined): Buffer => (v === undefined ? EMPTY : Buffer.concat([key(field, 0), varint(v)])),
  fixed64: (field: number, v: bigint | undefined): Buffer => {
    if (v === undefined) return EMPTY;
    const b = Buffer.alloc(9);
    key(field, 1).copy(b);
    b.writeBigUInt64LE(BigInt.asUintN(64, v), 1);
    return b;
  },
  fixed32: (field: number, v: number | undefined): Buffer => {
    if (v === undefined) return EMPTY;
    const b = Buffer.alloc(field < 16 ? 5 : 6);
    const k = key(field, 5);
    k.copy(b);
    b.writeUInt32LE(v >>> 0, k.length);
    return b;
  },
  double: (field: number, d: number, bits?: bigint): Buffer => {
    const b = Buffer.alloc(9);
    key(field, 1).copy(b);
    if (bits !== undefined) b.writeBigUInt64LE(bits, 1);
    else b.writeDoubleLE(d, 1);
    return b;
  },
};
const EMPTY = Buffer.alloc(0);

// ---- the OTLP model the generators build -----------------------------------

/** An AnyValue: at most one member set (more is possible on the wire, and tried); none = empty. `raw*` inserts pre-encoded bytes. */
export interface AV {
  s?: Str;
  b?: boolean;
  i?: bigint;
  d?: number;
  /** Exact IEEE-754 bits for d (NaN payloads); protobuf only. */
  dBits?: bigint;
  a?: AV[];
  kv?: KV[];
  by?: Uint8Array;
  rawProto?: Buffer;
  rawJson?: Buffer;
}
export interface KV {
  k: Str;
  v?: AV;
}
/** An ID: bytes, or (JSON only) the literal text of the field. */
export type Id = Uint8Array | { json: string };
export interface EventM {
  time?: bigint;
  name?: Str;
  attrs?: KV[];
}
export interface LinkM {
  traceId?: Id;
  spanId?: Id;
  traceState?: Str;
  attrs?: KV[];
  flags?: number;
}
export interface SpanM {
  traceId?: Id;
  spanId?: Id;
  parent?: Id;
  traceState?: Str;
  name?: Str;
  kind?: number;
  start?: bigint;
  end?: bigint;
  attrs?: KV[];
  dropped?: number;
  events?: EventM[];
  links?: LinkM[];
  status?: { code?: number; message?: Str };
  flags?: number;
}
export interface LogM {
  time?: bigint;
  observed?: bigint;
  severity?: number;
  severityText?: Str;
  body?: AV;
  attrs?: KV[];
  dropped?: number;
  flags?: number;
  traceId?: Id;
  spanId?: Id;
  eventName?: Str;
}
export interface ScopeM {
  name?: Str;
  version?: Str;
  attrs?: KV[];
}
export interface Envelope<T> {
  resource?: { attrs?: KV[] };
  schemaUrl?: Str;
  scopes: Array<{ scope?: ScopeM; schemaUrl?: Str; items: T[] }>;
}
export type TracesM = Array<Envelope<SpanM>>;
export type LogsM = Array<Envelope<LogM>>;

// ---- model → protobuf ---------------------------------------------------------

const idBytes = (id: Id | undefined): Uint8Array | undefined => (id === undefined ? undefined : id instanceof Uint8Array ? id : Buffer.from(id.json, 'hex'));

function avProto(v: AV): Buffer {
  if (v.rawProto) return v.rawProto;
  const parts: Buffer[] = [];
  if (v.s !== undefined) parts.push(pb.str(1, v.s));
  if (v.b !== undefined) parts.push(pb.varint(2, v.b ? 1 : 0));
  if (v.i !== undefined) parts.push(pb.varint(3, v.i));
  if (v.d !== undefined) parts.push(pb.double(4, v.d, v.dBits));
  if (v.a !== undefined) parts.push(pb.msg(5, v.a.map((x) => pb.msg(1, [avProto(x)]))));
  if (v.kv !== undefined) parts.push(pb.msg(6, v.kv.map((x) => pb.msg(1, [kvProto(x)]))));
  if (v.by !== undefined) parts.push(pb.bytes(7, v.by));
  return Buffer.concat(parts);
}
const kvProto = (kv: KV): Buffer => Buffer.concat([pb.str(1, kv.k), kv.v ? pb.msg(2, [avProto(kv.v)]) : EMPTY]);
const kvsProto = (field: number, kvs: KV[] | undefined): Buffer[] => (kvs ?? []).map((kv) => pb.msg(field, [kvProto(kv)]));
const idProto = (field: number, id: Id | undefined): Buffer => {
  const b = idBytes(id);
  return b === undefined ? EMPTY : pb.bytes(field, b);
};
const scopeProto = (s: ScopeM): Buffer[] => [pb.str(1, s.name), pb.str(2, s.version), ...kvsProto(3, s.attrs)];

function spanProto(s: SpanM): Buffer {
  return Buffer.concat([
    idProto(1, s.traceId), idProto(2, s.spanId), pb.str(3, s.traceState), idProto(4, s.parent), pb.str(5, s.name), pb.varint(6, s.kind),
    pb.fixed64(7, s.start), pb.fixed64(8, s.end), ...kvsProto(9, s.attrs), pb.varint(10, s.dropped),
    ...(s.events ?? []).map((e) => pb.msg(11, [pb.fixed64(1, e.time), pb.str(2, e.name), ...kvsProto(3, e.attrs)])),
    ...(s.links ?? []).map((l) => pb.msg(13, [idProto(1, l.traceId), idProto(2, l.spanId), pb.str(3, l.traceState), ...kvsProto(4, l.attrs), pb.fixed32(6, l.flags)])),
    s.status ? pb.msg(15, [pb.str(2, s.status.message), pb.varint(3, s.status.code)]) : EMPTY,
    pb.fixed32(16, s.flags),
  ]);
}

function logProto(r: LogM): Buffer {
  return Buffer.concat([
    pb.fixed64(1, r.time), pb.varint(2, r.severity), pb.str(3, r.severityText), r.body ? pb.msg(5, [avProto(r.body)]) : EMPTY, ...kvsProto(6, r.attrs),
    pb.varint(7, r.dropped), pb.fixed32(8, r.flags), idProto(9, r.traceId), idProto(10, r.spanId), pb.fixed64(11, r.observed), pb.str(12, r.eventName),
  ]);
}

function envelopesProto<T>(envs: Array<Envelope<T>>, item: (x: T) => Buffer): Buffer {
  return Buffer.concat(
    envs.map((e) =>
      pb.msg(1, [
        e.resource ? pb.msg(1, kvsProto(1, e.resource.attrs)) : EMPTY,
        ...e.scopes.map((s) => pb.msg(2, [s.scope ? pb.msg(1, scopeProto(s.scope)) : EMPTY, ...s.items.map((x) => pb.msg(2, [item(x)])), pb.str(3, s.schemaUrl)])),
        pb.str(3, e.schemaUrl),
      ]),
    ),
  );
}

export const tracesProto = (m: TracesM): Buffer => envelopesProto(m, spanProto);
export const logsProto = (m: LogsM): Buffer => envelopesProto(m, logProto);

// ---- model → OTLP/JSON (bytes: strings given as raw bytes stay raw) ------------

const Q = Buffer.from('"');
function jstr(s: Str): Buffer {
  if (typeof s === 'string') return Buffer.from(JSON.stringify(s), 'utf8');
  const out: number[] = [];
  for (const c of s) {
    if (c === 0x22 || c === 0x5c) out.push(0x5c, c);
    else if (c < 0x20) out.push(...Buffer.from(`\\u${c.toString(16).padStart(4, '0')}`));
    else out.push(c);
  }
  return Buffer.concat([Q, Buffer.from(out), Q]);
}

function jnum(d: number): string {
  if (Number.isNaN(d)) return '"NaN"';
  if (d === Infinity) return '"Infinity"';
  if (d === -Infinity) return '"-Infinity"';
  return Object.is(d, -0) ? '-0' : String(d);
}

class JsonOut {
  parts: Buffer[] = [];
  t(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'));
    return this;
  }
  b(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function avJson(o: JsonOut, v: AV): void {
  if (v.rawJson) {
    o.b(v.rawJson);
    return;
  }
  const members: Array<() => void> = [];
  if (v.s !== undefined) members.push(() => o.t('"stringValue":').b(jstr(v.s as Str)));
  if (v.b !== undefined) members.push(() => o.t(`"boolValue":${v.b}`));
  if (v.i !== undefined) members.push(() => o.t(`"intValue":"${v.i}"`));
  if (v.d !== undefined) members.push(() => o.t(`"doubleValue":${jnum(v.d as number)}`));
  if (v.a !== undefined) members.push(() => list(o, '"arrayValue":{"values":', v.a as AV[], (x) => { o.t('{'); avJson(o, x); o.t('}'); }, '}'));
  if (v.kv !== undefined) members.push(() => list(o, '"kvlistValue":{"values":', v.kv as KV[], (x) => kvJson(o, x), '}'));
  if (v.by !== undefined) members.push(() => o.t(`"bytesValue":"${Buffer.from(v.by as Uint8Array).toString('base64')}"`));
  members.forEach((m, i) => {
    if (i > 0) o.t(',');
    m();
  });
}

function list<T>(o: JsonOut, open: string, xs: readonly T[], each: (x: T) => void, close = ''): void {
  o.t(`${open}[`);
  xs.forEach((x, i) => {
    if (i > 0) o.t(',');
    each(x);
  });
  o.t(`]${close}`);
}

function kvJson(o: JsonOut, kv: KV): void {
  o.t('{"key":').b(jstr(kv.k));
  if (kv.v) {
    o.t(',"value":{');
    avJson(o, kv.v);
    o.t('}');
  }
  o.t('}');
}

function fields(o: JsonOut, fs: Array<[string, (() => void) | undefined]>): void {
  o.t('{');
  let first = true;
  for (const [name, write] of fs) {
    if (!write) continue;
    if (!first) o.t(',');
    first = false;
    o.t(`"${name}":`);
    write();
  }
  o.t('}');
}

const jId = (o: JsonOut, id: Id | undefined) => (id === undefined ? undefined : () => o.t(JSON.stringify(id instanceof Uint8Array ? Buffer.from(id).toString('hex') : id.json)));
const jS = (o: JsonOut, s: Str | undefined) => (s === undefined ? undefined : () => o.b(jstr(s)));
const jN = (o: JsonOut, n: number | bigint | undefined, quoted = false) => (n === undefined ? undefined : () => o.t(quoted ? `"${n}"` : String(n)));
const jKvs = (o: JsonOut, kvs: KV[] | undefined) => (kvs === undefined ? undefined : () => list(o, '', kvs, (kv) => kvJson(o, kv)));
const jScope = (o: JsonOut, s: ScopeM) => fields(o, [['name', jS(o, s.name)], ['version', jS(o, s.version)], ['attributes', jKvs(o, s.attrs)]]);

function spanJson(o: JsonOut, s: SpanM): void {
  fields(o, [
    ['traceId', jId(o, s.traceId)], ['spanId', jId(o, s.spanId)], ['traceState', jS(o, s.traceState)], ['parentSpanId', jId(o, s.parent)],
    ['name', jS(o, s.name)], ['kind', jN(o, s.kind)], ['startTimeUnixNano', jN(o, s.start, true)], ['endTimeUnixNano', jN(o, s.end, true)],
    ['attributes', jKvs(o, s.attrs)], ['droppedAttributesCount', jN(o, s.dropped)],
    ['events', s.events && (() => list(o, '', s.events as EventM[], (e) => fields(o, [['timeUnixNano', jN(o, e.time, true)], ['name', jS(o, e.name)], ['attributes', jKvs(o, e.attrs)]])))],
    ['links', s.links && (() => list(o, '', s.links as LinkM[], (l) => fields(o, [['traceId', jId(o, l.traceId)], ['spanId', jId(o, l.spanId)], ['traceState', jS(o, l.traceState)], ['attributes', jKvs(o, l.attrs)], ['flags', jN(o, l.flags)]])))],
    ['status', s.status && (() => fields(o, [['message', jS(o, s.status?.message)], ['code', jN(o, s.status?.code)]]))],
    ['flags', jN(o, s.flags)],
  ]);
}

function logJson(o: JsonOut, r: LogM): void {
  fields(o, [
    ['timeUnixNano', jN(o, r.time, true)], ['observedTimeUnixNano', jN(o, r.observed, true)], ['severityNumber', jN(o, r.severity)], ['severityText', jS(o, r.severityText)],
    ['body', r.body && (() => { o.t('{'); avJson(o, r.body as AV); o.t('}'); })], ['attributes', jKvs(o, r.attrs)], ['droppedAttributesCount', jN(o, r.dropped)],
    ['flags', jN(o, r.flags)], ['traceId', jId(o, r.traceId)], ['spanId', jId(o, r.spanId)], ['eventName', jS(o, r.eventName)],
  ]);
}

function envelopesJson<T>(root: string, scopesKey: string, itemsKey: string, envs: Array<Envelope<T>>, item: (o: JsonOut, x: T) => void): Buffer {
  const o = new JsonOut();
  o.t(`{"${root}":`);
  list(o, '', envs, (e) =>
    fields(o, [
      ['resource', e.resource && (() => fields(o, [['attributes', jKvs(o, e.resource?.attrs)]]))],
      [scopesKey, () => list(o, '', e.scopes, (s) => fields(o, [['scope', s.scope && (() => jScope(o, s.scope as ScopeM))], [itemsKey, () => list(o, '', s.items, (x) => item(o, x))], ['schemaUrl', jS(o, s.schemaUrl)]]))],
      ['schemaUrl', jS(o, e.schemaUrl)],
    ]),
  );
  o.t('}');
  return o.done();
}

export const tracesJson = (m: TracesM): Buffer => envelopesJson('resourceSpans', 'scopeSpans', 'spans', m, spanJson);
export const logsJson = (m: LogsM): Buffer => envelopesJson('resourceLogs', 'scopeLogs', 'logRecords', m, logJson);

/**
 * An AnyValue nested `depth` levels deep (arrays or kvlists, alternating if
 * `mixed`), encoded directly in both encodings without recursion, so depths
 * far beyond the stack are cheap to build.
 */
export function deepValue(depth: number, how: 'array' | 'kvlist' | 'mixed'): AV {
  const kindAt = (level: number) => (how === 'mixed' ? (level % 2 === 0 ? 'array' : 'kvlist') : how);
  // JSON: open brackets outside-in, then close them inside-out.
  let open = '';
  let close = '';
  for (let l = 0; l < depth; l++) {
    const k = kindAt(l);
    open += k === 'array' ? '"arrayValue":{"values":[{' : '"kvlistValue":{"values":[{"key":"k","value":{';
    close = (k === 'array' ? '}]}' : '}}]}') + close;
  }
  const rawJson = Buffer.from(`${open}"stringValue":"bottom"${close}`);
  // protobuf: sizes inside-out, then the prefixes outside-in; each level is one or two length-delimited wrappers.
  const inner = pb.str(1, 'bottom');
  const wrappers: Array<{ field: number; prefix?: Buffer }[]> = [];
  for (let l = 0; l < depth; l++) wrappers.push(kindAt(l) === 'array' ? [{ field: 5 }, { field: 1 }] : [{ field: 6 }, { field: 1 }, { field: 2 }]);
  const flat = wrappers.flat();
  const keyOnly = new Map<number, Buffer>();
  const keyOf = (f: number) => keyOnly.get(f) ?? (keyOnly.set(f, key(f, 2)), keyOnly.get(f) as Buffer);
  let size = inner.length;
  const prefixes: Buffer[] = new Array(flat.length);
  for (let i = flat.length - 1; i >= 0; i--) {
    const w = flat[i] as { field: number };
    // A KeyValue wrapper (field 1 of KeyValueList) holds a key before its value.
    const extra = w.field === 1 && flat[i + 1]?.field === 2 ? pb.str(1, 'k') : EMPTY;
    const len = size + extra.length;
    prefixes[i] = Buffer.concat([keyOf(w.field), varint(len), extra]);
    size = len + keyOf(w.field).length + varint(len).length;
  }
  return { rawProto: Buffer.concat([...prefixes, inner]), rawJson };
}

// ---- mutators --------------------------------------------------------------------

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x08, 0x22, 0x2a];
const INTERESTING_VARINTS = [0n, 1n, 127n, 128n, 0x7fffffffn, 0x80000000n, 0xffffffffn, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

/** `n` random byte-level mutations of a protobuf-ish input. */
export function mutateBytes(r: Rng, input: Buffer, n: number): { bytes: Buffer; ops: string[] } {
  let b = Buffer.from(input);
  const ops: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = b.length === 0 ? 0 : r.int(b.length);
    switch (r.int(9)) {
      case 0:
        if (b.length > 0) b[at] = (b[at] ?? 0) ^ (1 << r.int(8));
        ops.push(`flip@${at}`);
        break;
      case 1:
        if (b.length > 0) b[at] = r.pick(INTERESTING);
        ops.push(`set@${at}`);
        break;
      case 2: {
        const ins = r.bytes(r.range(1, 8));
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        ops.push(`insert${ins.length}@${at}`);
        break;
      }
      case 3: {
        const len = r.range(1, 16);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        ops.push(`delete${len}@${at}`);
        break;
      }
      case 4: {
        const from = r.int(Math.max(1, b.length));
        const len = r.range(1, 64);
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)]);
        ops.push(`dup${len}:${from}@${at}`);
        break;
      }
      case 5:
        b = b.subarray(0, at);
        ops.push(`truncate@${at}`);
        break;
      case 6: {
        const v = varint(r.pick(INTERESTING_VARINTS));
        b = Buffer.concat([b.subarray(0, at), v, b.subarray(at + r.range(1, 3))]);
        ops.push(`varint@${at}`);
        break;
      }
      case 7: {
        // Overwrite 8 bytes (a fixed64: a timestamp or a double) with an extreme value.
        if (b.length >= 8) {
          const o = Math.min(at, b.length - 8);
          const pickv = r.int(5);
          if (pickv === 0) b.writeBigUInt64LE((1n << 64n) - 1n, o);
          else if (pickv === 1) b.writeBigUInt64LE(1n << 63n, o);
          else if (pickv === 2) b.writeDoubleLE(NaN, o);
          else if (pickv === 3) b.writeDoubleLE(-Infinity, o);
          else b.writeBigUInt64LE(0n, o);
        }
        ops.push(`fixed64@${at}`);
        break;
      }
      default: {
        const g = r.bytes(r.range(1, 32));
        b = Buffer.concat([b, g]);
        ops.push(`append${g.length}`);
      }
    }
  }
  return { bytes: b, ops };
}

const JSON_NOISE = '{}[]",:0123456789-+.eEtrufalsn\\ aA/u';
/** Text-level mutations of a JSON document (as bytes, so invalid UTF-8 may appear). */
export function mutateText(r: Rng, input: Buffer, n: number): Buffer {
  let b = Buffer.from(input);
  for (let i = 0; i < n; i++) {
    const at = b.length === 0 ? 0 : r.int(b.length);
    switch (r.int(6)) {
      case 0:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + r.range(1, 4))]);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick([...JSON_NOISE])), b.subarray(at)]);
        break;
      case 2:
        if (b.length > 0) b[at] = JSON_NOISE.charCodeAt(r.int(JSON_NOISE.length));
        break;
      case 3:
        b = b.subarray(0, at);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), r.bytes(r.range(1, 3)), b.subarray(at)]);
        break;
      default: {
        const from = r.int(Math.max(1, b.length));
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + r.range(1, 40)), b.subarray(at)]);
      }
    }
  }
  return b;
}

/** A random JSON value of the kinds a decoder might be surprised by. */
export function weirdJson(r: Rng): unknown {
  switch (r.int(16)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return -1;
    case 3: return 1.5;
    case 4: return 1e300 * (r.chance(0.5) ? 10 : 1); // JSON.parse of 1e301 is finite; "1e400" arrives via text mutation
    case 5: return '18446744073709551616';
    case 6: return '-9223372036854775809';
    case 7: return 'NaN';
    case 8: return '';
    case 9: return 'ab'.repeat(r.range(1, 20));
    case 10: return [];
    case 11: return {};
    case 12: return [1, 'two', null];
    case 13: return { stringValue: 'x', intValue: '1' };
    case 14: return 4294967296;
    default: return 'zz!\u0000\ud800';
  }
}

/** Structural mutations of a parsed JSON document: replace, delete, duplicate or retype a random node. */
export function mutateJsonTree(r: Rng, root: unknown, n: number): void {
  for (let i = 0; i < n; i++) {
    // Walk down a random path, stopping at a random depth.
    let parent: unknown = null;
    let keyOrIndex: string | number = '';
    let node: unknown = root;
    for (let depth = 0; depth < 12; depth++) {
      const children = node && typeof node === 'object' ? (Array.isArray(node) ? node.map((_, j) => j) : Object.keys(node)) : [];
      if (children.length === 0 || (depth > 1 && r.chance(0.2))) break;
      parent = node;
      keyOrIndex = r.pick(children as Array<string | number>);
      node = (node as Record<string | number, unknown>)[keyOrIndex];
    }
    if (parent === null) continue;
    const p = parent as Record<string | number, unknown>;
    switch (r.int(5)) {
      case 0:
        if (Array.isArray(p)) p.splice(keyOrIndex as number, 1);
        else delete p[keyOrIndex];
        break;
      case 1:
        if (Array.isArray(p)) p.splice(keyOrIndex as number, 0, structuredClone(node));
        else p[`${String(keyOrIndex)}`.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = structuredClone(node);
        break;
      case 2:
        if (typeof node === 'string' && /^[0-9a-f]+$/.test(node)) p[keyOrIndex] = r.chance(0.5) ? node.toUpperCase() : node.slice(0, r.int(node.length));
        else p[keyOrIndex] = weirdJson(r);
        break;
      case 3:
        p[keyOrIndex] = { nested: node };
        break;
      default:
        p[keyOrIndex] = weirdJson(r);
    }
  }
}

// ---- the oracle ------------------------------------------------------------------

export type Signal = 'traces' | 'logs';
export type Encoding = 'protobuf' | 'json';

const TWO63 = 1n << 63n;
const MAX_DEPTH = 64;
const EVALUATION_EVENT = 'gen_ai.evaluation.result';

/** What the receiver must do with a body it decodes (bytes after decompression). */
export interface Prediction {
  /** false: undecodable, 400 / INVALID_ARGUMENT. */
  ok: boolean;
  why: string;
  total: number;
  rejected: number;
  /** Every 16-byte trace ID in the request (hex), to look rows up by. */
  traceIds: Set<string>;
  /** trace:span keys that must be stored (nothing else may be stored under `traceIds`). */
  spans: Set<string>;
  /**
   * The rows those spans make: a span's key includes its start time to the
   * microsecond (the partition key is part of the primary key), so one span ID
   * sent twice with different start times is two rows.
   */
  spanRows: Set<string>;
  /** Distinct log rows with a trace ID, and the content keys of those without. */
  logsWithTrace: number;
  logsWithoutTrace: Set<string>;
  evalsWithTrace: number;
  evalsWithoutTrace: Set<string>;
}

type Dec = Decoded;

const MEMBERS = ['stringValue', 'intValue', 'doubleValue', 'boolValue', 'arrayValue', 'kvlistValue', 'bytesValue'];
/**
 * The member an AnyValue holds, if any. In JSON the oracle's decoder allows
 * one at most (a oneof). On the wire it keeps every member seen, and
 * Verdict's documented reading applies: the first present in this order
 * (docs/design.md, "Where this departs from the starting design").
 */
function caseOf(v: Dec | null | undefined): string | undefined {
  if (!v) return undefined;
  for (const k of MEMBERS) if (Object.hasOwn(v, k)) return k;
  return undefined;
}

export const clean = (s: string): string => s.toWellFormed().replaceAll('\0', '\uFFFD');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const isZero = (b: Uint8Array) => b.every((x) => x === 0);
/** The request's 16-byte trace IDs are looked up whether or not their items are valid. */
const isTraceSized = (b: Uint8Array | InvalidId) => b instanceof Uint8Array && b.length === 16;

/** A required ID: hex, or null when the item must be rejected. */
function requiredId(b: Uint8Array | InvalidId, size: number): string | null {
  return b instanceof Uint8Array && b.length === size && !isZero(b) ? hex(b) : null;
}
/** An optional ID: { bad } when the item must be rejected, else hex or null (absent or zero). */
function optionalId(b: Uint8Array | InvalidId, size: number): { bad: boolean; hex: string | null } {
  if (b instanceof InvalidId || (b.length !== 0 && b.length !== size)) return { bad: true, hex: null };
  return { bad: false, hex: b.length === 0 || isZero(b) ? null : hex(b) };
}

/** Nesting of containers (arrays, kvlists) below the value: > MAX_DEPTH levels rejects the item. */
function tooDeep(v: Dec | null | undefined, depth = 0): boolean {
  const c = caseOf(v);
  if (c !== 'arrayValue' && c !== 'kvlistValue') return false;
  if (depth >= MAX_DEPTH) return true;
  const vv = v as Dec;
  if (c === 'arrayValue') return (vv.arrayValue?.values ?? []).some((x: Dec) => tooDeep(x, depth + 1));
  return (vv.kvlistValue?.values ?? []).some((kv: Dec) => tooDeep(kv.value, depth + 1));
}
const kvsTooDeep = (kvs: Dec[] | undefined) => (kvs ?? []).some((kv) => tooDeep(kv.value));

function scalar(v: Dec | null | undefined): string | number | boolean | bigint | undefined {
  switch (caseOf(v)) {
    case 'stringValue': return (v as Dec).stringValue;
    case 'boolValue': return (v as Dec).boolValue;
    case 'doubleValue': return (v as Dec).doubleValue;
    case 'intValue': {
      const b = (v as Dec).intValue as bigint;
      return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
    }
    default: return undefined;
  }
}

/** JSON text of a value as docs/schema.md maps it (the content keys of log rows and verdicts hash this). */
function valueJson(v: Dec | null | undefined): string {
  switch (caseOf(v)) {
    case undefined: return 'null';
    case 'stringValue': return JSON.stringify(clean((v as Dec).stringValue));
    case 'boolValue': return (v as Dec).boolValue ? 'true' : 'false';
    case 'intValue': {
      const s = scalar(v);
      return typeof s === 'bigint' ? `"${s}"` : String(s);
    }
    case 'doubleValue': {
      const d = (v as Dec).doubleValue as number;
      return Number.isFinite(d) ? String(d) : Number.isNaN(d) ? '"NaN"' : d > 0 ? '"Infinity"' : '"-Infinity"';
    }
    case 'bytesValue': return `"${Buffer.from((v as Dec).bytesValue).toString('base64')}"`;
    case 'arrayValue': return `[${((v as Dec).arrayValue?.values ?? []).map(valueJson).join(',')}]`;
    default: return attrsJson((v as Dec).kvlistValue?.values ?? []);
  }
}
const attrsJson = (kvs: Dec[]): string => `{${kvs.map((kv) => `${JSON.stringify(clean(kv.key))}:${valueJson(kv.value)}`).join(',')}}`;

/** The verdict a gen_ai.evaluation.result event carries: its content key, or why it is not one. */
function evaluationKey(kvs: Dec[], traceId: string | null, spanId: string | null, time: string): { key: string } | { invalid: string } {
  let name: unknown;
  let score: unknown;
  let draft: unknown;
  let label: string | null = null;
  let explanation: string | null = null;
  let responseId: string | null = null;
  const text = (v: unknown) => (v === undefined ? null : clean(String(v)));
  for (const kv of kvs) {
    switch (kv.key) {
      case 'gen_ai.evaluation.name': name = scalar(kv.value); break;
      case 'gen_ai.evaluation.score.value': score = scalar(kv.value); break;
      case 'gen_ai.evaluation.score': draft = scalar(kv.value); break;
      case 'gen_ai.evaluation.score.label': label = text(scalar(kv.value)); break;
      case 'gen_ai.evaluation.explanation': explanation = text(scalar(kv.value)); break;
      case 'gen_ai.response.id': responseId = text(scalar(kv.value)); break;
      default:
    }
  }
  if (typeof name !== 'string' || name.trim() === '') return { invalid: 'no name' };
  if (score === undefined && typeof draft === 'number') score = draft;
  if (score !== undefined) {
    if (typeof score === 'bigint') score = Number(score);
    if (typeof score !== 'number' || !Number.isFinite(score)) return { invalid: 'bad score' };
  }
  return { key: JSON.stringify([traceId, spanId, clean(name), time, score ?? null, label, explanation, responseId]) };
}

function emptyPrediction(ok: boolean, why: string): Prediction {
  return { ok, why, total: 0, rejected: 0, traceIds: new Set(), spans: new Set(), spanRows: new Set(), logsWithTrace: 0, logsWithoutTrace: new Set(), evalsWithTrace: 0, evalsWithoutTrace: new Set() };
}

/** Decodes with the oracle's own decoders (test/helpers/oracle/), then applies the storage rules. */
export function predict(signal: Signal, encoding: Encoding, body: Buffer, salt: string): Prediction {
  let req: Dec;
  try {
    req = decodeRequest(signal, encoding, body);
  } catch (err) {
    return emptyPrediction(false, (err as Error).message.slice(0, 120));
  }
  return signal === 'traces' ? predictTraces(req) : predictLogs(req, salt);
}

function predictTraces(req: Dec): Prediction {
  const p = emptyPrediction(true, '');
  const evals = new Set<string>();
  for (const rs of req.resourceSpans as Dec[]) {
    const envelopeDeep = kvsTooDeep(rs.resource?.attributes);
    for (const ss of rs.scopeSpans as Dec[]) {
      const deep = envelopeDeep || kvsTooDeep(ss.scope?.attributes);
      for (const s of ss.spans as Dec[]) {
        p.total++;
        if (isTraceSized(s.traceId)) p.traceIds.add(hex(s.traceId));
        const traceId = requiredId(s.traceId, 16);
        const spanId = requiredId(s.spanId, 8);
        const start = s.startTimeUnixNano as bigint;
        const end = s.endTimeUnixNano as bigint;
        const valid =
          !deep && traceId !== null && spanId !== null && !optionalId(s.parentSpanId, 8).bad && start < TWO63 && end < TWO63 &&
          !kvsTooDeep(s.attributes) && !(s.events as Dec[]).some((e) => kvsTooDeep(e.attributes)) &&
          !(s.links as Dec[]).some((l) => optionalId(l.traceId, 16).bad || optionalId(l.spanId, 8).bad || kvsTooDeep(l.attributes));
        if (!valid) {
          p.rejected++;
          continue;
        }
        p.spans.add(`${traceId}:${spanId}`);
        p.spanRows.add(`${traceId}:${spanId}:${start / 1000n}`);
        for (const e of s.events as Dec[]) {
          if (e.name !== EVALUATION_EVENT) continue;
          const t = e.timeUnixNano as bigint;
          const ev = evaluationKey(e.attributes, traceId, spanId, String(t === 0n ? end : t));
          if ('key' in ev) evals.add(ev.key);
        }
      }
    }
  }
  p.evalsWithTrace = evals.size;
  return p;
}

function predictLogs(req: Dec, salt: string): Prediction {
  const p = emptyPrediction(true, '');
  const logs = new Set<string>();
  const evals = new Set<string>();
  for (const rl of req.resourceLogs as Dec[]) {
    const deep = kvsTooDeep(rl.resource?.attributes) || (rl.scopeLogs as Dec[]).some((sl) => kvsTooDeep(sl.scope?.attributes));
    const resourceJson = deep ? '' : attrsJson(rl.resource?.attributes ?? []);
    for (const sl of rl.scopeLogs as Dec[]) {
      for (const r of sl.logRecords as Dec[]) {
        p.total++;
        if (isTraceSized(r.traceId)) p.traceIds.add(hex(r.traceId));
        const trace = optionalId(r.traceId, 16);
        const span = trace.hex === null ? { bad: false, hex: null } : optionalId(r.spanId, 8);
        const time = r.timeUnixNano as bigint;
        const observed = r.observedTimeUnixNano as bigint;
        const legacy = (r.attributes as Dec[]).find((kv) => kv.key === 'event.name');
        const legacyName = legacy ? scalar(legacy.value) : undefined;
        const eventName: string = r.eventName || (typeof legacyName === 'string' ? legacyName : '');
        const isEvaluation = eventName === EVALUATION_EVENT;
        // A log row keeps both times as Postgres bigint nanoseconds, so past 2^63-1 it cannot be stored as sent (a verdict keeps only a timestamptz).
        const timeTooLarge = !isEvaluation && (time >= TWO63 || observed >= TWO63);
        let invalid = deep || trace.bad || span.bad || timeTooLarge || kvsTooDeep(r.attributes) || (!isEvaluation && tooDeep(r.body));
        let ev: { key: string } | { invalid: string } | undefined;
        if (!invalid && isEvaluation) {
          ev = evaluationKey(r.attributes, trace.hex, span.hex, time || observed ? String(time || observed) : `now:${salt}`);
          if ('invalid' in ev) invalid = true;
        }
        if (invalid) {
          p.rejected++;
          continue;
        }
        if (ev && 'key' in ev) {
          if (trace.hex === null) p.evalsWithoutTrace.add(ev.key);
          else evals.add(ev.key);
          continue;
        }
        const scope = sl.scope ?? {};
        const row = JSON.stringify([
          trace.hex, span.hex, String(time), String(observed), r.severityNumber, r.severityText ? clean(r.severityText) : null, eventName ? clean(eventName) : null,
          r.body ? valueJson(r.body) : null, attrsJson(r.attributes), resourceJson, scope.name ? clean(scope.name) : null, scope.version ? clean(scope.version) : null, r.flags >>> 0,
        ]);
        if (trace.hex === null) p.logsWithoutTrace.add(row);
        else logs.add(row);
      }
    }
  }
  p.logsWithTrace = logs.size;
  p.evalsWithTrace = evals.size;
  return p;
}

// ---- clients ---------------------------------------------------------------------

/** What came back: a status, or `dropped` with the connection error when nothing did. */
export interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
  /** gRPC: grpc-message, percent-decoded. */
  message: string;
  /** gRPC: grpc-status-details-bin, if sent. */
  details: Buffer | null;
  dropped: string | null;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export function httpPost(base: string, path: string, body: Buffer, headers: Record<string, string>, timeoutMs = 20_000): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const url = new URL(path, base);
    const done = (a: Partial<Answer>) =>
      resolve({ status: 0, contentType: '', body: EMPTY, message: '', details: null, dropped: null, ms: performance.now() - started, ...a });
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-length': String(body.length), ...headers }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }));
      res.on('error', (err) => done({ dropped: `response: ${err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => done({ dropped: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(body);
  });
}

export function closeHttpAgent(): void {
  agent.destroy();
}

/** A gRPC length-prefixed message. */
export function grpcFrame(message: Uint8Array, compressed = false, declaredLength = message.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([head, message]);
}

/** A gRPC client on raw HTTP/2, so the fuzz can send any framing, compression flag and grpc-encoding. */
export class RawGrpc {
  readonly address: string;
  #session: http2.ClientHttp2Session | null = null;

  constructor(address: string) {
    this.address = address;
  }

  #connect(): http2.ClientHttp2Session {
    if (!this.#session || this.#session.closed || this.#session.destroyed) {
      const s = http2.connect(`http://${this.address}`);
      s.on('error', () => {}); // reported per stream
      this.#session = s;
    }
    return this.#session;
  }

  call(path: string, data: Buffer, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<Answer> {
    const started = performance.now();
    return new Promise((resolve) => {
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let error: string | null = null;
      let settled = false;
      const req = this.#connect().request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      const timer = setTimeout(() => {
        error = `no answer within ${timeoutMs} ms`;
        req.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      req.on('response', (h) => (head = h));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', (err) => (error ??= (err as NodeJS.ErrnoException).code ?? err.message));
      req.on('close', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const st = trailers['grpc-status'] ?? head['grpc-status'];
        const msg = String(trailers['grpc-message'] ?? head['grpc-message'] ?? '');
        const det = trailers['grpc-status-details-bin'] ?? head['grpc-status-details-bin'];
        const body = Buffer.concat(chunks);
        let decodedMessage = msg;
        try {
          decodedMessage = decodeURIComponent(msg);
        } catch {
          // keep it as sent
        }
        resolve({
          status: st === undefined ? -1 : Number(st),
          contentType: String(head['content-type'] ?? ''),
          // The one response message, without its 5-byte prefix.
          body: body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : body,
          message: decodedMessage,
          details: det ? Buffer.from(String(det), 'base64') : null,
          dropped: st === undefined ? (error ?? `HTTP/2 stream closed without grpc-status (:status ${head[':status']})`) : null,
          ms: performance.now() - started,
        });
      });
      req.end(data);
    });
  }

  close(): void {
    this.#session?.close();
    this.#session = null;
  }
}

// ---- compression ---------------------------------------------------------------------

export type Codec = 'gzip' | 'deflate' | 'zstd';
export function compress(codec: Codec, b: Uint8Array): Buffer {
  if (codec === 'gzip') return zlib.gzipSync(b);
  if (codec === 'deflate') return zlib.deflateSync(b);
  return zlib.zstdCompressSync(b);
}

/** Decompresses as the receivers do: the output, or why not ('too large' beyond the limit). */
export function decompress(codec: Codec, b: Buffer, limit: number): { out: Buffer } | { error: 'too large' | 'corrupt'; message: string } {
  try {
    const opts = { maxOutputLength: limit };
    const out = codec === 'gzip' ? zlib.gunzipSync(b, opts) : codec === 'deflate' ? zlib.inflateSync(b, opts) : zlib.zstdDecompressSync(b, opts);
    return { out };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { error: code === 'ERR_BUFFER_TOO_LARGE' ? 'too large' : 'corrupt', message: (err as Error).message };
  }
}

// ---- memory ------------------------------------------------------------------------

/** A full garbage collection, whether or not the process was started with --expose-gc. */
export function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

export function settledHeap(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}
