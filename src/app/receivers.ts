/**
 * The two OTLP receivers as the settings configure them: OTLP/HTTP (with the
 * feedback API, metrics, CORS and bearer tokens) and OTLP/gRPC, both calling
 * the same Ingest, both counted in the same metrics; and binding them, where
 * an address that cannot be used stops start-up naming the setting to change.
 */
import https from 'node:https';
import { ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { Config } from '../config.ts';
import { ConfigError, NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { AdminListener } from '../receivers/admin.ts';
import { corsMiddleware } from '../receivers/cors.ts';
import { ReceiveBudget } from '../receivers/receiving.ts';
import { exportRoute } from '../receivers/export.ts';
import { feedbackRoute } from '../receivers/feedback.ts';
import { GrpcReceiver } from '../receivers/grpc.ts';
import { HttpReceiver } from '../receivers/http.ts';
import { reviewApiRoute, reviewPageRoute } from '../receivers/review.ts';
import { ReviewerAuth } from '../receivers/reviewers.ts';
import type { Readiness, Store } from '../store/store.ts';
import type { Inputs } from './inputs.ts';
import type { Pipeline } from './pipeline.ts';

export interface Receivers {
  http: HttpReceiver;
  grpc: GrpcReceiver;
  /** With --admin-port. */
  admin: AdminListener | null;
}

export function createReceivers(cfg: Config, p: Pipeline, inputs: Inputs, ready: () => Promise<Readiness>, log: Logger, store: Store): Receivers {
  const { metrics, ingest } = p;
  const { auth, tls } = inputs;
  const page = reviewPageRoute();
  const renderMetrics = async () => ({ text: await metrics.registry.metrics(), contentType: metrics.registry.contentType });
  const receiveBudget = new ReceiveBudget({
    maxReceivingBytes: cfg.maxReceivingBytes,
    maxPerConnectionBytes: cfg.maxReceivingPerConnection,
    minBytesPerSecond: cfg.minReceiveRate,
    timeoutMs: cfg.receiveTimeoutMs,
  });
  const admin = cfg.adminPort === null ? null : new AdminListener({ ready, metrics: renderMetrics, log });
  const http = new HttpReceiver({
    ingest,
    maxBodyBytes: cfg.maxBodyBytes,
    maxInflateRatio: cfg.maxInflateRatio,
    receiveBudget,
    ready,
    log,
    routes: {
      '/v1/feedback': feedbackRoute({ ingest, policy: p.policy, maxBodyBytes: cfg.maxBodyBytes, maxInflateRatio: cfg.maxInflateRatio, receiveBudget }),
      '/v1/export': exportRoute({ db: () => store.db }),
      '/review': page,
      '/metrics': async (_req, res) => {
        // With an admin port, scrapes go there: the ingest port renders nothing on request.
        if (admin) throw new NotFoundError('metrics are on the admin port (--admin-port)');
        const m = await renderMetrics();
        res.writeHead(200, { 'Content-Type': m.contentType });
        res.end(m.text);
      },
    },
    prefixRoutes: {
      '/v1/review/': reviewApiRoute({ db: () => store.db, config: inputs.review.current, auth: new ReviewerAuth(() => inputs.review.current().reviewers), ingest, maxBodyBytes: cfg.maxBodyBytes }),
      '/review/': page,
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
    receiveTimeoutMs: cfg.receiveTimeoutMs,
    maxSessionMemoryMiB: Math.ceil(cfg.maxReceivingPerConnection / (1024 * 1024)),
    log,
    ...(auth.enabled ? { authenticate: auth.grpc } : {}),
    ...(tls ? { credentials: ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false) } : {}),
    onExport: (signal, _result, outcome, seconds) => {
      metrics.requests.inc({ transport: 'grpc', signal, code: GrpcStatus[outcome?.grpc ?? GrpcStatus.OK] });
      metrics.requestDuration.observe({ transport: 'grpc', signal }, seconds);
    },
  });
  return { http, grpc, admin };
}

/** Binds gRPC, then HTTP; if either fails, neither is left running. Returns their addresses. */
export async function listen(r: Receivers, cfg: Config): Promise<{ grpc: string[]; http: string[]; admin: string[] }> {
  try {
    const grpc = await bind(() => r.grpc.listen(cfg.host, cfg.grpcPort), cfg.host, cfg.grpcPort, '--grpc-port');
    const http = await bind(() => r.http.listen(cfg.host, cfg.httpPort), cfg.host, cfg.httpPort, '--http-port');
    const admin = r.admin && cfg.adminPort !== null ? await bind(() => r.admin!.listen(cfg.host, cfg.adminPort!), cfg.host, cfg.adminPort, '--admin-port') : [];
    return { grpc, http, admin };
  } catch (err) {
    await r.grpc.forceClose();
    await Promise.all([r.http.close(), r.admin?.close()]);
    throw err;
  }
}

/** Turns the bind errors a user can fix into one line naming the setting. */
export async function bind<T>(fn: () => Promise<T>, host: string, port: number, flag: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const text = `${(err as NodeJS.ErrnoException).code ?? ''} ${String(err)}`;
    if (/EADDRINUSE|address already in use/i.test(text)) {
      throw new ConfigError(`port ${port} on ${host} is already in use (${flag}): stop what uses it, or choose another port with ${flag}`);
    }
    if (/EACCES|permission denied/i.test(text)) {
      throw new ConfigError(`no permission to listen on port ${port} (${flag}): ports below 1024 need privileges; choose another with ${flag}`);
    }
    if (/EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN|EINVAL|Name resolution failed|getaddrinfo/i.test(text)) {
      throw new ConfigError(`cannot listen on host ${JSON.stringify(host)} (--host): it is not an address of this machine; use localhost, 0.0.0.0 or one of its addresses`);
    }
    throw err;
  }
}
