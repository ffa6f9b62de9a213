/**
 * Message content: GenAI content attributes (gen_ai.input.messages and the
 * others in CONTENT_ATTRIBUTES) may arrive as a JSON string (SDKs without
 * complex attribute support) or as a structured AnyValue; both are stored as
 * the same JSON, so SQL reads them alike.
 */
import { parseEmbeddedJson } from '../common/json-budget.ts';
import type { CopyWriter } from '../common/copy-binary.ts';
import { cleanDeep } from '../common/text.ts';
import { anyValueCase, type AnyValue } from '../otlp/types.ts';
import { MAX_DEPTH, writeAnyValue } from './anyvalue.ts';

/** The JSON value of a string holding an array or object, or undefined if it holds neither (or nests deeper than AnyValue may). */
export function parseContent(s: string): unknown {
  const first = s.charCodeAt(0) === 32 || s.charCodeAt(0) === 10 ? s.trimStart().charCodeAt(0) : s.charCodeAt(0);
  if (first !== 91 /* [ */ && first !== 123 /* { */) return undefined;
  // Scanned before it is parsed: a string of nested brackets must cost a column, not the event loop.
  const parsed = parseEmbeddedJson(s, undefined, undefined);
  return parsed !== undefined && shallowerThan(parsed, MAX_DEPTH) ? parsed : undefined;
}

/** Whether a JSON value nests less deeply than `depth` (jsonb's parser has a stack limit). */
export function shallowerThan(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (depth === 0) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!shallowerThan(x, depth - 1)) return false;
    return true;
  }
  for (const k in v) if (!shallowerThan((v as Record<string, unknown>)[k], depth - 1)) return false;
  return true;
}

/**
 * Writes a content attribute's value as JSON: a string holding JSON is
 * written as the JSON it holds; any other string stays a string. Returns the
 * parsed JSON of a string that held it (the conventions read it without
 * parsing again), else undefined. Its strings are as clean as text columns
 * need (no U+0000, no lone surrogates), as are the bytes written.
 */
export function writeContent(w: CopyWriter, v: AnyValue | null | undefined): unknown {
  if (!v || anyValueCase(v) !== 'stringValue') return writeAnyValue(w, v, 0);
  const s = v.stringValue as string;
  const parsed = parseContent(s);
  if (parsed === undefined) return w.jsonString(s);
  // The text is valid JSON; re-serialise only if it holds what jsonb refuses (\u escapes may be NUL or lone surrogates).
  if (s.includes('\\u') || !s.isWellFormed() || s.includes('\0')) {
    const cleaned = cleanDeep(parsed);
    w.raw(JSON.stringify(cleaned));
    return cleaned;
  }
  w.raw(s);
  return parsed;
}

/**
 * A content attribute as written into the span's attributes JSON: the JSON a
 * string held (undefined for other values), and the bytes just written
 * (undefined when they did not end up in one buffer), so that a column
 * holding the same JSON is copied rather than encoded again.
 */
export interface WrittenContent {
  parsed: unknown;
  bytes: Buffer | undefined;
}

export function writeContentKept(w: CopyWriter, v: AnyValue | null | undefined): WrittenContent {
  const before = w.bytes;
  const parsed = writeContent(w, v);
  const after = w.mark();
  // A string is written at once, into room made for all of it; a structured value piece by piece, and may
  // have crossed into a new buffer: then the buffer holds less than was written, and the bytes are not kept.
  const length = w.bytes - before;
  return { parsed, bytes: after.pos >= length ? after.buf.subarray(after.pos - length, after.pos) : undefined };
}
