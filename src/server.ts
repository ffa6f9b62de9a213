/**
 * Wires the parts together (store → batcher → ingest → receivers) and owns
 * the lifecycle: start both servers, and on shutdown stop taking work, let
 * in-flight exports commit, then close the database.
 */
import type { Config } from './config.ts';
import { Ingest } from './ingest.ts';
import type { Logger } from './log.ts';
import { feedbackRoute } from './feedback/api.ts';
import { createPolicy } from './feedback/policy.ts';
import { corsMiddleware } from './receivers/cors.ts';
import { RuleEngine } from './rules/engine.ts';
import { ReloadableRules } from './rules/reloadable.ts';
import { Batcher } from './pipeline/batcher.ts';
import { GrpcReceiver } from './receivers/grpc.ts';
import { HttpReceiver } from './receivers/http.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/store.ts';

export interface RunningServer {
  store: Store;
  batcher: Batcher;
  ingest: Ingest;
  http: HttpReceiver;
  grpc: GrpcReceiver;
  httpAddresses: string[];
  grpcAddresses: string[];
  /** Reads the rules file again (SIGHUP); false when it is invalid (the old rules stay). */
  reloadRules(): boolean;
  /** Graceful stop: refuse new work, finish in-flight exports, close the database. */
  close(): Promise<void>;
}

export async function startServer(cfg: Config, log: Logger): Promise<RunningServer> {
  // Rules are validated before anything starts: a bad pattern stops start-up, naming the rule.
  const rules = new ReloadableRules(cfg.rulesFile, log);
  const store = await openStore(cfg, log);
  try {
    const applied = await store.migrate();
    if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  } catch (err) {
    await store.close();
    throw err;
  }

  const batcher = new Batcher(store, {
    maxBatchRows: cfg.batchMaxRows,
    maxWaitMs: cfg.batchMaxWaitMs,
    // PGlite is one session: more writers would only queue on its lock.
    writers: store.kind === 'pglite' ? 1 : cfg.writers,
    maxInflightRows: cfg.maxInflightRows,
    maxInflightBytes: cfg.maxInflightBytes,
  });
  const policy = createPolicy(cfg.feedback);
  const engine = new RuleEngine(rules.current, () => policy);
  const ingest = new Ingest({
    batcher,
    policy: () => policy,
    ...(cfg.rulesFile ? { spanObservers: [engine.spanObserver], logObservers: [engine.logObserver] } : {}),
  });
  const http = new HttpReceiver({
    ingest,
    maxBodyBytes: cfg.maxBodyBytes,
    ready: () => store.ready(),
    log,
    routes: { '/v1/feedback': feedbackRoute({ ingest, policy: () => policy, maxBodyBytes: cfg.maxBodyBytes }) },
    middleware: cfg.corsOrigins.length > 0 ? [corsMiddleware(cfg.corsOrigins)] : [],
  });
  const grpc = new GrpcReceiver({ ingest, maxMessageBytes: cfg.maxBodyBytes, log });

  let grpcAddresses: string[] = [];
  let httpAddresses: string[] = [];
  try {
    grpcAddresses = await grpc.listen(cfg.host, cfg.grpcPort);
    httpAddresses = await http.listen(cfg.host, cfg.httpPort);
  } catch (err) {
    // If HTTP cannot bind after gRPC did, gRPC must not be left running.
    grpc.forceClose();
    await http.close();
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
      await batcher.close();
      rules.close();
      await store.close();
    })();
    return closing;
  };

  log.info(
    { grpc: grpcAddresses, http: httpAddresses, database: store.kind, psql: store.psqlCommand },
    `verdict ready: OTLP/gRPC on ${grpcAddresses.join(', ')}; OTLP/HTTP on ${httpAddresses.map((a) => `http://${a}`).join(', ')}` +
      (store.psqlCommand ? `; embedded database in ${cfg.dataDir}, query it with: ${store.psqlCommand}` : '; database: PostgreSQL (DATABASE_URL)'),
  );
  rules.watch();
  return { store, batcher, ingest, http, grpc, httpAddresses, grpcAddresses, reloadRules: () => rules.reload(), close };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
