/**
 * PostgreSQL binary COPY encoding (PostgreSQL docs, "COPY", Binary Format):
 * a header, then per row an int16 field count and per field an int32 length
 * (-1 for NULL) and the value in the type's binary send format, then an
 * int16 -1 trailer. Binary avoids the escaping scan that text COPY needs over
 * every JSON document, which is most of the bytes.
 */

const HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, // "PGCOPY\n\377\r\n\0"
  0, 0, 0, 0, // flags: no OIDs
  0, 0, 0, 0, // header extension length
]);
const TRAILER = Buffer.from([0xff, 0xff]);

const CHUNK = 256 * 1024;
/** Microseconds between the Unix epoch and the PostgreSQL epoch (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

/** Writes COPY binary rows into a list of buffers. */
export class CopyWriter {
  readonly chunks: Buffer[] = [HEADER];
  #buf = Buffer.allocUnsafe(CHUNK);
  #pos = 0;

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    if (this.#pos > 0) this.chunks.push(this.#buf.subarray(0, this.#pos));
    this.#buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.#pos = 0;
  }

  row(fields: number): void {
    this.#ensure(2);
    this.#buf.writeInt16BE(fields, this.#pos);
    this.#pos += 2;
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
    const n = this.#buf.write(s, this.#pos + 4, 'utf8');
    this.#buf.writeInt32BE(n, this.#pos);
    this.#pos += 4 + n;
  }

  /** jsonb binary format: a version byte (1) and the JSON text. */
  jsonb(s: string | null): void {
    if (s === null) return this.null();
    this.#ensure(5 + s.length * 3);
    const n = this.#buf.write(s, this.#pos + 5, 'utf8');
    this.#buf.writeInt32BE(n + 1, this.#pos);
    this.#buf[this.#pos + 4] = 1;
    this.#pos += 5 + n;
  }

  int4(n: number): void {
    this.#ensure(8);
    this.#buf.writeInt32BE(4, this.#pos);
    this.#buf.writeInt32BE(n | 0, this.#pos + 4);
    this.#pos += 8;
  }

  int8(v: bigint | number | null): void {
    if (v === null) return this.null();
    this.#ensure(12);
    this.#buf.writeInt32BE(8, this.#pos);
    if (typeof v === 'bigint') {
      this.#buf.writeBigInt64BE(v, this.#pos + 4);
    } else {
      // Safe integers without a BigInt: high word by floor division, low word unsigned.
      const high = Math.floor(v / 4294967296);
      this.#buf.writeInt32BE(high, this.#pos + 4);
      this.#buf.writeUInt32BE(v - high * 4294967296, this.#pos + 8);
    }
    this.#pos += 12;
  }

  float8(v: number | null): void {
    if (v === null) return this.null();
    this.#ensure(12);
    this.#buf.writeInt32BE(8, this.#pos);
    this.#buf.writeDoubleBE(v, this.#pos + 4);
    this.#pos += 12;
  }

  /** timestamptz binary format: microseconds since 2000-01-01 UTC, from Unix nanoseconds. */
  timestampFromNanos(ns: bigint): void {
    this.#ensure(12);
    this.#buf.writeInt32BE(8, this.#pos);
    this.#buf.writeBigInt64BE(ns / 1000n - PG_EPOCH_US, this.#pos + 4);
    this.#pos += 12;
  }

  /** The complete COPY stream: header, rows, trailer. */
  finish(): Buffer[] {
    if (this.#pos > 0) this.chunks.push(this.#buf.subarray(0, this.#pos));
    this.#pos = 0;
    this.#buf = Buffer.alloc(0);
    this.chunks.push(TRAILER);
    return this.chunks;
  }
}
