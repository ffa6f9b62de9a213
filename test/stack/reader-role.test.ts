/**
 * The postgres init scripts (deploy/postgres-init) that create the role
 * Grafana connects as, run against real PostgreSQL the way the postgres image
 * runs them: the SQL file as the database owner, then the shell script with
 * psql. The role can read every table and view Verdict's migrations create,
 * whether the scripts ran before the migrations (a fresh `docker compose up`)
 * or after (an existing database), and can change nothing.
 *
 * Roles are cluster-wide: the tests give the role a name of their own and
 * drop it at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { openStore } from '../../src/store/open.ts';
import { ADMIN_URL, adminQuery, createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { READER_ROLE, readerInitSql } from '../helpers/seed.ts';
import { baseConfig } from '../helpers/server.ts';

const SCRIPT = fileURLToPath(new URL('../../deploy/postgres-init/20-grafana-reader-password.sh', import.meta.url));
const role = `verdict_reader_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
const databases: TestDatabase[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'verdict-reader-'));

async function asOwner<T>(db: TestDatabase, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function asReader<T>(db: TestDatabase, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(db.url);
  url.username = role;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function migrate(db: TestDatabase): Promise<void> {
  const store = await openStore(baseConfig({ databaseUrl: db.url }), silentLogger);
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

/** Runs the password script as the image would, with psql, on this machine's PostgreSQL. */
function runPasswordScript(db: TestDatabase, password: string | undefined) {
  const script = join(tmp, 'set-password.sh');
  writeFileSync(script, readFileSync(SCRIPT, 'utf8').replace(new RegExp(`\\b${READER_ROLE}\\b`, 'g'), role), { mode: 0o755 });
  const admin = new URL(ADMIN_URL);
  return spawnSync('sh', [script], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      PGHOST: admin.hostname,
      PGPORT: admin.port || '5432',
      POSTGRES_USER: decodeURIComponent(admin.username),
      POSTGRES_DB: db.name,
      ...(password === undefined ? {} : { GRAFANA_READER_PASSWORD: password }),
    },
  });
}

async function verdictRelations(db: TestDatabase): Promise<string[]> {
  return asOwner(db, async (c) => (await c.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'verdict' AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1`)).rows.map((r) => r.name));
}

async function expectReadOnlyAccess(db: TestDatabase) {
  const relations = await verdictRelations(db);
  expect(relations).toEqual(expect.arrayContaining(['spans', 'logs', 'evaluations', 'traces', 'trace_evaluations']));
  await asReader(db, async (c) => {
    for (const r of relations) await expect(c.query(`SELECT * FROM verdict.${r} LIMIT 1`), r).resolves.toBeDefined();
    expect((await c.query('SHOW default_transaction_read_only')).rows[0].default_transaction_read_only).toBe('on');
    // Dashboard plans are short; JIT compilation would cost more than running them.
    expect((await c.query('SHOW jit')).rows[0].jit).toBe('off');
    await expect(c.query(`INSERT INTO verdict.evaluations (id, name, time, channel, attributes) VALUES ('x', 'x', now(), 'api', '{}')`)).rejects.toThrow(/read-only transaction/);
    // Not only the setting: the role has no write privilege either.
    await c.query('SET default_transaction_read_only = off');
    await expect(c.query(`INSERT INTO verdict.evaluations (id, name, time, channel, attributes) VALUES ('x', 'x', now(), 'api', '{}')`)).rejects.toThrow(/permission denied/);
    await expect(c.query(`DELETE FROM verdict.span_rows`)).rejects.toThrow(/permission denied/);
    await expect(c.query(`CREATE TABLE verdict.mine (x int)`)).rejects.toThrow(/permission denied/);
  });
}

describe('the read-only role for Grafana', () => {
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) databases.push(await createDatabase('verdict_reader'));
  });

  afterAll(async () => {
    for (const db of databases) await db.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('created on an empty database, before the migrations, reads everything they create and writes nothing', async () => {
    const db = databases[0]!;
    await asOwner(db, (c) => c.query(readerInitSql(role)));
    const r = runPasswordScript(db, "it's a s3cret");
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    await migrate(db);
    await expectReadOnlyAccess(db);
    // A later migration's table is readable too (default privileges), without running the script again.
    await asOwner(db, (c) => c.query('CREATE TABLE verdict.later (x int); INSERT INTO verdict.later VALUES (1)'));
    await asReader(db, async (c) => expect((await c.query('SELECT x FROM verdict.later')).rows).toEqual([{ x: 1 }]));
  });

  it('has a password set by the shell script (quotes and all), which refuses to run without one', async () => {
    const db = databases[0]!;
    const hash = async () => (await asOwner(db, (c) => c.query<{ p: string | null }>(`SELECT rolpassword AS p FROM pg_authid WHERE rolname = '${role}'`))).rows[0]?.p;
    const before = await hash();
    expect(before).toMatch(/^(SCRAM-SHA-256\$|md5)/);
    expect(runPasswordScript(db, 'another one').status).toBe(0);
    expect(await hash()).not.toBe(before);
    const r = runPasswordScript(db, undefined);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('GRAFANA_READER_PASSWORD is not set');
  });

  it('created on a database Verdict already uses, reads the existing tables; running the script twice is harmless', async () => {
    const db = databases[1]!;
    await migrate(db);
    await asOwner(db, (c) => c.query(readerInitSql(role)));
    await asOwner(db, (c) => c.query(readerInitSql(role)));
    await expectReadOnlyAccess(db);
  });
});
