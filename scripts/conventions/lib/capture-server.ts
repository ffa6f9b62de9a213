/**
 * An OTLP/HTTP sink on loopback that keeps every export request body exactly
 * as it arrived (protobuf or JSON, gzip left as is), so the fixtures are what
 * the libraries really put on the wire.
 *
 * Each scenario exports to its own prefix, `http://127.0.0.1:PORT/<scenario>`,
 * so `<prefix>/v1/traces` and `<prefix>/v1/logs` land in `<outDir>/<scenario>/`
 * as `traces-1.pb`, `traces-2.pb`, `logs-1.pb`, ... (`.json` for JSON bodies,
 * `.gz` appended when the body was gzip-encoded). Anything else that reaches
 * the sink (a library calling home, say) is answered 404 and noted in
 * `unexpected`, so the report can say so.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface CapturedRequest {
  scenario: string;
  signal: 'traces' | 'logs';
  file: string;
  contentType: string;
  contentEncoding: string | undefined;
  userAgent: string | undefined;
  bytes: number;
}

export interface CaptureServer {
  port: number;
  /** The OTLP base URL for `scenario` (an exporter appends `/v1/traces`). */
  baseURL(scenario: string): string;
  captured: CapturedRequest[];
  unexpected: string[];
  close(): Promise<void>;
}

export async function startCaptureServer(outDir: string): Promise<CaptureServer> {
  const captured: CapturedRequest[] = [];
  const unexpected: string[] = [];
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/([^/]+)\/v1\/(traces|logs)$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) {
        unexpected.push(`${req.method} ${url.pathname}`);
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not an OTLP endpoint of the capture server\n');
        return;
      }
      const [, scenario, signal] = m as unknown as [string, string, 'traces' | 'logs'];
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const contentEncoding = req.headers['content-encoding'];
      const json = contentType === 'application/json';
      const key = `${scenario}/${signal}`;
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      const file = `${signal}-${n}.${json ? 'json' : 'pb'}${contentEncoding === 'gzip' ? '.gz' : ''}`;
      const body = Buffer.concat(chunks);
      fs.mkdirSync(path.join(outDir, scenario), { recursive: true });
      fs.writeFileSync(path.join(outDir, scenario, file), body);
      captured.push({ scenario, signal, file, contentType, contentEncoding, userAgent: req.headers['user-agent'], bytes: body.length });
      // An empty Export*ServiceResponse: zero bytes in protobuf, {} in JSON (no partial_success).
      if (json) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    baseURL: (scenario) => `http://127.0.0.1:${port}/${scenario}`,
    captured,
    unexpected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
