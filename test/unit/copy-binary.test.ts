/**
 * The binary COPY encoder, byte for byte, against bytes built here from the
 * PostgreSQL documentation ("COPY", Binary Format; and each type's send
 * function): a field is an int32 length (-1 for NULL) and the value; int2,
 * int4 and int8 are big-endian two's complement; float8 is IEEE 754 binary64,
 * big-endian; text is UTF-8; timestamptz is an int8 of microseconds since
 * 2000-01-01 00:00 UTC; jsonb is a version byte (1) and the JSON text. The
 * expected bytes are computed with BigInt arithmetic, DataView and
 * TextEncoder, never with the Buffer writers the encoder uses.
 */
import { describe, expect, it } from 'vitest';
import { copyStream, CopyWriter } from '../../src/common/copy-binary.ts';

// ---- the independent builder ---------------------------------------------

type Bytes = number[];

/** `v` as big-endian two's complement in `size` bytes. */
function be(v: bigint | number, size: number): Bytes {
  const u = BigInt.asUintN(size * 8, BigInt(v));
  const out: Bytes = [];
  for (let i = size - 1; i >= 0; i--) out.push(Number((u >> BigInt(8 * i)) & 0xffn));
  return out;
}

const utf8 = (s: string): Bytes => [...new TextEncoder().encode(s)];
/** A field: its length as int32, then its bytes. */
const field = (payload: Bytes): Bytes => [...be(payload.length, 4), ...payload];
const NULL: Bytes = be(-1, 4);
/** The quiet NaN every JavaScript engine writes (sign 0, exponent all ones, top mantissa bit set). */
const NAN: Bytes = [0x7f, 0xf8, 0, 0, 0, 0, 0, 0];
/** 2000-01-01T00:00:00Z in Unix microseconds, from the calendar rather than from a constant. */
const PG_EPOCH_US = BigInt(Date.UTC(2000, 0, 1)) * 1000n;

function float8Bytes(x: number): Bytes {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, false); // false: big-endian
  return [...new Uint8Array(view.buffer)];
}

const pg = {
  row: (fields: number): Bytes => be(fields, 2),
  text: (s: string | null): Bytes => (s === null ? NULL : field(utf8(s))),
  int4: (n: number): Bytes => field(be(n, 4)),
  int8: (v: number | bigint | null): Bytes => (v === null ? NULL : field(be(v, 8))),
  float8: (x: number | null): Bytes => (x === null ? NULL : field(float8Bytes(x))),
  timestamptz: (unixMicros: bigint): Bytes => field(be(unixMicros - PG_EPOCH_US, 8)),
  jsonb: (json: string | null): Bytes => (json === null ? NULL : field([1, ...utf8(json)])),
  /** "PGCOPY\n\377\r\n\0", flags (no OIDs), header extension length. */
  header: (): Bytes => [...utf8('PGCOPY\n'), 0xff, 0x0d, 0x0a, 0x00, ...be(0, 4), ...be(0, 4)],
  trailer: (): Bytes => be(-1, 2),
};

/** What a writer produced, as one byte array. */
function written(write: (w: CopyWriter) => void, chunkSize?: number): Bytes {
  const w = new CopyWriter(chunkSize);
  write(w);
  const { chunks, bytes } = w.finish();
  const all = Buffer.concat(chunks);
  expect(all.length).toBe(bytes);
  return [...all];
}

// ---- the tests ------------------------------------------------------------

