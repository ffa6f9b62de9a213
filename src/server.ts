/**
 * Wires the parts together (store → batcher → ingest → receivers) and owns
 * the lifecycle: start both servers, and on shutdown stop taking work, let
 * in-flight exports commit, then close the database.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { Config } from './config.ts';
import { ConfigError } from './config-error.ts';
import { Metrics } from './metrics.ts';
import { Authenticator, loadTokens } from './receivers/auth.ts';
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
  metrics: Metrics;
  /** Reads the rules file again (SIGHUP); false when it is invalid (the old rules stay). */
  reloadRules(): boolean;
  /** Graceful stop: refuse new work, finish in-flight exports, close the database. */
  close(): Promise<void>;
}

export async function startServer(cfg: Config, log: Logger): Promise<RunningServer> {
  // Everything read from files is validated before anything starts: a bad rule, token file or certificate stops start-up.
  const rules = new ReloadableRules(cfg.rulesFile, log);
  const auth = new Authenticator(loadTokens(cfg.authTokens, cfg.authTokenFile));
  const tls = cfg.tlsCert && cfg.tlsKey ? { cert: readPem(cfg.tlsCert, '--tls-cert'), key: readPem(cfg.tlsKey, '--tls-key') } : null;
  const store = await openStore(cfg, log);
  try {
    const applied = await store.migrate();
    if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  } catch (err) {
    await store.close();
    throw err;
  }

  const metrics = new Metrics(() => ({ rows: batcher.inflightRows, bytes: batcher.inflightBytes }));
  const batcher = new Batcher(store, {
    maxBatchRows: cfg.batchMaxRows,
    maxWaitMs: cfg.batchMaxWaitMs,
    // PGlite is one session: more writers would only queue on its lock.
    writers: store.kind === 'pglite' ? 1 : cfg.writers,
    maxInflightRows: cfg.maxInflightRows,
    maxInflightBytes: cfg.maxInflightBytes,
  }, {
    onWrite(rows, requests, seconds, error) {
      metrics.writeDuration.observe({ outcome: error ? 'error' : 'committed' }, seconds);
      metrics.batchRows.observe(rows);
      metrics.batchRequests.observe(requests);
      if (error) metrics.dbErrors.inc({ kind: error.name === 'DataError' ? 'data' : 'unavailable' });
    },
  });
  const policy = createPolicy(cfg.feedback);
  const engine = new RuleEngine(rules.current, () => policy);
  const ingest = new Ingest({
    batcher,
    policy: () => policy,
    metrics,
    ...(cfg.rulesFile ? { spanObservers: [engine.spanObserver], logObservers: [engine.logObserver] } : {}),
  });
  const http = new HttpReceiver({
    ingest,
    maxBodyBytes: cfg.maxBodyBytes,
    ready: () => store.ready(),
    log,
    routes: {
      '/v1/feedback': feedbackRoute({ ingest, policy: () => policy, maxBodyBytes: cfg.maxBodyBytes }),
      '/metrics': async (_req, res) => {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(body);
      },
    },
    // CORS first: browsers send preflights without credentials.
    middleware: [...(cfg.corsOrigins.length > 0 ? [corsMiddleware(cfg.corsOrigins)] : []), auth.http],
    onExport: (signal, _result, outcome, seconds) => {
      metrics.requests.inc({ transport: 'http', signal, code: String(outcome?.http ?? 200) });
      metrics.requestDuration.observe({ transport: 'http', signal }, seconds);
    },
    ...(tls ? { createServer: (handler) => https.createServer(tls, handler) } : {}),
  });
  const grpc = new GrpcReceiver({
    ingest,
    maxMessageBytes: cfg.maxBodyBytes,
    log,
    ...(auth.enabled ? { authenticate: auth.grpc } : {}),
    ...(tls ? { credentials: ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false) } : {}),
    onExport: (signal, _result, outcome, seconds) => {
      metrics.requests.inc({ transport: 'grpc', signal, code: GrpcStatus[outcome?.grpc ?? GrpcStatus.OK] });
      metrics.requestDuration.observe({ transport: 'grpc', signal }, seconds);
    },
  });

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
    `verdict ready: OTLP/gRPC${tls ? ' (TLS)' : ''} on ${grpcAddresses.join(', ')}; OTLP/HTTP on ${httpAddresses.map((a) => `${tls ? 'https' : 'http'}://${a}`).join(', ')}` +
      `; metrics at ${tls ? 'https' : 'http'}://${httpAddresses[0]}/metrics${auth.enabled ? '; bearer tokens required' : ''}` +
      (store.kind === 'postgres' ? '; database: PostgreSQL (DATABASE_URL)' : `; embedded database in ${cfg.dataDir}${store.psqlCommand ? `, query it with: ${store.psqlCommand}` : ' (no wire port: --pg-port 0)'}`),
  );
  rules.watch();
  return { store, batcher, ingest, http, grpc, httpAddresses, grpcAddresses, metrics, reloadRules: () => rules.reload(), close };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${flag} ${file}: ${(err as Error).message}`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
