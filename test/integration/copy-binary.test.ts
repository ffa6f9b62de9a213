/**
 * What CopyWriter writes, PostgreSQL reads: rows of every field type (edge
 * values, NULLs, fields split across tiny chunks, a rolled-back row) go into
 * a table by binary COPY and come back by SELECT, on real PostgreSQL (through
 * node-postgres and pg-copy-streams) and on the embedded database (through
 * its driver's COPY from /dev/blob). The byte-level checks are in
 * test/unit/copy-binary.test.ts.
 */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyStream, CopyWriter } from '../../src/common/copy-binary.ts';
import { PgliteDatabase } from '../../src/store/pglite/database.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { BACKENDS, type Backend } from '../helpers/server.ts';

interface Connection {
  exec(sql: string): Promise<void>;
  copy(sql: string, stream: Buffer[]): Promise<void>;
  rows(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function connect(backend: Backend): Promise<Connection> {
  if (backend === 'pglite') {
    const db = await PgliteDatabase.open({ dataDir: 'memory://', wire: null, writeTimeoutMs: 5000 });
    return {
      exec: (sql) => db.transaction((s) => s.exec(sql)),
      copy: (sql, stream) => db.transaction((s) => s.copy(sql, stream)),
      rows: (sql) => db.rows(sql),
      close: () => db.close(),
    };
  }
  const database: TestDatabase = await createDatabase();
  const client = new pg.Client(database.url);
  await client.connect();
  return {
    exec: async (sql) => void (await client.query(sql)),
    copy: (sql, stream) => pipeline(Readable.from(stream), client.query(copyFrom(sql))),
    rows: async (sql) => (await client.query(sql)).rows,
    async close() {
      await client.end();
      await database.drop();
    },
  };
}

const TABLE = 'CREATE TABLE roundtrip (n int4, t text, a text, i int8, f float8, ts timestamptz, j jsonb)';
const COPY = 'COPY roundtrip (n, t, a, i, f, ts, j) FROM STDIN WITH (FORMAT binary)';
const SELECT = `SELECT n, t, a, i::text AS i, f::text AS f, (extract(epoch FROM ts) * 1000000)::bigint::text AS us, j FROM roundtrip ORDER BY n`;

/** Four rows and a rolled-back fifth, in 16-byte chunks so that most fields are split. */
function encode(): Buffer[] {
  const w = new CopyWriter(16);
  w.row(7);
  w.int4(1);
  w.text('héllo 日本 🎉');
  w.ascii('5b8efff798038103');
  w.int8(-9007199254740991);
  w.float8(1.5);
  w.timestampMicros(1767225600123456);
  const open = w.jsonbOpen();
  w.raw('{"k":[1,');
  w.jsonString('é "quoted"\n\u0000 and \ud800');
  w.raw('],"long":');
  w.jsonString('z'.repeat(40));
  w.byte(0x7d);
  w.close(open);

  const m = w.mark();
  w.row(7);
  w.int4(99);
  w.text('rolled back, never sent');
  w.rollback(m);

  w.row(7);
  w.int4(2);
  w.text(null);
  w.ascii('');
  w.int8(-(2n ** 63n));
  w.float8(NaN);
  w.timestampNanos(946684800000000999n);
  w.jsonb('[]');

  w.row(7);
  w.int4(3);
  w.text('x'.repeat(100));
  w.ascii('client');
  w.int8Parts(0x18864ae8, 0x8e5b2515);
  w.float8(-Infinity);
  w.timestampMicros(0);
  w.jsonb(null);

  w.row(7);
  w.int4(-2147483648);
  w.text('');
  w.text('\t"tab"');
  w.int8(2n ** 63n - 1n);
  w.float8(null);
  w.timestampMicros(-1);
  w.jsonb('{"n":-0.5e3,"b":false,"nil":null}');
  return copyStream([w.finish()]);
}

describe.each(BACKENDS)('binary COPY round trip on %s', (backend) => {
  let c: Connection;
  beforeAll(async () => {
    c = await connect(backend);
    await c.exec(TABLE);
  });
  afterAll(async () => {
    await c?.close();
  });

  it('reads back every value CopyWriter wrote, and nothing it rolled back', async () => {
    await c.copy(COPY, encode());
    expect(await c.rows(SELECT)).toEqual([
      { n: -2147483648, t: '', a: '\t"tab"', i: '9223372036854775807', f: null, us: '-1', j: { n: -500, b: false, nil: null } },
      { n: 1, t: 'héllo 日本 🎉', a: '5b8efff798038103', i: '-9007199254740991', f: '1.5', us: '1767225600123456', j: { k: [1, 'é "quoted"\n\uFFFD and \uFFFD'], long: 'z'.repeat(40) } },
      { n: 2, t: null, a: '', i: '-9223372036854775808', f: 'NaN', us: '946684800000000', j: [] },
      { n: 3, t: 'x'.repeat(100), a: 'client', i: String(0x18864ae88e5b2515n), f: '-Infinity', us: '0', j: null },
    ]);
  });
});
