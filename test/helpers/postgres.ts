/**
 * Real PostgreSQL for tests: a fresh database per test file on the server
 * named by VERDICT_TEST_DATABASE_URL (default: the machine's 127.0.0.1:5432,
 * database test). An unreachable server fails the tests; it never skips them.
 * Each file drops its databases; the end of the run drops any left behind.
 */
import pg from 'pg';

export const ADMIN_URL = process.env.VERDICT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = process.env.VERDICT_TEST_RUN ?? 'norun';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createDatabase(prefix = 'verdict_test'): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`real PostgreSQL is not reachable at ${ADMIN_URL} (set VERDICT_TEST_DATABASE_URL): ${(err as Error).message}`);
  }
  // The run's id (global-setup.ts) lets the end of the run drop what a crashed test file left.
  const name = `${prefix}_${RUN}_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Runs one statement as the admin user on the admin database (dropping test databases and roles). */
export async function adminQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}
