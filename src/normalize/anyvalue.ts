/**
 * AnyValue and attribute lists → JSON for jsonb columns, written straight
 * into a COPY buffer (no intermediate objects; this is the hot path).
 *
 * Mapping: string, bool and double as JSON; int as a JSON
 * number when it fits in ±2^53 and as a decimal string beyond; bytes as
 * base64; arrays as arrays; kvlists as objects; an empty AnyValue as null.
 * Non-finite doubles have no JSON form and become the proto3 JSON strings
 * "NaN", "Infinity", "-Infinity".
 */
import { anyValueCase, type AnyValue, type Int64, type KeyValue, type LongLike } from '../otlp/types.ts';
import { CopyWriter } from '../common/copy-binary.ts';

/** Deeper AnyValue nesting than this is refused: Postgres's jsonb parser has a stack limit, and no real attribute needs it. */
export const MAX_DEPTH = 64;

/** Thrown when an AnyValue nests deeper than MAX_DEPTH; the item carrying it is rejected. */
export class TooDeepError extends Error {
  override readonly name = 'TooDeepError';
}

/** Exact value of a 64-bit integer from either decoder. */
export function toBigInt(v: Int64): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  const lo = BigInt(v.low >>> 0);
  return v.unsigned ? (BigInt(v.high >>> 0) << 32n) | lo : (BigInt(v.high | 0) << 32n) | lo;
}

/** A safe JS number for an int64, or null when it does not fit in ±2^53. */
export function int64Number(v: Int64): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  if (typeof v === 'bigint') return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : null;
  return longNumber(v);
}

function longNumber(v: LongLike): number | null {
  const high = v.unsigned ? v.high >>> 0 : v.high | 0;
  // |value| < 2^53 exactly when the high word is within ±2^21.
  return high >= -0x200000 && high < 0x200000 ? high * 4294967296 + (v.low >>> 0) : null;
}

/** An int64 as JSON text: a number within ±2^53, else a decimal string. */
export function int64Json(v: Int64): string {
  const n = int64Number(v);
  return n !== null ? String(n) : `"${toBigInt(v)}"`;
}

export function doubleJson(d: number): string {
  if (Number.isFinite(d)) return String(d);
  return Number.isNaN(d) ? '"NaN"' : d > 0 ? '"Infinity"' : '"-Infinity"';
}

/** Writes one AnyValue as JSON. */
export function writeAnyValue(w: CopyWriter, v: AnyValue | null | undefined, depth: number): void {
  if (!v) return w.raw('null');
  switch (anyValueCase(v)) {
    case 'stringValue':
      return w.jsonString(v.stringValue as string);
    case 'intValue':
      return w.raw(int64Json(v.intValue as Int64));
    case 'doubleValue':
      return w.raw(doubleJson(v.doubleValue as number));
    case 'boolValue':
      return w.raw(v.boolValue ? 'true' : 'false');
    case 'bytesValue': {
      const b = v.bytesValue as Uint8Array;
      return w.raw(`"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"`);
    }
    case 'arrayValue': {
      if (depth >= MAX_DEPTH) throw new TooDeepError(`value nests deeper than ${MAX_DEPTH} levels`);
      const values = v.arrayValue?.values ?? [];
      w.byte(91); // [
      for (let i = 0; i < values.length; i++) {
        if (i > 0) w.byte(44); // ,
        writeAnyValue(w, values[i], depth + 1);
      }
      return w.byte(93); // ]
    }
    case 'kvlistValue':
      if (depth >= MAX_DEPTH) throw new TooDeepError(`value nests deeper than ${MAX_DEPTH} levels`);
      return writeAttributes(w, v.kvlistValue?.values ?? [], depth + 1);
    default:
      // An empty AnyValue (or only the profiles-only string_value_strindex, treated as absent).
      return w.raw('null');
  }
}

/**
 * Writes a KeyValue list as a JSON object. Keys must be unique (OTLP); if
 * they are not, jsonb keeps the last one, as a map would.
 */
export function writeAttributes(w: CopyWriter, kvs: readonly KeyValue[], depth = 0): void {
  w.byte(123); // {
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i] as KeyValue;
    if (i > 0) w.byte(44);
    w.jsonString(kv.key);
    w.byte(58); // :
    writeAnyValue(w, kv.value, depth);
  }
  w.byte(125); // }
}

/** JSON text of a value, for the few places (logs, evaluations) that keep JSON as a string. */
export function toJsonText(write: (w: CopyWriter) => void): string {
  const w = new CopyWriter(1024);
  write(w);
  const { chunks, bytes } = w.finish();
  return (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes)).toString('utf8');
}

export const attributesJson = (kvs: readonly KeyValue[]): string => (kvs.length === 0 ? '{}' : toJsonText((w) => writeAttributes(w, kvs)));
export const anyValueJson = (v: AnyValue | null | undefined): string => toJsonText((w) => writeAnyValue(w, v, 0));

/** The plain JS value of a scalar AnyValue (for lifting into columns); undefined for arrays, maps, bytes and empty values. */
export function scalarOf(v: AnyValue | null | undefined): string | number | boolean | bigint | undefined {
  if (!v) return undefined;
  switch (anyValueCase(v)) {
    case 'stringValue':
      return v.stringValue as string;
    case 'boolValue':
      return v.boolValue as boolean;
    case 'doubleValue':
      return v.doubleValue as number;
    case 'intValue':
      return int64Number(v.intValue as Int64) ?? toBigInt(v.intValue as Int64);
    default:
      return undefined;
  }
}

/** The plain JS value of any AnyValue (arrays and maps included), for rules. */
export function toJs(v: AnyValue | null | undefined, depth = 0): unknown {
  if (!v || depth > MAX_DEPTH) return null;
  switch (anyValueCase(v)) {
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map((x) => toJs(x, depth + 1));
    case 'kvlistValue': {
      const o: Record<string, unknown> = {};
      for (const kv of v.kvlistValue?.values ?? []) o[kv.key] = toJs(kv.value, depth + 1);
      return o;
    }
    case 'bytesValue':
      return Buffer.from(v.bytesValue as Uint8Array).toString('base64');
    default: {
      const s = scalarOf(v);
      return typeof s === 'bigint' ? String(s) : (s ?? null);
    }
  }
}