describe('CopyWriter field encodings', () => {
  it('row: the field count as int16', () => {
    expect(written((w) => w.row(37))).toEqual(pg.row(37));
    expect(written((w) => w.row(0x0102))).toEqual([0x01, 0x02]);
  });

  it.each(['', 'hello', 'héllo wörld', '日本語のテキスト', '🎉 and 👍🏽', 'tab\tnewline\nquote"', 'lone \ud800 surrogate'])('text %j: UTF-8 with its byte length', (s) => {
    expect(written((w) => w.text(s))).toEqual(pg.text(s));
  });

  it('text: null is NULL, and the empty string is a zero-length value, not NULL', () => {
    expect(written((w) => w.text(null))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(written((w) => w.text(''))).toEqual([0, 0, 0, 0]);
  });

  it('ascii: the same bytes as text for ASCII (hex IDs, enum names)', () => {
    for (const s of ['5b8efff798038103d269b633813fc60c', 'client', '']) expect(written((w) => w.ascii(s))).toEqual(pg.text(s));
  });

  it.each([0, 1, -1, 255, 256, -256, 2147483647, -2147483648, 123456789])('int4 %d: big-endian in 4 bytes', (n) => {
    expect(written((w) => w.int4(n))).toEqual(pg.int4(n));
  });

  it('int4: a known value byte by byte', () => {
    expect(written((w) => w.int4(0x01020304))).toEqual([0, 0, 0, 4, 1, 2, 3, 4]);
  });

  it.each([0, 1, -1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, -(2 ** 32), -(2 ** 32) - 5, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1767225600123456])(
    'int8 from the number %d: both halves, sign included',
    (n) => {
      expect(written((w) => w.int8(n))).toEqual(pg.int8(n));
    },
  );

  it.each([0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 1767225600123456789n, -1767225600123456789n])('int8 from the bigint %s', (v) => {
    expect(written((w) => w.int8(v))).toEqual(pg.int8(v));
  });

  it('int8: null is NULL, and a known value byte by byte', () => {
    expect(written((w) => w.int8(null))).toEqual(NULL);
    expect(written((w) => w.int8(0x0102030405060708n))).toEqual([0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(written((w) => w.int8(-2))).toEqual([0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
  });

  it.each([
    [0, 0],
    [0, 1],
    [0, 0xffffffff],
    [1, 0],
    [0x7fffffff, 0xffffffff],
    [0x18864ae8, 0x8e5b2515],
  ])('int8Parts(%d, %d): the high half, then the low half (unsigned)', (high, low) => {
    expect(written((w) => w.int8Parts(high, low))).toEqual(pg.int8((BigInt(high) << 32n) | BigInt(low)));
  });

  it.each([0, -0, 1, 1.5, -2.25, 0.1, 1e308, 5e-324, -Number.MAX_VALUE, 637.704])('float8 %d: IEEE 754 big-endian', (x) => {
    expect(written((w) => w.float8(x))).toEqual(pg.float8(x));
  });

  it('float8: NaN, ±Infinity and NULL, byte by byte', () => {
    const length = [0, 0, 0, 8];
    expect(written((w) => w.float8(NaN))).toEqual([...length, ...NAN]);
    expect(written((w) => w.float8(Infinity))).toEqual([...length, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]);
    expect(written((w) => w.float8(-Infinity))).toEqual([...length, 0xff, 0xf0, 0, 0, 0, 0, 0, 0]);
    expect(written((w) => w.float8(1))).toEqual([...length, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    expect(written((w) => w.float8(null))).toEqual(NULL);
  });

  it.each([0, 1, -1, 946684800000000, 946684800000001, 1767225600123456, -62135596800000000])('timestampMicros(%d): microseconds since 2000-01-01 UTC', (us) => {
    expect(written((w) => w.timestampMicros(us))).toEqual(pg.timestamptz(BigInt(us)));
  });

  it('timestampMicros: the PostgreSQL epoch itself is zero, the Unix epoch is -946684800000000', () => {
    expect(written((w) => w.timestampMicros(Date.UTC(2000, 0, 1) * 1000))).toEqual(field(be(0, 8)));
    expect(written((w) => w.timestampMicros(0))).toEqual(field(be(-946684800000000n, 8)));
  });

  it.each([
    [1767225600123456789n, 1767225600123456n],
    [946684800000000000n, 946684800000000n],
    [999n, 0n],
    [1000n, 1n],
    [0n, 0n],
  ])('timestampNanos(%s): whole microseconds (%s), since 2000-01-01 UTC', (ns, us) => {
    expect(written((w) => w.timestampNanos(ns))).toEqual(pg.timestamptz(us));
  });

  it.each(['{}', '[]', '{"a":1,"b":[true,null]}', '"日本 🎉"', '123.5'])('jsonb %s: version 1, then the text', (json) => {
    expect(written((w) => w.jsonb(json))).toEqual(pg.jsonb(json));
  });

  it('jsonb: null is NULL', () => {
    expect(written((w) => w.jsonb(null))).toEqual(NULL);
  });

  it('jsonbOpen … close: the same bytes as a whole jsonb field, built from raw, byte and jsonString', () => {
    const bytes = written((w) => {
      const open = w.jsonbOpen();
      w.byte(0x7b); // {
      w.jsonString('k');
      w.raw(':[1,"');
      w.raw('é');
      w.raw('"]');
      w.byte(0x7d); // }
      w.close(open);
    });
    expect(bytes).toEqual(pg.jsonb('{"k":[1,"é"]}'));
  });

  it('field: copies bytes encoded by another writer, length prefixes included', () => {
    const other = new CopyWriter();
    other.text('shared');
    other.jsonb('{}');
    const { chunks } = other.finish();
    expect(written((w) => {
      w.int4(7);
      w.field(Buffer.concat(chunks));
      w.int4(8);
    })).toEqual([...pg.int4(7), ...pg.text('shared'), ...pg.jsonb('{}'), ...pg.int4(8)]);
  });
});

describe('CopyWriter.jsonString', () => {
  // [input, the JSON literal it must become (RFC 8259 §7), the string jsonb reads back]
  const cases: Array<[string, string, string]> = [
    ['plain', '"plain"', 'plain'],
    ['', '""', ''],
    ['日本 🎉', '"日本 🎉"', '日本 🎉'],
    ['say "hi"', '"say \\"hi\\""', 'say "hi"'],
    ['back\\slash', '"back\\\\slash"', 'back\\slash'],
    ['line\nbreak\ttab\r', '"line\\nbreak\\ttab\\r"', 'line\nbreak\ttab\r'],
    ['\u0001\u001f', '"\\u0001\\u001f"', '\u0001\u001f'],
    ['\u007f and / stay', '"\u007f and / stay"', '\u007f and / stay'],
    // jsonb refuses U+0000 and lone surrogates: they become U+FFFD.
    ['nul\u0000here', '"nul\uFFFDhere"', 'nul\uFFFDhere'],
    ['lone \ud800 high', '"lone \uFFFD high"', 'lone \uFFFD high'],
    ['lone \udc00 low', '"lone \uFFFD low"', 'lone \uFFFD low'],
    ['both\u0000 and "\ud83d', '"both\uFFFD and \\"\uFFFD"', 'both\uFFFD and "\uFFFD'],
  ];

  it.each(cases)('%j is written as %s', (input, literal, readBack) => {
    const bytes = written((w) => {
      const open = w.jsonbOpen();
      w.jsonString(input);
      w.close(open);
    });
    expect(bytes).toEqual(pg.jsonb(literal));
    expect(JSON.parse(literal)).toBe(readBack);
  });
});

describe('CopyWriter chunks', () => {
  /** Every method once, with fields longer than a tiny chunk. */
  const everything = (w: CopyWriter) => {
    w.row(14);
    w.text('日本語 and more text than fits in one tiny chunk');
    w.text(null);
    w.ascii('0102030405060708');
    w.int4(-5);
    w.int8(2 ** 40 + 3);
    w.int8(-(2n ** 62n));
    w.int8Parts(0x18864ae8, 0x8e5b2515);
    w.float8(NaN);
    w.timestampMicros(1767225600123456);
    w.timestampNanos(1767225600123456789n);
    w.jsonb('{"a":"ü"}');
    const open = w.jsonbOpen();
    w.raw('["');
    w.raw('x'.repeat(40));
    w.raw('",');
    w.jsonString('q"\u0000');
    w.byte(0x5d); // ]
    w.close(open);
    w.float8(null);
    w.jsonb(null);
  };
  const expected = [
    ...pg.row(14), ...pg.text('日本語 and more text than fits in one tiny chunk'), ...NULL, ...pg.text('0102030405060708'), ...pg.int4(-5),
    ...pg.int8(2 ** 40 + 3), ...pg.int8(-(2n ** 62n)), ...pg.int8(0x18864ae88e5b2515n), ...field(NAN),
    ...pg.timestamptz(1767225600123456n), ...pg.timestamptz(1767225600123456n), ...pg.jsonb('{"a":"ü"}'),
    ...pg.jsonb(`["${'x'.repeat(40)}","q\\"\uFFFD"]`), ...NULL, ...NULL,
  ];

  it.each([5, 8, 13, 16, 64, 64 * 1024])('writes the same bytes with chunks of %d bytes', (size) => {
    expect(written(everything, size)).toEqual(expected);
  });

  it('splits into several chunks when the chunk size is small, and counts rows and bytes across them', () => {
    const w = new CopyWriter(16);
    everything(w);
    everything(w);
    expect(w.bytes).toBe(2 * expected.length);
    expect(w.rows).toBe(2);
    const out = w.finish();
    expect(out.chunks.length).toBeGreaterThan(4);
    expect(out.rows).toBe(2);
    expect(out.bytes).toBe(2 * expected.length);
    expect([...Buffer.concat(out.chunks)]).toEqual([...expected, ...expected]);
  });

  // A UTF-16 unit is at most 3 UTF-8 bytes: the room reserved before writing must allow for it at any offset in a chunk.
  const wide = '日本語字'; // 4 units, 12 bytes
  it.each([
    ['text', (w: CopyWriter) => w.text(wide), pg.text(wide)],
    ['jsonString', (w: CopyWriter) => w.jsonString(wide), utf8(`"${wide}"`)],
    ['raw', (w: CopyWriter) => w.raw(wide), utf8(wide)],
  ] as const)('%s of 3-byte characters is whole at every offset of a 16-byte chunk', (_name, write, bytes) => {
    for (let offset = 0; offset <= 16; offset++) {
      const got = written((w) => {
        for (let i = 0; i < offset; i++) w.byte(0xaa);
        write(w);
        write(w);
      }, 16);
      expect(got, `offset ${offset}`).toEqual([...Array(offset).fill(0xaa), ...bytes, ...bytes]);
    }
  });

  it('closes a jsonb field whose start went out in an earlier chunk', () => {
    const json = `{"long":"${'y'.repeat(50)}"}`;
    expect(written((w) => {
      w.row(1);
      const open = w.jsonbOpen();
      for (const ch of json) w.byte(ch.charCodeAt(0));
      w.close(open);
    }, 8)).toEqual([...pg.row(1), ...pg.jsonb(json)]);
  });
});

describe('CopyWriter.mark and rollback', () => {
  it('drops a half-written row within one chunk', () => {
    expect(written((w) => {
      w.row(1);
      w.int4(1);
      const m = w.mark();
      w.row(2);
      w.text('dropped');
      w.rollback(m);
      w.row(1);
      w.int4(2);
    })).toEqual([...pg.row(1), ...pg.int4(1), ...pg.row(1), ...pg.int4(2)]);
  });

  it('drops a row that spilled over several chunks, with its row count and bytes', () => {
    const w = new CopyWriter(16);
    w.row(1);
    w.text('kept');
    const m = w.mark();
    const bytesAtMark = w.bytes;
    w.row(3);
    w.text('x'.repeat(70));
    w.int8(5);
    w.jsonb(`["${'z'.repeat(30)}"]`);
    expect(w.rows).toBe(2);
    w.rollback(m);
    expect([w.rows, w.bytes]).toEqual([1, bytesAtMark]);
    w.row(1);
    w.text('after');
    const out = w.finish();
    expect(out.rows).toBe(2);
    expect([...Buffer.concat(out.chunks)]).toEqual([...pg.row(1), ...pg.text('kept'), ...pg.row(1), ...pg.text('after')]);
    expect(out.bytes).toBe(out.chunks.reduce((n, c) => n + c.length, 0));
  });

  it('rolls back to the very start, and rolls back twice to the same mark', () => {
    expect(written((w) => {
      const start = w.mark();
      w.row(1);
      w.text('a'.repeat(40));
      w.rollback(start);
      w.row(1);
      w.int4(1);
      const m = w.mark();
      w.text('b'.repeat(40));
      w.rollback(m);
      w.text('c'.repeat(40));
      w.rollback(m);
      w.int4(9);
    }, 16)).toEqual([...pg.row(1), ...pg.int4(1), ...pg.int4(9)]);
  });
});

describe('copyStream', () => {
  it('frames the tuples of several writers with the header and the trailer', () => {
    const a = new CopyWriter(8);
    a.row(1);
    a.text('first');
    const b = new CopyWriter();
    b.row(1);
    b.text('second');
    b.row(1);
    b.int8(null);
    const stream = copyStream([a.finish(), b.finish()]);
    expect([...Buffer.concat(stream)]).toEqual([
      ...pg.header(), ...pg.row(1), ...pg.text('first'), ...pg.row(1), ...pg.text('second'), ...pg.row(1), ...NULL, ...pg.trailer(),
    ]);
  });

  it('is the header and the trailer alone for no rows', () => {
    expect([...Buffer.concat(copyStream([new CopyWriter().finish()]))]).toEqual([...pg.header(), ...pg.trailer()]);
    // The signature the documentation gives, spelled out.
    expect(Buffer.concat(copyStream([])).subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  });
});
