/**
 * Starts a complete Verdict (both receivers, batcher, store) on ephemeral
 * loopback ports against one backend, for integration and end-to-end tests.
 */
import { createServer } from 'node:net';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/app/server.ts';
import type { Database } from '../../src/store/schema.ts';
import { createDatabase, type TestDatabase } from './postgres.ts';

export type Backend = 'pglite' | 'postgres';
export const BACKENDS: readonly Backend[] = ['pglite', 'postgres'];

export interface TestServer {
  backend: Backend;
  server: RunningServer;
  config: Config;
  /** http://127.0.0.1:port */
  httpUrl: string;
  /** 127.0.0.1:port */
  grpcAddress: string;
  db: Kysely<Database>;
  /** Rows of a raw SQL query. */
  query<T = Record<string, unknown>>(text: string): Promise<T[]>;
  close(): Promise<void>;
}

export const baseConfig = (overrides: Partial<Config> = {}): Config =>
  Object.freeze({ ...loadConfig({ argv: [], env: {} }), host: '127.0.0.1', grpcPort: 0, httpPort: 0, pgPort: 0, logLevel: 'silent' as const, ...overrides });

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts a server; for postgres, in a fresh database that is dropped on close. */
export async function startTestServer(backend: Backend, overrides: Partial<Config> = {}): Promise<TestServer> {
  let database: TestDatabase | null = null;
  let config: Config;
  if (backend === 'postgres') {
    database = await createDatabase();
    config = baseConfig({ databaseUrl: database.url, ...overrides });
  } else {
    config = baseConfig({ databaseUrl: null, dataDir: 'memory://', ...overrides });
  }
  const server = await startServer(config, silentLogger);
  const db = server.store.db;
  return {
    backend,
    server,
    config,
    httpUrl: `http://127.0.0.1:${server.http.port}`,
    grpcAddress: `127.0.0.1:${server.grpc.port}`,
    db,
    async query<T>(text: string) {
      return (await sql.raw<T>(text).execute(db)).rows;
    },
    async close() {
      await server.close();
      await database?.drop();
    },
  };
}

/**
 * A server for the tests of the enclosing describe block: started before
 * them, closed after them. The object it returns stands for that server once
 * it has started (inside tests and later hooks), so a suite reads
 * `const t = serverForSuite(backend)` and then `t.httpUrl`, `t.query(...)`.
 */
export function serverForSuite(backend: Backend, overrides: Partial<Config> = {}): TestServer {
  let started: TestServer | undefined;
  beforeAll(async () => {
    started = await startTestServer(backend, overrides);
  });
  afterAll(async () => {
    await started?.close();
  });
  return new Proxy({} as TestServer, {
    get(_target, key) {
      if (!started) throw new Error(`the ${backend} test server is used before it has started: use it inside tests or hooks`);
      return Reflect.get(started, key);
    },
  });
}
