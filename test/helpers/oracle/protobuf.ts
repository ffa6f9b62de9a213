/**
 * A table-driven proto3 binary decoder (the tables: otlp-messages.ts), with
 * the parsing rules of the protobuf encoding guide
 * (https://protobuf.dev/programming-guides/encoding/):
 * - unknown fields are skipped, and so is a known field sent with another
 *   wire type (as the reference parsers do);
 * - a non-repeated scalar field seen twice keeps the last value; a
 *   non-repeated message field seen twice is merged ("Last One Wins" and
 *   the merge rule for embedded messages);
 * - a repeated numeric field is read packed or unpacked, whichever it is;
 * - members of a oneof replace each other: the last one on the wire is the
 *   one set (a message member seen again while set is merged), unless the
 *   table marks them keptOnWire (AnyValue: see otlp-messages.ts);
 * - strings are UTF-8; invalid sequences become U+FFFD, as Verdict documents
 *   (docs/schema.md: "Invalid UTF-8 on the wire is stored with U+FFFD in its
 *   place"; docs/design.md: one bad byte does not cost a whole batch), with
 *   the WHATWG decoder's replacement rule;
 * - nesting is bounded: the request is level 1, and a body whose messages
 *   (or groups) nest deeper than 4096 levels is refused
 *   (docs/operations.md, "Limits").
 */
import { empty, type Decoded, type Field, type Message, type Scalar } from './schema.ts';
import { Wire, WireError, WT } from './wire.ts';

export const PROTOBUF_MAX_LEVELS = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The wire type a scalar is written with. */
const WIRE_OF: Record<Scalar, number> = {
  string: WT.LEN, bytes: WT.LEN, bool: WT.VARINT, int32: WT.VARINT, uint32: WT.VARINT, int64: WT.VARINT, uint64: WT.VARINT,
  fixed32: WT.I32, fixed64: WT.I64, double: WT.I64,
};

function readScalar(w: Wire, s: Scalar): unknown {
  switch (s) {
    case 'string': return utf8.decode(w.bytes());
    case 'bytes': return w.bytes();
    case 'bool': return w.bool();
    case 'int32': return w.uint32() | 0;
    case 'uint32': return w.uint32();
    case 'int64': return BigInt.asIntN(64, w.uint64());
    case 'uint64': return w.uint64();
    case 'fixed32': return w.fixed32();
    case 'fixed64': return w.fixed64();
    case 'double': return w.double();
  }
}

/** A message being read: its table, its decoded object, and where its bytes end. */
interface Open {
  m: Message;
  into: Decoded;
  end: number;
}

/**
 * Decodes `bytes` as message `m`; throws WireError when they are not one.
 * Iterative (a stack of open messages), so nesting up to the limit cannot
 * overflow the JavaScript stack.
 */
export function decodeProtobuf(bytes: Uint8Array, m: Message, maxLevels = PROTOBUF_MAX_LEVELS): Decoded {
  const w = new Wire(bytes);
  const root = empty(m);
  const open: Open[] = [{ m, into: root, end: bytes.length }];
  while (open.length > 0) {
    const top = open[open.length - 1] as Open;
    if (w.pos >= top.end) {
      open.pop();
      w.end = open.length > 0 ? (open[open.length - 1] as Open).end : bytes.length;
      continue;
    }
    const { field, wireType } = w.tag();
    const f = top.m.byNo.get(field);
    const level = open.length;
    if (f && f.type.kind === 'message' && wireType === WT.LEN) {
      const n = w.length();
      if (level + 1 > maxLevels) throw new WireError(`messages nest deeper than ${maxLevels} levels`);
      const sub = f.type.of();
      let target: Decoded;
      if (f.repeated) (top.into[f.key] as Decoded[]).push((target = empty(sub)));
      else if (f.oneof && !f.keptOnWire) target = setOneof(top.into, f, (current: Decoded | undefined) => current ?? empty(sub));
      else target = top.into[f.key] ?? (top.into[f.key] = empty(sub));
      w.end = w.pos + n;
      open.push({ m: sub, into: target, end: w.end });
    } else if (!f || !readScalarField(w, f, wireType, top.into)) {
      w.skip(field, wireType, level, maxLevels);
    }
  }
  return root;
}

/** Reads one occurrence of a known non-message field; false if the wire type is not one it can have (then it is skipped as unknown). */
function readScalarField(w: Wire, f: Field, wireType: number, into: Decoded): boolean {
  const t = f.type;
  if (t.kind === 'message') return false;
  const s: Scalar = t.kind === 'scalar' ? t.scalar : t.kind === 'enum' ? 'int32' : 'bytes';
  const expected = WIRE_OF[s];
  if (f.repeated && wireType === WT.LEN && expected !== WT.LEN) {
    // Packed: one LEN field holding the values back to back.
    const n = w.length();
    const outerEnd = w.end;
    w.end = w.pos + n;
    while (w.pos < w.end) (into[f.key] as unknown[]).push(readScalar(w, s));
    w.end = outerEnd;
    return true;
  }
  if (wireType !== expected) return false;
  const v = readScalar(w, s);
  if (f.repeated) (into[f.key] as unknown[]).push(v);
  else if (f.oneof && !f.keptOnWire) setOneof(into, f, () => v);
  else into[f.key] = v;
  return true;
}

/** Sets a oneof member, clearing the others; `make` gets the member's current value if it is the one set. */
function setOneof<T>(into: Decoded, f: Field, make: (current: T | undefined) => T): T {
  const slot = `\u0000oneof:${f.oneof}`;
  const current: string | undefined = into[slot];
  const keep = current === f.key ? (into[f.key] as T) : undefined;
  if (current !== undefined && current !== f.key) delete into[current];
  const v = make(keep);
  into[f.key] = v;
  Object.defineProperty(into, slot, { value: f.key, enumerable: false, configurable: true, writable: true });
  return v;
}
