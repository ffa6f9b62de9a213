/**
 * A pre-scan that bounds what JSON.parse would build, before it builds it.
 *
 * V8's JSON.parse is iterative: it does not overflow the stack on deep
 * nesting, it allocates. Thirty million `[` (58 KB gzipped) become thirty
 * million arrays, gigabytes and many seconds of a blocked event loop before
 * the parse fails. So every JSON the receiver reads is first scanned, byte by
 * byte and without allocating: nesting depth and a count of values (every
 * `{` and `[` opens one, every `,` outside a string separates two), stopping
 * at the first limit crossed. Malformed JSON is left to JSON.parse to report.
 */

export interface JsonLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most values (objects, arrays, members and elements) in the document. */
  maxNodes: number;
}

/** Which limit a JSON text crosses, or null if it stays within both. */
export type JsonExcess = { limit: 'depth'; max: number } | { limit: 'nodes'; max: number } | null;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether the quote at `q` is escaped (preceded by an odd number of backslashes). */
function escapedBytes(b: Uint8Array, q: number): boolean {
  let n = 0;
  while (q - 1 - n >= 0 && b[q - 1 - n] === BACKSLASH) n++;
  return n % 2 === 1;
}

function escapedText(s: string, q: number): boolean {
  let n = 0;
  while (q - 1 - n >= 0 && s.charCodeAt(q - 1 - n) === BACKSLASH) n++;
  return n % 2 === 1;
}

/** Scans UTF-8 bytes (multi-byte sequences never contain ASCII bytes, so a byte scan is exact). */
export function jsonExcessBytes(b: Uint8Array, limits: JsonLimits): JsonExcess {
  let depth = 0;
  let nodes = 1;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const c = b[i] as number;
    if (c === QUOTE) {
      // Skip the string: the next unescaped quote ends it (an unterminated string is JSON.parse's error to report).
      let q = b.indexOf(QUOTE, i + 1);
      while (q !== -1 && escapedBytes(b, q)) q = b.indexOf(QUOTE, q + 1);
      if (q === -1) return null;
      i = q;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) return { limit: 'depth', max: limits.maxDepth };
      if (++nodes > limits.maxNodes) return { limit: 'nodes', max: limits.maxNodes };
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c) {
      if (++nodes > limits.maxNodes) return { limit: 'nodes', max: limits.maxNodes };
    }
  }
  return null;
}

/** The same scan over a JavaScript string (an attribute value that holds JSON). */
export function jsonExcessText(s: string, limits: JsonLimits): JsonExcess {
  let depth = 0;
  let nodes = 1;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) {
      let q = s.indexOf('"', i + 1);
      while (q !== -1 && escapedText(s, q)) q = s.indexOf('"', q + 1);
      if (q === -1) return null;
      i = q;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) return { limit: 'depth', max: limits.maxDepth };
      if (++nodes > limits.maxNodes) return { limit: 'nodes', max: limits.maxNodes };
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c) {
      if (++nodes > limits.maxNodes) return { limit: 'nodes', max: limits.maxNodes };
    }
  }
  return null;
}

/** A sentence naming the limit crossed, for a 400 answer. */
export function describeExcess(e: NonNullable<JsonExcess>, what = 'request body'): string {
  return e.limit === 'depth'
    ? `${what} nests JSON arrays and objects deeper than ${e.max} levels (the JSON depth limit)`
    : `${what} holds more than ${e.max} JSON values (the JSON value limit); send smaller batches`;
}

/**
 * Limits for JSON found inside attribute values (message content and the
 * like): such a value that crosses them is kept as the string it is, not
 * parsed. Content nests a few levels; jsonb's parser refuses very deep input anyway.
 */
export const EMBEDDED_JSON_LIMITS: JsonLimits = { maxDepth: 256, maxNodes: 1_000_000 };

/** JSON.parse of an attribute's string; `fallback` when it is not JSON, `tooBig` when it crosses EMBEDDED_JSON_LIMITS. */
export function parseEmbeddedJson(s: string, fallback: unknown, tooBig: unknown): unknown {
  if (s.length >= EMBEDDED_JSON_LIMITS.maxDepth && jsonExcessText(s, EMBEDDED_JSON_LIMITS) !== null) return tooBig;
  try {
    return JSON.parse(s);
  } catch {
    return fallback;
  }
}
