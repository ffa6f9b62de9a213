/** How the convention tables read attribute values into columns. */
import { cleanDeep } from '../../common/text.ts';
import { anyValueCase, type AnyValue } from '../../otlp/types.ts';
import { int64Number, scalarOf, toBigInt, toJs } from '../anyvalue.ts';
import { parseContent } from '../content.ts';
import { liftedText } from '../context.ts';
import { isOneShape, jsonish, toMessages, toSystemParts, type Direction } from '../message-shape.ts';
import type { Resolved } from './lift.ts';
import { operationName, providerName } from './values.ts';

type V = AnyValue | null | undefined;

/** A short text column (IDs, names, models): NULL when empty or too long to index. */
export const text = (v: V): string | null => liftedText(scalarOf(v));

export const provider = (v: V): string | null => {
  const s = text(v);
  return s === null ? null : providerName(s);
};

export const operation = (v: V): string | null => {
  const s = text(v);
  return s === null ? null : operationName(s);
};

/** Token counts are ints; some SDKs send integral doubles or numeric strings. */
export function tokens(v: V): bigint | number | null {
  if (!v) return null;
  if (anyValueCase(v) === 'intValue') return int64Number(v.intValue!) ?? toBigInt(v.intValue!);
  const s = scalarOf(v);
  if (typeof s === 'number' && Number.isSafeInteger(s)) return s;
  if (typeof s === 'string' && /^\d{1,15}$/.test(s)) return Number(s);
  return null;
}

/** A value that may be JSON text (any JSON, not only objects) or structured: its JS value. */
export function jsonValue(v: V): unknown {
  if (!v) return undefined;
  if (anyValueCase(v) === 'stringValue') {
    const s = v.stringValue as string;
    try {
      return JSON.parse(s);
    } catch {
      return s;
    }
  }
  return toJs(v);
}

/** The JS value of an attribute that may hold JSON objects or arrays as a string (a plain string stays a string). */
export function structured(v: V, parsed?: unknown): unknown {
  if (parsed !== undefined) return parsed;
  if (!v) return undefined;
  if (anyValueCase(v) === 'stringValue') return jsonish(v.stringValue as string);
  return toJs(v);
}

/** A string's JSON as stored in attributes: the text itself when jsonb takes it as it is (see content.ts). */
function storedJson(s: string, parsed: unknown): string {
  return s.includes('\\u') || !s.isWellFormed() || s.includes('\0') ? JSON.stringify(cleanDeep(parsed)) : s;
}

/**
 * Messages in an attribute that is meant to hold the one shape
 * (gen_ai.input.messages, gen_ai.output.messages): stored as sent when it
 * is, converted when an emitter put another shape there.
 */
export function messages(direction: Direction) {
  return (v: V, parsed: unknown): Resolved | null => {
    if (!v) return null;
    const isString = anyValueCase(v) === 'stringValue';
    const value = isString ? (parsed ?? parseContent(v.stringValue as string)) : toJs(v);
    if (value === undefined) return null;
    if (isOneShape(value)) return { value, json: isString ? storedJson(v.stringValue as string, value) : null };
    const converted = toMessages(value, direction);
    return converted === null ? null : { value: converted, json: null };
  };
}

/** Messages in any other shape (a JSON string or structured value, or plain text). */
export function anyMessages(direction: Direction) {
  return (v: V, parsed?: unknown): Resolved | null => {
    const converted = toMessages(structured(v, parsed), direction);
    return converted === null ? null : { value: converted, json: null };
  };
}

/** System instructions: a list of parts (JSON or structured), or a plain string. */
export function systemParts(v: V, parsed: unknown): Resolved | null {
  const parts = toSystemParts(structured(v, parsed));
  return parts === null ? null : { value: parts, json: null };
}

/**
 * A tool call's arguments or result: the JSON a string holds (kept as its
 * text, as the attribute stores it), else the string itself.
 */
export function toolValue(v: V, parsed?: unknown): Resolved | null {
  if (!v) return null;
  if (anyValueCase(v) === 'stringValue') {
    const s = v.stringValue as string;
    if (s === '') return null;
    const value = parsed ?? jsonish(s);
    return { value, json: value === s ? null : storedJson(s, value), text: s };
  }
  const value = toJs(v);
  return value === null ? null : { value, json: null };
}
