/**
 * A table-driven OTLP/JSON decoder (the tables: otlp-messages.ts), to the
 * same decoded form as protobuf.ts. JSON.parse is only the tokenizer; the
 * mapping is the proto3 JSON mapping (https://protobuf.dev/programming-guides/json/)
 * with the deviations of the OTLP specification ("JSON Protobuf Encoding"):
 * - trace and span IDs are hex, in either case, not base64;
 * - enums are integers; 64-bit integers are decimal strings or numbers;
 * - unknown fields are ignored; null is the field's default;
 * - a value of the wrong JSON type, an integer out of its range or not an
 *   integer, a number too large for a double, a oneof with two members set
 *   (proto3 JSON conformance, "OneofFieldDuplicate"), or invalid base64
 *   makes the body undecodable.
 * Plus the leniencies Verdict documents (src/otlp/json.ts, as the reference
 * Collector does): snake_case field names, enum names, and base64 IDs whose
 * length rules hex out. A leniency never changes how a body the
 * specification already reads is read: when a field's lowerCamelCase name
 * is present (even as null) its .proto name is an unknown field, ignored;
 * only in its absence is the .proto name read. An ID that is neither hex nor
 * base64 of its size is kept as an InvalidId: the item is rejected, not the
 * request. Bodies nesting arrays and objects deeper than 4096 levels are
 * refused (docs/operations.md, "Limits"). The mapping is iterative, so any
 * depth within that limit decodes.
 */
import { empty, InvalidId, type Decoded, type Field, type Message } from './schema.ts';

export const JSON_MAX_LEVELS = 4096;

export class JsonMappingError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Decodes an OTLP/JSON body as message `m`; throws JsonMappingError (or SyntaxError) when it is not one. */
export function decodeJson(body: Uint8Array | string, m: Message, maxLevels = JSON_MAX_LEVELS): Decoded {
  // RFC 8259 §8.1: JSON is UTF-8; the receiver stores invalid sequences with U+FFFD (docs/schema.md), as this decoder reads them.
  const text = typeof body === 'string' ? body : utf8.decode(body);
  const root: unknown = JSON.parse(text);
  if (levels(root, maxLevels) > maxLevels) throw new JsonMappingError(`nests deeper than ${maxLevels} levels`);
  if (!isObj(root)) throw new JsonMappingError('the body is not a JSON object');
  return readMessage(root, m, '');
}

/** Nesting depth of arrays and objects (a scalar is 0), counted without recursion, stopping past `max`. */
function levels(root: unknown, max: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (d > deepest) deepest = d;
    if (deepest > max) return deepest;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (typeof x === 'object' && x !== null) stack.push([x, d + 1]);
  }
  return deepest;
}

const fail = (path: string, what: string, v: unknown): never => {
  throw new JsonMappingError(`${path}: expected ${what}, got ${JSON.stringify(v)?.slice(0, 60)}`);
};

/** The value of field `f` in `o`: under its lowerCamelCase name if that is present, else under its .proto name. */
const valueOf = (o: Obj, f: Field): unknown => (Object.hasOwn(o, f.key) ? o[f.key] : o[f.name]);

/** A JSON object still to be read as message `m` into `out`. */
interface Pending {
  o: Obj;
  m: Message;
  out: Decoded;
  path: string;
}

/** Reads `root` as message `m`: scalars at once, nested messages from a work list rather than by recursion. */
function readMessage(root: Obj, m: Message, path: string): Decoded {
  const top = empty(m);
  const pending: Pending[] = [{ o: root, m, out: top, path }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) readFields(next, pending);
  return top;
}

function readFields({ o, m, out, path }: Pending, pending: Pending[]): void {
  let member: string | undefined;
  for (const f of m.fields) {
    const v = valueOf(o, f);
    if (v === null || v === undefined) continue;
    const p = path ? `${path}.${f.key}` : f.key;
    if (f.oneof) {
      if (member !== undefined) throw new JsonMappingError(`${path}: oneof ${f.oneof} has two members set, ${member} and ${f.key}`);
      member = f.key;
    }
    if (f.repeated) {
      if (!Array.isArray(v)) fail(p, 'an array', v);
      out[f.key] = (v as unknown[]).map((x, i) => readValue(x, f, `${p}[${i}]`, pending));
    } else {
      out[f.key] = readValue(v, f, p, pending);
    }
  }
}

