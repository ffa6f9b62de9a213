/**
 * AnyValue and attribute lists → JSON text for jsonb columns, built by string
 * concatenation (no intermediate objects; this is the hot path).
 *
 * Mapping (issue #2, §4): string, bool and double as JSON; int as a JSON
 * number when it fits in ±2^53 and as a decimal string beyond; bytes as
 * base64; arrays as arrays; kvlists as objects; an empty AnyValue as null.
 * Non-finite doubles have no JSON form and become the proto3 JSON strings
 * "NaN", "Infinity", "-Infinity".
 */
import type { AnyValue, Int64, KeyValue, LongLike } from '../otlp/types.ts';

/** Deeper AnyValue nesting than this is refused: Postgres's jsonb parser has a stack limit, and no real attribute needs it. */
export const MAX_DEPTH = 64;

/** Thrown when an AnyValue nests deeper than MAX_DEPTH; the item carrying it is rejected. */
export class TooDeepError extends Error {
  override readonly name = 'TooDeepError';
}

/**
 * Makes a string storable in Postgres: text and jsonb cannot hold U+0000,
 * and jsonb rejects lone UTF-16 surrogates (which invalid UTF-8 on the wire
 * can decode to). Both become U+FFFD, as a UTF-8 decoder would do.
 */
export function clean(s: string): string {
  if (!s.isWellFormed()) s = s.toWellFormed();
  if (s.includes('\0')) s = s.replaceAll('\0', '\uFFFD');
  return s;
}

/** A JSON string literal of `s`, cleaned. */
export function jsonString(s: string): string {
  return JSON.stringify(clean(s));
}


/** Exact value of a 64-bit integer from either decoder. */
export function toBigInt(v: Int64): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  const lo = BigInt(v.low >>> 0);
  return v.unsigned ? (BigInt(v.high >>> 0) << 32n) | lo : (BigInt(v.high | 0) << 32n) | lo;
}

/** An int64 as a JSON value: a number when exactly representable within ±2^53, else a decimal string. */
export function int64Json(v: Int64): string {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : `"${BigInt(v)}"`;
  if (typeof v === 'bigint') return v >= -9007199254740992n && v <= 9007199254740992n ? String(v) : `"${v}"`;
  return longJson(v);
}

function longJson(v: LongLike): string {
  const high = v.unsigned ? v.high >>> 0 : v.high | 0;
  // |value| < 2^53 exactly when the high word is within ±2^21.
  if (high >= -0x200000 && high < 0x200000) return String(high * 4294967296 + (v.low >>> 0));
  return `"${toBigInt(v)}"`;
}

/** A safe JS number for an int64, or null when it does not fit in ±2^53. */
export function int64Number(v: Int64): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  const b = toBigInt(v);
  return b >= -9007199254740992n && b <= 9007199254740992n ? Number(b) : null;
}

export function doubleJson(d: number): string {
  if (Number.isFinite(d)) return String(d);
  return Number.isNaN(d) ? '"NaN"' : d > 0 ? '"Infinity"' : '"-Infinity"';
}

function bytesJson(b: Uint8Array): string {
  return `"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"`;
}

/** JSON text of one AnyValue. */
export function anyValueJson(v: AnyValue | null | undefined, depth = 0): string {
  if (!v) return 'null';
  switch (v.value) {
    case 'stringValue':
      return jsonString(v.stringValue as string);
    case 'boolValue':
      return v.boolValue ? 'true' : 'false';
    case 'intValue':
      return int64Json(v.intValue as Int64);
    case 'doubleValue':
      return doubleJson(v.doubleValue as number);
    case 'bytesValue':
      return bytesJson(v.bytesValue as Uint8Array);
    case 'arrayValue': {
      if (depth >= MAX_DEPTH) throw new TooDeepError(`value nests deeper than ${MAX_DEPTH} levels`);
      const values = v.arrayValue?.values ?? [];
      let out = '[';
      for (let i = 0; i < values.length; i++) {
        if (i > 0) out += ',';
        out += anyValueJson(values[i], depth + 1);
      }
      return `${out}]`;
    }
    case 'kvlistValue':
      if (depth >= MAX_DEPTH) throw new TooDeepError(`value nests deeper than ${MAX_DEPTH} levels`);
      return attributesJson(v.kvlistValue?.values ?? [], depth + 1);
    default:
      // Empty AnyValue, or the profiles-only string_value_strindex (treated as absent).
      return 'null';
  }
}

/**
 * JSON object text of a KeyValue list. Keys must be unique (OTLP); if they
 * are not, jsonb keeps the last one, as a map would.
 */
export function attributesJson(kvs: readonly KeyValue[], depth = 0): string {
  if (kvs.length === 0) return '{}';
  let out = '{';
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i] as KeyValue;
    if (i > 0) out += ',';
    out += jsonString(kv.key);
    out += ':';
    out += anyValueJson(kv.value, depth);
  }
  return `${out}}`;
}

/** The plain JS value of a scalar AnyValue (for lifting into columns); undefined for arrays, maps and bytes. */
export function scalarOf(v: AnyValue | null | undefined): string | number | boolean | bigint | undefined {
  if (!v) return undefined;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue as string;
    case 'boolValue':
      return v.boolValue as boolean;
    case 'doubleValue':
      return v.doubleValue as number;
    case 'intValue': {
      const n = int64Number(v.intValue as Int64);
      return n ?? toBigInt(v.intValue as Int64);
    }
    default:
      return undefined;
  }
}

/** The plain JS value of any AnyValue (arrays and maps included), for rules and evaluation logic. */
export function toJs(v: AnyValue | null | undefined, depth = 0): unknown {
  if (!v || depth > MAX_DEPTH) return null;
  switch (v.value) {
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
