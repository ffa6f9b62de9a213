/**
 * `verdict serve`: wires the parts together (inputs → store → pipeline →
 * receivers) and owns the lifecycle: start both servers, open the database,
 * and on shutdown stop taking work, let in-flight exports commit, then close
 * the database.
 */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Ingest } from '../ingest.ts';
import type { Batcher } from '../pipeline/batcher.ts';
import type { GrpcReceiver } from '../receivers/grpc.ts';
import type { HttpReceiver } from '../receivers/http.ts';
import { TrackedStore } from '../store/readiness.ts';
import type { Store } from '../store/store.ts';
import { sleep } from '../common/util.ts';
import { emptyBatch } from '../model/rows.ts';
import { readyLine, readyText } from './banner.ts';
import { openDatabase } from './database.ts';
import { readInputs } from './inputs.ts';
import { Judges } from './judges.ts';
import { createPipeline } from './pipeline.ts';
import { createReceivers, listen } from './receivers.ts';
import { startSummary } from './summary.ts';

export interface RunningServer {
  store: Store;
  batcher: Batcher;
  ingest: Ingest;
  http: HttpReceiver;
  grpc: GrpcReceiver;
  httpAddresses: string[];
  /** The admin listener's addresses (--admin-port), else empty. */
  adminAddresses: string[];
  grpcAddresses: string[];
  metrics: Metrics;
  /** The online judges, when evaluators are configured. */
  judges: Judges | null;
  /** Reads the rules file again (SIGHUP); false when it is invalid (the old rules stay). */
  reloadRules(): boolean;
  /** Reads the config file's review section again (SIGHUP); false when it is invalid (the old one stays). */
  reloadReview(): boolean;
  /** Resolves once the review queues have been filled from every write committed so far. */
  reviewIdle(): Promise<void>;
  /** Graceful stop: refuse new work, finish in-flight exports, close the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Aborts start-up while it waits for the database (a signal): startServer then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How often the summary line is logged (default a minute). */
  summaryIntervalMs?: number;
  /** How long readiness may go without news from the database before a probe asks it (store/readiness.ts). */
  readinessProbeMs?: number;
  /** The environment evaluators read their API keys from when the config file is reloaded. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Starts both receivers, then opens the database (waiting for PostgreSQL up
 * to --database-wait): meanwhile /readyz says why it is not ready and exports
 * are answered "retry". Resolves once the database is open and migrated.
 */
export async function startServer(cfg: Config, log: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  const inputs = readInputs(cfg, log);
  // Said at once: opening a new embedded database takes seconds, and which Node.js runs is the first question of any bug report.
  log.info({ node: process.versions.node, pid: process.pid }, 'starting');
  const store = new TrackedStore(cfg.databaseUrl ? 'postgres' : 'pglite', cfg.databaseUrl ? 'connecting to PostgreSQL' : 'opening the embedded database', opts.readinessProbeMs);
  let judges: Judges | null = null;
  const pipeline = createPipeline(cfg, store, inputs.rules, inputs.review, log, cfg.evaluators.length > 0 ? (batch) => judges?.observe(batch) : undefined);
  if (cfg.evaluators.length > 0) judges = new Judges({ cfg, env: opts.env ?? {}, log, registry: pipeline.metrics.registry });
  const { http, grpc, admin } = createReceivers(cfg, pipeline, inputs, () => store.ready(), log, store);
  let addresses: Awaited<ReturnType<typeof listen>>;
  try {
    addresses = await listen({ http, grpc, admin }, cfg);
    const opened = await openDatabase(cfg, log, { onWait: (reason) => store.waiting(reason), ...(opts.signal ? { signal: opts.signal } : {}) });
    store.attach(opened.store);
    // Judge verdicts take the group commit like every other verdict.
    judges?.start(store, (rows) => {
      const batch = emptyBatch();
      batch.evaluations = rows;
      return pipeline.batcher.submit(batch, rows.reduce((n, r) => n + r.attributes.length + 512, 0));
    });
  } catch (err) {
    await grpc.forceClose();
    await Promise.all([http.close(), admin?.close(), pipeline.batcher.close(), store.close()]);
    inputs.rules.close();
    inputs.review.close();
    throw err;
  }
  const summary = startSummary(pipeline.metrics, log, opts.summaryIntervalMs);
  // Runs whose queue check a stop interrupted are checked now.
  void pipeline.filler.sweep();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      http.drain();
      admin?.drain();
      const receivers = Promise.all([grpc.close(), http.close()]);
      const timedOut = await Promise.race([receivers.then(() => false), sleep(cfg.shutdownTimeoutMs).then(() => true)]);
      if (timedOut) {
        log.warn({ timeoutMs: cfg.shutdownTimeoutMs }, 'shutdown timeout: answering exports still in flight "unavailable, retry"');
        await Promise.all([http.forceClose(), grpc.forceClose()]);
        await Promise.race([receivers, sleep(2000)]);
      }
      await judges?.close();
      await pipeline.batcher.close();
      await pipeline.filler.idle();
      summary.stop();
      inputs.rules.close();
      inputs.review.close();
      await admin?.close();
      await store.close();
    })();
    return closing;
  };

  const facts = { ...addresses, tls: inputs.tls !== null, auth: inputs.auth.enabled, database: store.kind, dataDir: cfg.dataDir, psqlCommand: store.psqlCommand, pgUrl: store.pgUrl };
  log.info({ grpc: addresses.grpc, http: addresses.http, ...(admin ? { admin: addresses.admin } : {}), database: store.kind, psql: store.psqlCommand, pgUrl: store.pgUrl, text: readyText(facts) }, readyLine(facts));
  inputs.rules.watch();
  inputs.review.watch();
  return {
    store, batcher: pipeline.batcher, ingest: pipeline.ingest, http, grpc, httpAddresses: addresses.http, adminAddresses: addresses.admin, grpcAddresses: addresses.grpc,
    metrics: pipeline.metrics, judges, reloadRules: () => inputs.rules.reload(),
    reloadReview: () => {
      const ok = inputs.review.reload();
      // A queue just added takes the recent runs too.
      if (ok) void pipeline.filler.sweep();
      return ok;
    }, reviewIdle: () => pipeline.filler.idle(), close,
  };
}
