/** Chooses the backend from the configuration: PostgreSQL when a URL is set, else the embedded database. */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { PgliteWorkerStore } from './pglite-worker.ts';
import { PostgresStore } from './postgres.ts';
import type { Store } from './store.ts';

export async function openStore(cfg: Config, log: Logger): Promise<Store> {
  if (cfg.databaseUrl) {
    return new PostgresStore({ url: cfg.databaseUrl, poolSize: cfg.writers + 4, writeTimeoutMs: cfg.writeTimeoutMs, log });
  }
  return PgliteWorkerStore.open({ dataDir: cfg.dataDir, pgPort: cfg.pgPort, host: cfg.host, writeTimeoutMs: cfg.writeTimeoutMs }, log);
}