const DEC = /^\d+$/;
const SIGNED_DEC = /^-?\d+$/;
/** A JSON number literal (RFC 8259 §6), for doubles sent as strings. */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function integer(v: unknown, path: string, min: bigint, max: bigint, what: string): bigint {
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && (min < 0n ? SIGNED_DEC : DEC).test(v)) n = BigInt(v);
  if (n === undefined || n < min || n > max) return fail(path, what, v);
  return n;
}

/** One value of field `f`; a message comes back empty, its fields queued on `pending`. */
function readValue(v: unknown, f: Field, path: string, pending: Pending[]): unknown {
  // Elements of a repeated field are never null (proto3 JSON); a singular null was skipped by the caller.
  if (v === null) return fail(path, 'a value, not null', v);
  const t = f.type;
  switch (t.kind) {
    case 'message': {
      if (!isObj(v)) return fail(path, 'an object', v);
      const m = t.of();
      const out = empty(m);
      pending.push({ o: v, m, out, path });
      return out;
    }
    case 'id':
      if (typeof v !== 'string') return fail(path, 'a hex string', v);
      return id(v, t.size);
    case 'enum':
      if (typeof v === 'string') return Object.hasOwn(t.names, v) ? t.names[v] : fail(path, 'an enum number or name', v);
      return Number(integer(v, path, -(2n ** 31n), 2n ** 31n - 1n, 'an enum number or name'));
    default:
  }
  switch (t.scalar) {
    case 'string':
      return typeof v === 'string' ? v : fail(path, 'a string', v);
    case 'bool':
      return typeof v === 'boolean' ? v : fail(path, 'true or false', v);
    case 'bytes': {
      const b = typeof v === 'string' ? base64(v) : null;
      return b ?? fail(path, 'base64', v);
    }
    case 'int32': return Number(integer(v, path, -(2n ** 31n), 2n ** 31n - 1n, 'a 32-bit integer'));
    case 'uint32': case 'fixed32': return Number(integer(v, path, 0n, 2n ** 32n - 1n, 'an unsigned 32-bit integer'));
    case 'int64': return integer(v, path, -(2n ** 63n), 2n ** 63n - 1n, 'a 64-bit integer');
    case 'uint64': case 'fixed64': return integer(v, path, 0n, 2n ** 64n - 1n, 'an unsigned 64-bit integer');
    case 'double':
      // JSON has no infinite numbers: JSON.parse gives Infinity only for a literal too large for a double, which proto3 JSON refuses.
      if (typeof v === 'number') return Number.isFinite(v) ? v : fail(path, 'a number within the range of a double', v);
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      if (typeof v === 'string' && NUMBER.test(v) && Number.isFinite(Number(v))) return Number(v);
      return fail(path, 'a number, or "NaN", "Infinity", "-Infinity"', v);
  }
}

const B64 = /^[A-Za-z0-9+/_-]*$/;

/** Standard or URL-safe base64, padded or not (proto3 JSON accepts both); null if it is not base64. */
export function base64(s: string): Uint8Array | null {
  const body = s.replace(/={1,2}$/, '');
  const padded = body.length !== s.length;
  if (!B64.test(body) || body.length % 4 === 1 || (padded && s.length % 4 !== 0)) return null;
  return Buffer.from(body.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
}

const HEX = /^[0-9a-fA-F]*$/;

/**
 * An ID: absent if empty; hex (either case) of exactly its size; else base64
 * decoding to exactly its size (which no hex of that size can be); else an
 * InvalidId.
 */
function id(s: string, size: number): Uint8Array | InvalidId {
  if (s === '') return new Uint8Array(0);
  if (s.length === size * 2 && HEX.test(s)) return Buffer.from(s, 'hex');
  const b = base64(s);
  return b !== null && b.length === size ? b : new InvalidId(s);
}
