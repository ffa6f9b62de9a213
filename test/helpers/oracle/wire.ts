/**
 * The protobuf wire format, read by hand for the fuzz oracle
 * (https://protobuf.dev/programming-guides/encoding/). Nothing here comes
 * from Verdict or protobufjs: the oracle must be able to disagree with them.
 *
 * Where implementations differ on malformed input, the rule is the one of
 * the reference implementation (C++, which Java and protobufjs 8 follow):
 * - a varint is at most 10 bytes; bits past the 64th are dropped;
 * - a tag is a varint of at most 5 bytes whose value fits in 32 bits, and
 *   field number 0 is invalid;
 * - a length is a varint of at most 5 bytes below 2^31, and what it covers
 *   must lie inside the enclosing message;
 * - wire types 6 and 7 are invalid, an end-group tag (4) outside a group is
 *   invalid, and a group (3) is skipped up to the end-group tag of the same
 *   field number, counting as a level of nesting.
 */

export class WireError extends Error {}

export const WT = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

const TWO32 = 2 ** 32;

export class Wire {
  readonly buf: Uint8Array;
  pos: number;
  /** End of the message being read. */
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  #fail(what: string): never {
    throw new WireError(`${what} at byte ${this.pos}`);
  }

  /** The bytes of one varint (at most 10), leaving pos after it. */
  #varintBytes(max: number): [number, number] {
    const start = this.pos;
    for (let i = 0; i < max; i++) {
      if (this.pos >= this.end) this.#fail('truncated varint');
      if ((this.buf[this.pos++] as number) < 0x80) return [start, this.pos];
    }
    this.#fail(`varint longer than ${max} bytes`);
  }

  /** A varint as an unsigned 64-bit integer. */
  uint64(): bigint {
    const [start, stop] = this.#varintBytes(10);
    let v = 0n;
    for (let i = stop - 1; i >= start; i--) v = (v << 7n) | BigInt((this.buf[i] as number) & 0x7f);
    return BigInt.asUintN(64, v);
  }

  /** A varint's low 32 bits, unsigned (uint32; int32 and enums are this, as signed). */
  uint32(): number {
    const [start, stop] = this.#varintBytes(10);
    let v = 0;
    for (let i = start; i < stop && i < start + 5; i++) v += ((this.buf[i] as number) & 0x7f) * 2 ** (7 * (i - start));
    return v % TWO32;
  }

  /** A bool: any bit set among the varint's low 64. */
  bool(): boolean {
    return this.uint64() !== 0n;
  }

  /** A tag: field number and wire type. */
  tag(): { field: number; wireType: number } {
    const [start, stop] = this.#varintBytes(5);
    let v = 0;
    for (let i = start; i < stop; i++) v += ((this.buf[i] as number) & 0x7f) * 2 ** (7 * (i - start));
    if (v >= TWO32) this.#fail('tag beyond 32 bits');
    const field = Math.floor(v / 8);
    if (field === 0) this.#fail('field number 0');
    return { field, wireType: v % 8 };
  }

  /** The length prefix of a LEN field, checked against the enclosing message. */
  length(): number {
    const [start, stop] = this.#varintBytes(5);
    let v = 0;
    for (let i = start; i < stop; i++) v += ((this.buf[i] as number) & 0x7f) * 2 ** (7 * (i - start));
    if (v >= 2 ** 31) this.#fail('length beyond 2^31');
    if (this.pos + v > this.end) this.#fail(`length ${v} past the end of the message`);
    return v;
  }

  /** A LEN field's content. */
  bytes(): Uint8Array {
    const n = this.length();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  #need(n: number): void {
    if (this.pos + n > this.end) this.#fail(`truncated ${n}-byte value`);
  }

  fixed32(): number {
    this.#need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16)) + (b[p + 3] as number) * 2 ** 24;
  }

  fixed64(): bigint {
    const lo = this.fixed32();
    const hi = this.fixed32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  double(): number {
    this.#need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /**
   * Skips the value of an unknown field (or of a known one sent with another
   * wire type, which parsers treat as unknown). `depth` is the nesting level
   * of the enclosing message; a group nests one deeper.
   */
  skip(field: number, wireType: number, depth: number, maxDepth: number): void {
    switch (wireType) {
      case WT.VARINT:
        this.#varintBytes(10);
        return;
      case WT.I64:
        this.#need(8);
        this.pos += 8;
        return;
      case WT.LEN: {
        const n = this.length();
        this.pos += n;
        return;
      }
      case WT.I32:
        this.#need(4);
        this.pos += 4;
        return;
      case WT.SGROUP: {
        // Without recursion: the open groups' field numbers, innermost last.
        const open = [field];
        if (depth + 1 > maxDepth) this.#fail(`nesting deeper than ${maxDepth} levels`);
        while (open.length > 0) {
          const inner = open[open.length - 1] as number;
          if (this.pos >= this.end) this.#fail(`group ${inner} without its end`);
          const t = this.tag();
          if (t.wireType === WT.EGROUP) {
            if (t.field !== inner) this.#fail(`group ${inner} ended by the end tag of ${t.field}`);
            open.pop();
          } else if (t.wireType === WT.SGROUP) {
            open.push(t.field);
            if (depth + open.length > maxDepth) this.#fail(`nesting deeper than ${maxDepth} levels`);
          } else {
            this.skip(t.field, t.wireType, depth, maxDepth);
          }
        }
        return;
      }
      case WT.EGROUP:
        return this.#fail(`end-group tag of field ${field} outside a group`);
      default:
        return this.#fail(`invalid wire type ${wireType}`);
    }
  }
}
