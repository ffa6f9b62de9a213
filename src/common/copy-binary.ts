/**
 * PostgreSQL binary COPY encoding (PostgreSQL docs, "COPY", Binary Format):
 * a header, then per row an int16 field count and per field an int32 length
 * (-1 for NULL) and the value in the type's binary send format, then an
 * int16 -1 trailer.
 *
 * The span normaliser writes rows straight into this buffer, JSON documents
 * included, so no intermediate row objects or JSON strings are built on the
 * hot path. Binary also spares the escaping scan text COPY needs. It lives
 * below both the normaliser and the store, which share it.
 */
import { clean } from './text.ts';

const HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, // "PGCOPY\n\377\r\n\0"
  0, 0, 0, 0, // flags: no OIDs
  0, 0, 0, 0, // header extension length
]);
const TRAILER = Buffer.from([0xff, 0xff]);

/** Microseconds between the Unix epoch and the PostgreSQL epoch (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000;
const TWO_32 = 4294967296;

/** Characters a JSON string literal must escape (RFC 8259 §7). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

interface Utf8Buffer extends Buffer {
  // Node's unchecked UTF-8 writer (Buffer.prototype.utf8Write): `write(s, pos, 'utf8')` without argument parsing.
  utf8Write(s: string, offset: number): number;
  latin1Write(s: string, offset: number): number;
}

/** COPY binary tuples, ready to be framed by `copyStream`. */
export interface EncodedRows {
  rows: number;
  chunks: Buffer[];
  bytes: number;
}

/** A point to roll back to when a row turns out to be unstorable half-way. */
export interface Mark {
  chunks: number;
  buf: Utf8Buffer;
  pos: number;
  flushed: number;
  rows: number;
}

/** Where a jsonb (or any length-prefixed) field started, for back-patching its length. */
export interface Open {
  buf: Utf8Buffer;
  pos: number;
  start: number;
}

export class CopyWriter {
  readonly #chunkSize: number;
  #chunks: Buffer[] = [];
  #buf: Utf8Buffer;
  #pos = 0;
  /** Bytes in chunks already pushed. */
  #flushed = 0;
  #rows = 0;

  constructor(chunkSize = 64 * 1024) {
    this.#chunkSize = chunkSize;
    this.#buf = Buffer.allocUnsafe(chunkSize) as Utf8Buffer;
  }

  get rows(): number {
    return this.#rows;
  }

