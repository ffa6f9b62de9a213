/**
 * The admin listener's thread (receivers/admin.ts): /healthz, /readyz and
 * /metrics parsed and answered off the main thread, so a flood of them costs
 * the ingest path's event loop nothing but one metrics rendering a second.
 * Readiness arrives as state pushed by the main thread; metrics text is asked
 * for at most once per METRICS_MAX_AGE_MS and shared by every request meanwhile.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { bindAddresses, formatAddress, isAddressUnavailable } from './listen.ts';

export interface AdminThreadData {
  host: string;
  port: number;
}

/** Messages between the threads. */
export type ToAdmin = { type: 'ready'; ok: boolean; reason?: string } | { type: 'metrics'; text: string; contentType: string } | { type: 'close' };
export type FromAdmin = { type: 'listening'; addresses: string[]; port: number } | { type: 'error'; code?: string; message: string } | { type: 'metrics?' } | { type: 'closed' };

/** A scrape every 15 s is usual; a second-old rendering is fresh enough for anyone. */
const METRICS_MAX_AGE_MS = 1000;
/**
 * Requests answered per second, all connections together. Probes and scrapes
 * come a few times a minute; a flood beyond this waits its turn (a client
 * that waits for each answer is slowed to this rate), so even off the main
 * thread it cannot take the CPU ingest needs (two cores: a thread of its own is
 * not a core of its own). Beyond MAX_WAITING waiting requests, the connection
 * is closed. Measured: docs/operations.md, "Admin port".
 */
const ANSWERS_PER_SECOND = 50;
const MAX_WAITING = 256;
const MAX_CONNECTIONS = 64;

const port = parentPort!;
const { host, port: wanted } = workerData as AdminThreadData;
let ready: { ok: boolean; reason?: string } = { ok: false, reason: 'starting' };
let metrics: { text: string; contentType: string; at: number } | null = null;
const metricsWaiters: Array<() => void> = [];
const servers: http.Server[] = [];

const send = (m: FromAdmin) => port.postMessage(m);

port.on('message', (m: ToAdmin) => {
  if (m.type === 'ready') ready = m.ok ? { ok: true } : { ok: false, reason: m.reason ?? 'not ready' };
  else if (m.type === 'metrics') {
    metrics = { text: m.text, contentType: m.contentType, at: Date.now() };
    for (const f of metricsWaiters.splice(0)) f();
  } else if (m.type === 'close') {
    void Promise.all(servers.map((s) => new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    }))).then(() => {
      send({ type: 'closed' });
      port.close();
    });
  }
});

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function freshMetrics(): Promise<{ text: string; contentType: string }> {
  if (metrics && Date.now() - metrics.at < METRICS_MAX_AGE_MS) return metrics;
  const got = new Promise<void>((r) => metricsWaiters.push(r));
  if (metricsWaiters.length === 1) send({ type: 'metrics?' });
  await got;
  return metrics!;
}

let tokens = ANSWERS_PER_SECOND;
let refilled = Date.now();
const queue: Array<() => void> = [];
let pump: NodeJS.Timeout | null = null;

function refill(): void {
  const now = Date.now();
  tokens = Math.min(ANSWERS_PER_SECOND, tokens + ((now - refilled) * ANSWERS_PER_SECOND) / 1000);
  refilled = now;
}

function drain(): void {
  refill();
  while (tokens >= 1 && queue.length > 0) {
    tokens--;
    queue.shift()!();
  }
  pump = queue.length > 0 ? setTimeout(drain, 1000 / ANSWERS_PER_SECOND) : null;
}

/** Answers now if the rate allows, else when it does; a flood past MAX_WAITING loses its connection. */
function admit(req: IncomingMessage, res: ServerResponse): void {
  refill();
  if (queue.length === 0 && tokens >= 1) {
    tokens--;
    return answer(req, res);
  }
  if (queue.length >= MAX_WAITING) {
    req.socket.destroy();
    return;
  }
  queue.push(() => {
    if (!res.destroyed) answer(req, res);
  });
  pump ??= setTimeout(drain, 1000 / ANSWERS_PER_SECOND);
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'application/json', JSON.stringify({ status: 'method not allowed; the admin port answers GET' }));
  switch (path) {
    case '/healthz':
      return reply(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
    case '/readyz':
      return reply(res, ready.ok ? 200 : 503, 'application/json', JSON.stringify(ready.ok ? { status: 'ready' } : { status: 'not ready', reason: ready.reason }));
    case '/metrics':
      void freshMetrics().then((m) => reply(res, 200, m.contentType, m.text));
      return;
    default:
      return reply(res, 404, 'application/json', JSON.stringify({ status: `no route ${path} on the admin port: /healthz, /readyz and /metrics` }));
  }
}


async function listen(): Promise<void> {
  const bound: string[] = [];
  let p = wanted;
  for (const address of bindAddresses(host)) {
    const server = http.createServer(admit);
    server.maxConnections = MAX_CONNECTIONS;
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port: p, ipv6Only: address.includes(':') }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      if (bound.length > 0 && isAddressUnavailable(err)) continue;
      throw err;
    }
    p = (server.address() as AddressInfo).port;
    servers.push(server);
    bound.push(formatAddress(address, p));
  }
  send({ type: 'listening', addresses: bound, port: p });
}

listen().catch((err: NodeJS.ErrnoException) => {
  send({ type: 'error', ...(err.code ? { code: err.code } : {}), message: err.message });
  for (const s of servers) s.close();
  port.close();
});
