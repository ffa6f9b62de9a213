/**
 * OTLP/HTTP receiver (OTLP specification, "OTLP/HTTP"): POST /v1/traces and
 * /v1/logs with application/x-protobuf or application/json bodies, answered in
 * the request's encoding; plus the health endpoints and whatever extra routes
 * the server mounts (feedback API, metrics).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MethodNotAllowedError, NotFoundError, UnavailableError, UnsupportedMediaTypeError } from '../errors.ts';
import type { ExportResult, Ingest } from '../ingest.ts';
import type { Logger } from '../log.ts';
import { checkJsonLimits, OTLP_JSON_LIMITS } from '../otlp/json.ts';
import { LogsResponse, TraceResponse } from '../otlp/proto.ts';
import type { Encoding, Signal } from '../otlp/types.ts';
import type { Readiness } from '../store/store.ts';
import { readBody } from './body.ts';
import type { ReceiveBudget } from './receiving.ts';
import { bindAddresses, formatAddress, isAddressUnavailable } from './listen.ts';
import { RefusalLog } from './refusals.ts';
import { METRICS_NOT_STORED, outcomeOf, statusJson, statusProto, type Outcome } from './status.ts';

/** An extra route; it writes its own response or throws an error that status.ts maps. */
export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Runs before every request; may answer it (CORS preflight) and return true, or throw (auth). */
export type Middleware = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> | boolean;

export interface HttpReceiverOptions {
  ingest: Ingest;
  maxBodyBytes: number;
  /** --max-inflate-ratio (receivers/body.ts). */
  maxInflateRatio?: number;
  /** Bytes being received, the minimum rate and the receive timeout (receivers/receiving.ts). */
  receiveBudget?: ReceiveBudget;
  ready: () => Promise<Readiness>;
  log: Logger;
  routes?: Record<string, Route>;
  /** Routes for every path under a prefix (the key, ending in '/'), tried after the exact routes. */
  prefixRoutes?: Record<string, Route>;
  middleware?: Middleware[];
  /** Called once per OTLP request with its outcome, for metrics. */
  onExport?: (signal: Signal, result: ExportResult | null, outcome: Outcome | null, seconds: number) => void;
  /** TLS: when set, an HTTPS server is created with these options. */
  createServer?: (handler: http.RequestListener) => http.Server;
}

const MEDIA_TYPES: Record<string, Encoding> = { 'application/x-protobuf': 'protobuf', 'application/json': 'json' };

export class HttpReceiver {
  readonly #opts: HttpReceiverOptions;
  readonly #servers: http.Server[] = [];
  /** Requests not answered yet, for the drain deadline. */
  readonly #active = new Set<{ req: IncomingMessage; res: ServerResponse }>();
  #draining = false;
  readonly #refusals: RefusalLog;

  constructor(opts: HttpReceiverOptions) {
    this.#opts = opts;
    this.#refusals = new RefusalLog(opts.log);
  }

