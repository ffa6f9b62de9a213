/** How the convention tables read attribute values into columns. */
import { anyValueCase, type AnyValue } from '../../otlp/types.ts';
import { int64Number, scalarOf, toBigInt, toJs } from '../anyvalue.ts';
import { parseContent, type WrittenContent } from '../content.ts';
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

/** The JS value of an attribute that may hold JSON objects or arrays as a string (a plain string stays a string). */
export function structured(v: V, parsed?: unknown): unknown {
  if (parsed !== undefined) return parsed;
  if (!v) return undefined;
  // JSON past the limits is neither messages nor a message's text: nothing is read from it.
  if (anyValueCase(v) === 'stringValue') return jsonish(v.stringValue as string, 'nothing');
  return toJs(v);
}

/**
 * Messages in an attribute that is meant to hold the one shape
 * (gen_ai.input.messages, gen_ai.output.messages): stored as sent (the
 * bytes already written for the attribute) when it is, converted when an
 * emitter put another shape there.
 */
export function messages(direction: Direction) {
  return (v: V, written: WrittenContent | undefined): Resolved | null => {
    if (!v) return null;
    const value = written?.parsed ?? (anyValueCase(v) === 'stringValue' ? parseContent(v.stringValue as string) : toJs(v));
    if (value === undefined) return null;
    if (isOneShape(value)) return { value, bytes: written?.bytes, clean: written?.parsed !== undefined };
    const converted = toMessages(value, direction);
    return converted === null ? null : { value: converted };
  };
}

/** Messages in any other shape (a JSON string or structured value, or plain text). */
export function anyMessages(direction: Direction) {
  return (v: V, written?: WrittenContent): Resolved | null => {
    const converted = toMessages(structured(v, written?.parsed), direction);
    return converted === null ? null : { value: converted };
  };
}

/** System instructions: a list of parts (JSON or structured), or a plain string. */
export function systemParts(v: V, written: WrittenContent | undefined): Resolved | null {
  const parts = toSystemParts(structured(v, written?.parsed));
  return parts === null ? null : { value: parts };
}

/** A tool call's arguments or result: the JSON a string holds, else the string itself. */
export function toolValue(v: V, written?: WrittenContent): Resolved | null {
  if (!v) return null;
  if (anyValueCase(v) === 'stringValue') {
    const s = v.stringValue as string;
    if (s === '') return null;
    return { value: written?.parsed ?? jsonish(s), bytes: written?.bytes };
  }
  const value = toJs(v);
  return value === null ? null : { value, bytes: written?.bytes };
}
