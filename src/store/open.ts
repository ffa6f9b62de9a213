/** Chooses the backend: PostgreSQL when a URL is set, else the embedded database. */
import type { Logger } from '../log.ts';
import { PgliteWorkerStore } from './pglite/worker-store.ts';
import { PostgresStore } from './postgres.ts';
import type { Store } from './store.ts';

export interface StoreSettings {
  databaseUrl: string | null;
  dataDir: string;
  /** The embedded database's wire port (0 = off), where it listens, and its password file (null: in the data directory). */
  pgPort: number;
  pgHost: string;
  pgPasswordFile: string | null;
  /** Write transactions in flight at once (PostgreSQL pool size follows it). */
  writers: number;
  writeTimeoutMs: number;
}

export async function openStore(s: StoreSettings, log: Logger): Promise<Store> {
  if (s.databaseUrl) {
    return new PostgresStore({ url: s.databaseUrl, poolSize: s.writers + 4, writeTimeoutMs: s.writeTimeoutMs, log });
  }
  return PgliteWorkerStore.open({ dataDir: s.dataDir, pgPort: s.pgPort, pgHost: s.pgHost, pgPasswordFile: s.pgPasswordFile, writeTimeoutMs: s.writeTimeoutMs }, log);
}
