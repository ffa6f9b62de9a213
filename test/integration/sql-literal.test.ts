/**
 * The text[] literal the write's prelude carries its lock keys in (the simple
 * query protocol, which has no parameters): whatever a key holds, PostgreSQL
 * must read back exactly the key, or two writers of the same run would lock
 * different keys. Response IDs are the sender's text, so the keys below hold
 * everything that means something to a string constant or to array_in.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { textArrayLiteral } from '../../src/store/sql-literal.ts';
import { ADMIN_URL } from '../helpers/postgres.ts';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

const KEYS = [
  'r:plain', "r:it's", 'r:two\'\'quotes', 'r:back\\slash', 'r:\\\\', 'r:"quoted"', 'r:a,b', 'r:{braces}', 'r:NULL', 'NULL', '', ' ',
  'r: spaced ', 'r:tab\there', 'r:line\nbreak', "r:\\'", 'r:\\"', "r:E'x'", 'r:$$dollar$$', 'r:日本🎉', 'r:;SELECT 1;--',
];

describe.each(BACKENDS)('text[] literals on %s', (backend) => {
  const t = serverForSuite(backend);

  it('reads every key back as it was', async () => {
    const rows = await t.query<{ x: string }>(`SELECT x FROM unnest(${textArrayLiteral(KEYS)}) WITH ORDINALITY AS u(x, n) ORDER BY n`);
    expect(rows.map((r) => r.x)).toEqual(KEYS);
  });
});

describe('text[] literals with standard_conforming_strings off', () => {
  it('reads every key back as it was', async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      await client.query('SET standard_conforming_strings = off');
      const { rows } = await client.query<{ x: string }>(`SELECT x FROM unnest(${textArrayLiteral(KEYS)}) WITH ORDINALITY AS u(x, n) ORDER BY n`);
      expect(rows.map((r) => r.x)).toEqual(KEYS);
    } finally {
      await client.end();
    }
  });

  it('makes U+0000, which text cannot hold, U+FFFD', async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ x: string }>(`SELECT x FROM unnest(${textArrayLiteral(['r:a\u0000b'])}) x`);
      expect(rows.map((r) => r.x)).toEqual(['r:a\ufffdb']);
    } finally {
      await client.end();
    }
  });
});