  get bytes(): number {
    return this.#flushed + this.#pos;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    if (this.#pos > 0) {
      this.#chunks.push(this.#buf.subarray(0, this.#pos));
      this.#flushed += this.#pos;
    }
    this.#buf = Buffer.allocUnsafe(Math.max(this.#chunkSize, n)) as Utf8Buffer;
    this.#pos = 0;
  }

  mark(): Mark {
    return { chunks: this.#chunks.length, buf: this.#buf, pos: this.#pos, flushed: this.#flushed, rows: this.#rows };
  }

  rollback(m: Mark): void {
    this.#chunks.length = m.chunks;
    this.#buf = m.buf;
    this.#pos = m.pos;
    this.#flushed = m.flushed;
    this.#rows = m.rows;
  }

  row(fields: number): void {
    this.#ensure(2);
    this.#buf.writeInt16BE(fields, this.#pos);
    this.#pos += 2;
    this.#rows++;
  }

  null(): void {
    this.#ensure(4);
    this.#buf.writeInt32BE(-1, this.#pos);
    this.#pos += 4;
  }

  text(s: string | null): void {
    if (s === null) return this.null();
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    this.#ensure(4 + s.length * 3);
    const n = this.#buf.utf8Write(s, this.#pos + 4);
    this.#buf.writeInt32BE(n, this.#pos);
    this.#pos += 4 + n;
  }

  /** A text field known to be ASCII (hex IDs, enum names). */
  ascii(s: string): void {
    this.#ensure(4 + s.length);
    const n = this.#buf.latin1Write(s, this.#pos + 4);
    this.#buf.writeInt32BE(n, this.#pos);
    this.#pos += 4 + n;
  }

  int4(n: number): void {
    this.#ensure(8);
    this.#buf.writeInt32BE(4, this.#pos);
    this.#buf.writeInt32BE(n | 0, this.#pos + 4);
    this.#pos += 8;
  }

  /** int8 from a safe integer or a bigint. */
  int8(v: number | bigint | null): void {
    if (v === null) return this.null();
    this.#ensure(12);
    this.#buf.writeInt32BE(8, this.#pos);
    if (typeof v === 'bigint') this.#buf.writeBigInt64BE(v, this.#pos + 4);
    else {
      const high = Math.floor(v / TWO_32);
      this.#buf.writeInt32BE(high, this.#pos + 4);
      this.#buf.writeUInt32BE(v - high * TWO_32, this.#pos + 8);
    }
    this.#pos += 12;
  }

  /** int8 from its two 32-bit halves (a uint64 below 2^63, as protobuf's fixed64 arrives). */
  int8Parts(high: number, low: number): void {
    this.#ensure(12);
    this.#buf.writeInt32BE(8, this.#pos);
    this.#buf.writeUInt32BE(high, this.#pos + 4);
    this.#buf.writeUInt32BE(low, this.#pos + 8);
    this.#pos += 12;
  }

  float8(v: number | null): void {
    if (v === null) return this.null();
    this.#ensure(12);
    this.#buf.writeInt32BE(8, this.#pos);
    this.#buf.writeDoubleBE(v, this.#pos + 4);
    this.#pos += 12;
  }

  /** timestamptz from Unix microseconds (binary format: microseconds since 2000-01-01 UTC). */
  timestampMicros(us: number): void {
    this.int8(us - PG_EPOCH_US);
  }

  /** timestamptz from Unix nanoseconds. */
  timestampNanos(ns: bigint): void {
    this.int8(ns / 1000n - BigInt(PG_EPOCH_US));
  }

  /** Copies fields encoded elsewhere (length prefixes included). */
  field(encoded: Buffer): void {
    this.#ensure(encoded.length);
    this.#buf.set(encoded, this.#pos);
    this.#pos += encoded.length;
  }

  /** Starts a jsonb field: a length placeholder and the format version byte (1). */
  jsonbOpen(): Open {
    this.#ensure(5);
    const open = { buf: this.#buf, pos: this.#pos, start: this.bytes };
    this.#buf[this.#pos + 4] = 1;
    this.#pos += 5;
    return open;
  }

  /** Ends a field started with jsonbOpen by writing its length. */
  close(open: Open): void {
    open.buf.writeInt32BE(this.bytes - open.start - 4, open.pos);
  }

  /** A whole jsonb field from JSON text. */
  jsonb(json: string | null): void {
    if (json === null) return this.null();
    const open = this.jsonbOpen();
    this.raw(json);
    this.close(open);
  }

  /** Raw UTF-8 inside an open field (JSON punctuation, numbers, pre-serialised JSON). */
  raw(s: string): void {
    this.#ensure(s.length * 3);
    this.#pos += this.#buf.utf8Write(s, this.#pos);
  }

  /** One byte inside an open field. */
  byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
  }

  /**
   * A JSON string literal inside an open field. Strings that need no escaping
   * (nearly all) are copied as they are; the others go through JSON.stringify
   * after `clean` (no U+0000, no lone surrogates: jsonb refuses both).
   */
  jsonString(s: string): void {
    if (NEEDS_ESCAPE.test(s) || !s.isWellFormed()) {
      this.raw(JSON.stringify(clean(s)));
      return;
    }
    this.#ensure(s.length * 3 + 2);
    const buf = this.#buf;
    buf[this.#pos] = 34; // "
    const n = buf.utf8Write(s, this.#pos + 1);
    buf[this.#pos + 1 + n] = 34;
    this.#pos += n + 2;
  }

  /** The tuples written so far; the writer must not be used afterwards. */
  finish(): EncodedRows {
    if (this.#pos > 0) {
      this.#chunks.push(this.#buf.subarray(0, this.#pos));
      this.#flushed += this.#pos;
    }
    this.#pos = 0;
    this.#buf = Buffer.alloc(0) as Utf8Buffer;
    return { rows: this.#rows, chunks: this.#chunks, bytes: this.#flushed };
  }
}

/** Frames the tuples of one or more writers as a complete COPY stream. */
export function copyStream(parts: readonly EncodedRows[]): Buffer[] {
  const out: Buffer[] = [HEADER];
  for (const p of parts) for (const c of p.chunks) out.push(c);
  out.push(TRAILER);
  return out;
}
