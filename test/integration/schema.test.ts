/**
 * The schema is what src/store/schema.ts says (Kysely's Database type is
 * derived from it), on both databases: every relation of the verdict
 * schema, every column with its type and, for tables, its nullability;
 * migrations are recorded once; the health endpoints answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/migrate.ts';
import { SCHEMA, type ColumnSpec } from '../../src/store/schema.ts';
import { EVALUATIONS, LOGS, MESSAGES, RESOURCES, SPANS } from '../../src/store/tables.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';

interface Column {
  table_name: string;
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
}

describe.each(BACKENDS)('schema on %s', (backend) => {
  let t: TestServer;
  let columns: Column[];
  let relations: Array<{ name: string; kind: string }>;
  beforeAll(async () => {
    t = await startTestServer(backend);
    columns = await t.query<Column>(`
      SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
      WHERE table_schema = 'verdict' ORDER BY table_name, ordinal_position`);
    // Tables, partitioned tables and views; day and default partitions are the tables' own storage, not relations of the contract.
    relations = await t.query<{ name: string; kind: string }>(`
      SELECT 'verdict.' || c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'verdict' AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition ORDER BY 1`);
  });
  afterAll(async () => {
    await t?.close();
  });

  const specOf = (name: string): Record<string, ColumnSpec> | undefined =>
    (SCHEMA.tables as Record<string, Record<string, ColumnSpec>>)[name] ?? (SCHEMA.views as Record<string, Record<string, ColumnSpec>>)[name];

  it('has exactly the relations the Database interface names', () => {
    expect(relations.map((r) => r.name).sort()).toEqual([...Object.keys(SCHEMA.tables), ...Object.keys(SCHEMA.views)].sort());
    for (const r of relations) expect(r.kind === 'v' ? 'view' : 'table', r.name).toBe(r.name in SCHEMA.views ? 'view' : 'table');
  });

  it.each([...Object.keys(SCHEMA.tables), ...Object.keys(SCHEMA.views)])('%s has the columns, types and nullability of the Database interface', (name) => {
    const spec = specOf(name)!;
    const actual = columns.filter((c) => `verdict.${c.table_name}` === name);
    expect(actual.map((c) => c.column_name).sort()).toEqual(Object.keys(spec).sort());
    for (const c of actual) {
      const s = spec[c.column_name]!;
      expect(c.data_type, `${name}.${c.column_name}`).toBe(s.kind);
      // information_schema reports every view column as nullable; for tables the constraint is checked.
      if (name in SCHEMA.tables) {
        expect(c.is_nullable === 'YES', `${name}.${c.column_name} nullable`).toBe(s.nullable);
        expect(c.column_default !== null, `${name}.${c.column_name} has a default`).toBe(s.defaulted === true);
      }
    }
  });

  it.each([SPANS, LOGS, EVALUATIONS, RESOURCES, MESSAGES])('writes every column of $name in COPY', (table) => {
    const name = table.name.split('.')[1];
    const stored = columns.filter((c) => c.table_name === name && c.column_default === null).map((c) => c.column_name);
    expect([...table.columns].sort()).toEqual(stored.sort());
  });

  it('records each applied migration once, and applying again changes nothing', async () => {
    const files = loadMigrations();
    expect(await t.query(`SELECT version, name, checksum FROM verdict.schema_migrations ORDER BY version`)).toEqual(files.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
    expect(await t.server.store.migrate()).toEqual([]);
  });

  it('creates the day partitions ahead, and a default partition for the rest', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const parts = await t.query<{ parent: string; day: string }>(`SELECT parent, to_char(day, 'YYYY-MM-DD') AS day FROM verdict.partitions`);
    for (const parent of ['span_rows', 'log_rows', 'evaluations']) {
      expect(parts).toContainEqual({ parent, day: today });
      expect(parts).toContainEqual({ parent, day: tomorrow });
    }
    const defaults = await t.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('span_rows_default', 'log_rows_default', 'evaluations_default')`);
    expect(defaults[0]!.n).toBe(3);
  });

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(`${t.httpUrl}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${t.httpUrl}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
  });
});
