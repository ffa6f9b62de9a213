/**
 * `verdict serve`: wires the parts together (inputs → store → pipeline →
 * receivers) and owns the lifecycle: start both servers, and on shutdown stop
 * taking work, let in-flight exports commit, then close the database.
 */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Ingest } from '../ingest.ts';
import type { Batcher } from '../pipeline/batcher.ts';
import type { GrpcReceiver } from '../receivers/grpc.ts';
import type { HttpReceiver } from '../receivers/http.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { sleep } from '../common/util.ts';
import { readyLine } from './banner.ts';
import { readInputs } from './inputs.ts';
import { createPipeline } from './pipeline.ts';
import { createReceivers, listen } from './receivers.ts';

export interface RunningServer {
  store: Store;
  batcher: Batcher;
  ingest: Ingest;
  http: HttpReceiver;
  grpc: GrpcReceiver;
  httpAddresses: string[];
  grpcAddresses: string[];
  metrics: Metrics;
  /** Reads the rules file again (SIGHUP); false when it is invalid (the old rules stay). */
  reloadRules(): boolean;
  /** Graceful stop: refuse new work, finish in-flight exports, close the database. */
  close(): Promise<void>;
}

export async function startServer(cfg: Config, log: Logger): Promise<RunningServer> {
  const inputs = readInputs(cfg, log);
  const store = await openStore(cfg, log);
  try {
    const applied = await store.migrate();
    if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  } catch (err) {
    await store.close();
    throw err;
  }
  const pipeline = createPipeline(cfg, store, inputs.rules);
  const { http, grpc } = createReceivers(cfg, pipeline, inputs, () => store.ready(), log);
  let addresses: Awaited<ReturnType<typeof listen>>;
  try {
    addresses = await listen({ http, grpc }, cfg);
  } catch (err) {
    await store.close();
    throw err;
  }

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      http.drain();
      const receivers = Promise.all([grpc.close(), http.close()]);
      const timedOut = await Promise.race([receivers.then(() => false), sleep(cfg.shutdownTimeoutMs).then(() => true)]);
      if (timedOut) {
        log.warn({ timeoutMs: cfg.shutdownTimeoutMs }, 'shutdown timeout: cancelling exports still in flight');
        grpc.forceClose();
      }
      await pipeline.batcher.close();
      inputs.rules.close();
      await store.close();
    })();
    return closing;
  };

  log.info(
    { grpc: addresses.grpc, http: addresses.http, database: store.kind, psql: store.psqlCommand, pgUrl: store.pgUrl },
    readyLine({ ...addresses, tls: inputs.tls !== null, auth: inputs.auth.enabled, database: store.kind, dataDir: cfg.dataDir, psqlCommand: store.psqlCommand, pgUrl: store.pgUrl }),
  );
  inputs.rules.watch();
  return {
    store, batcher: pipeline.batcher, ingest: pipeline.ingest, http, grpc, httpAddresses: addresses.http, grpcAddresses: addresses.grpc,
    metrics: pipeline.metrics, reloadRules: () => inputs.rules.reload(), close,
  };
}
