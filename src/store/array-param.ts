/**
 * Array parameters of the write statements (`unnest($1::text[], …)`, `= ANY ($1::text[])`).
 *
 * node-postgres sends an array as a text literal: every element quoted and
 * escaped, then joined into one string. For the run merge of a write of
 * a few thousand spans, that built tens of megabytes of short-lived strings
 * per second, a sixth of everything the receiver allocated. So the
 * PostgreSQL driver sends these arrays in binary instead (PostgreSQL's
 * array_send format, which array_recv reads: PostgreSQL source,
 * src/backend/utils/adt/arrayfuncs.c), written straight into a buffer. PGlite
 * takes them as plain arrays.
 */
import { CopyWriter } from '../common/copy-binary.ts';

/** Element types sent in binary, with their type OIDs (pg_type.dat), which array_recv checks. */
const OIDS = { text: 25, int8: 20, int4: 23, int2: 21, bool: 16, float8: 701 } as const;
export type ElementType = keyof typeof OIDS;

/** What each element type is given as (int8: a bigint, or a number rounded to an integer). */
interface Elements {
  text: string;
  int8: bigint | number;
  int4: number;
  int2: number;
  bool: boolean;
  float8: number;
}

/** An array parameter and the type of its elements. */
export class ArrayParam<T extends ElementType = ElementType> {
  readonly type: T;
  readonly values: ReadonlyArray<Elements[T] | null>;
  constructor(type: T, values: ReadonlyArray<Elements[T] | null>) {
    this.type = type;
    this.values = values;
  }

  /** As node-postgres and PGlite take an array (int8s as their decimal text). */
  plain(): Array<string | number | boolean | null> {
    if (this.type !== 'int8') return this.values as Array<string | number | boolean | null>;
    return this.values.map((v) => (v === null ? null : typeof v === 'bigint' ? v.toString() : Math.round(v as number).toString()));
  }

  /** PostgreSQL's binary array format: dimensions, a has-nulls flag, the element type, then each element as a length and its bytes. */
  binary(): Buffer {
    const w = new CopyWriter(Math.min(64 * 1024, 64 + this.values.length * 16));
    const n = this.values.length;
    // Header words, each written as a 4-byte field body: int4() writes a length prefix too, so write them raw.
    const header = Buffer.alloc(n === 0 ? 12 : 20);
    header.writeInt32BE(n === 0 ? 0 : 1, 0);
    header.writeInt32BE(this.values.includes(null) ? 1 : 0, 4);
    header.writeInt32BE(OIDS[this.type], 8);
    if (n > 0) {
      header.writeInt32BE(n, 12);
      header.writeInt32BE(1, 16); // lower bound
    }
    w.field(header);
    for (const v of this.values) {
      if (v === null) w.null();
      else if (this.type === 'text') w.text(v as string);
      else if (this.type === 'int8') w.int8(typeof v === 'number' ? Math.round(v) : (v as bigint));
      else if (this.type === 'int4') w.int4(v as number);
      else if (this.type === 'int2') w.int2(v as number);
      else if (this.type === 'float8') w.float8(v as number);
      else w.bool(v as boolean);
    }
    const { chunks, bytes } = w.finish();
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes);
  }
}

/** A statement's parameters as a driver that takes arrays in binary sends them. */
export const binaryParams = (params: readonly unknown[] | undefined): unknown[] | undefined =>
  params?.map((p) => (p instanceof ArrayParam ? p.binary() : p));

/** A statement's parameters as a driver that takes plain arrays sends them. */
export const plainParams = (params: readonly unknown[] | undefined): unknown[] | undefined =>
  params?.map((p) => (p instanceof ArrayParam ? p.plain() : p));