  /** Binds every address of `host` on `port` (0 = any free port, the same on all addresses); returns host:port strings. */
  async listen(host: string, port: number): Promise<string[]> {
    const bound: string[] = [];
    for (const address of bindAddresses(host)) {
      const server = this.#opts.createServer ? this.#opts.createServer(this.#handle) : http.createServer(this.#handle);
      // Idle keep-alive connections stay open longer than clients keep theirs (Node's agent: 4 s, most others
      // less than a minute), so it is the client that closes an idle connection, never a request racing the
      // server's close (which the client sees as ECONNRESET).
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: address, port, ipv6Only: address.includes(':') }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        if (bound.length > 0 && isAddressUnavailable(err)) continue;
        await this.close();
        throw err;
      }
      port = (server.address() as AddressInfo).port;
      this.#servers.push(server);
      bound.push(formatAddress(address, port));
    }
    return bound;
  }

  get port(): number {
    return (this.#servers[0]?.address() as AddressInfo | undefined)?.port ?? 0;
  }

  /** Stop taking new requests: they get 503 with Retry-After; in-flight ones finish. */
  drain(): void {
    this.#draining = true;
  }

  /** Closes the listeners after in-flight requests have been answered. */
  async close(): Promise<void> {
    this.#draining = true;
    await Promise.all(
      this.#servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
          }),
      ),
    );
  }

  /**
   * The drain deadline has passed: bodies still arriving are cut, and every
   * request not answered yet gets 503 with Retry-After (OTLP clients retry
   * it) and Connection: close, never a reset; then the connections close.
   */
  async forceClose(): Promise<void> {
    this.#draining = true;
    this.#opts.receiveBudget?.cutAll();
    for (const a of this.#active) {
      if (a.res.headersSent) continue;
      a.res.setHeader('Connection', 'close');
      this.#fail(a.req, a.res, new UnavailableError('the receiver is shutting down before this request could finish; retry', 5), String(a.req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-protobuf') ? 'protobuf' : 'json');
    }
    // Let the answers flush, then close what is left.
    await new Promise((r) => setTimeout(r, 200));
    for (const s of this.#servers) s.closeAllConnections();
  }

  readonly #handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Errors before the body is read (auth, draining, routing) answer in the request's encoding too.
    const protobuf = String(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-protobuf');
    const entry = { req, res };
    this.#active.add(entry);
    res.once('close', () => this.#active.delete(entry));
    void this.#route(req, res).catch((err: unknown) => {
      if (!res.writableEnded) this.#fail(req, res, err, protobuf ? 'protobuf' : 'json');
    });
  };

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    for (const m of this.#opts.middleware ?? []) if (await m(req, res, path)) return;
    if (this.#draining && path !== '/healthz' && path !== '/readyz') {
      res.setHeader('Connection', 'close');
      throw new UnavailableError('the receiver is shutting down', 5);
    }
    switch (path) {
      case '/v1/traces':
        return this.#otlp(req, res, 'traces');
      case '/v1/logs':
        return this.#otlp(req, res, 'logs');
      case '/v1/metrics':
        throw new NotFoundError(`${METRICS_NOT_STORED}; traces go to /v1/traces and logs to /v1/logs`);
      case '/':
        // What an SDK posts to when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT has no path: that variable is used as-is.
        throw new NotFoundError('no OTLP signal at "/": POST traces to /v1/traces and logs to /v1/logs (a per-signal endpoint such as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must include the path, or set OTEL_EXPORTER_OTLP_ENDPOINT instead)');
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        const r = this.#draining ? { ok: false, reason: 'shutting down' } : await this.#opts.ready();
        return sendJson(res, r.ok ? 200 : 503, r.ok ? { status: 'ready' } : { status: 'not ready', reason: r.reason });
      }
      default: {
        const route = this.#opts.routes?.[path] ?? Object.entries(this.#opts.prefixRoutes ?? {}).find(([prefix]) => path.startsWith(prefix))?.[1];
        if (route) return route(req, res);
        throw new NotFoundError(`no route ${path}; OTLP traces go to /v1/traces and logs to /v1/logs`);
      }
    }
  }

  async #otlp(req: IncomingMessage, res: ServerResponse, signal: Signal): Promise<void> {
    if (req.method !== 'POST') throw new MethodNotAllowedError(`${req.method} is not allowed on /v1/${signal}; supported: POST`, 'POST');
    const mediaType = String(req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    const encoding = MEDIA_TYPES[mediaType];
    if (!encoding) {
      res.setHeader('Connection', 'close');
      throw new UnsupportedMediaTypeError(`unsupported media type ${JSON.stringify(mediaType)}; supported: application/x-protobuf, application/json`);
    }
    const started = performance.now();
    try {
      // Turn away an over-budget body before reading it, when its size is declared.
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared)) this.#opts.ingest.checkAdmission(declared);
      const body = await readBody(req, this.#opts.maxBodyBytes, this.#opts.maxInflateRatio, this.#opts.receiveBudget,
        encoding === 'json' ? (prefix) => checkJsonLimits(prefix, OTLP_JSON_LIMITS) : undefined);
      const result = signal === 'traces' ? await this.#opts.ingest.traces(body, encoding, 'http') : await this.#opts.ingest.logs(body, encoding, 'http');
      this.#opts.onExport?.(signal, result, null, (performance.now() - started) / 1000);
      // Answered already (503) when the drain deadline passed while it was being written.
      if (res.writableEnded || res.headersSent) return;
      // While draining, close the connection after answering so shutdown need not wait for keep-alive to expire.
      if (this.#draining) res.setHeader('Connection', 'close');
      sendExportResponse(res, signal, encoding, result);
    } catch (err) {
      this.#opts.onExport?.(signal, null, outcomeOf(err), (performance.now() - started) / 1000);
      // Answered already when the drain deadline cut it.
      if (!res.writableEnded) this.#fail(req, res, err, encoding);
    }
  }

  #fail(req: IncomingMessage, res: ServerResponse, err: unknown, encoding: Encoding): void {
    const o = outcomeOf(err);
    // One line per failed request, with its cause (never one per span).
    const line = { method: req.method, path: req.url, status: o.http, err: o.message, ...(o.detail ? { detail: o.detail } : {}) };
    if (o.http >= 500) this.#opts.log.warn(line, 'request failed');
    else this.#refusals.refused(line);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (o.retryAfter !== undefined) res.setHeader('Retry-After', String(o.retryAfter));
    if (o.allow) res.setHeader('Allow', o.allow);
    // A body we stopped reading must not be parsed as the next request.
    if (o.http === 413 || !req.complete) res.setHeader('Connection', 'close');
    if (encoding === 'protobuf') send(res, o.http, 'application/x-protobuf', statusProto(o));
    else send(res, o.http, 'application/json', statusJson(o));
  }
}

function sendExportResponse(res: ServerResponse, signal: Signal, encoding: Encoding, r: ExportResult): void {
  // Full success leaves partial_success unset (OTLP "Full Success").
  const partial = r.rejected > 0 || r.message !== '';
  if (encoding === 'json') {
    const key = signal === 'traces' ? 'rejectedSpans' : 'rejectedLogRecords';
    send(res, 200, 'application/json', partial ? JSON.stringify({ partialSuccess: { [key]: String(r.rejected), errorMessage: r.message } }) : '{}');
    return;
  }
  const type = signal === 'traces' ? TraceResponse : LogsResponse;
  const body = partial
    ? type.encode(type.fromObject({ partialSuccess: signal === 'traces' ? { rejectedSpans: r.rejected, errorMessage: r.message } : { rejectedLogRecords: r.rejected, errorMessage: r.message } })).finish()
    : new Uint8Array(0);
  send(res, 200, 'application/x-protobuf', body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
