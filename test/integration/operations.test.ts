/**
 * Running it: Prometheus metrics, bearer-token auth on both transports,
 * and TLS with the official exporters.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';
import { ConfigError } from '../../src/errors.ts';
import { baseConfig, BACKENDS, serverForSuite, startTestServer, type TestServer } from '../helpers/server.ts';
import { grpcCall, post, postJson, TRACE_PATH } from '../helpers/otlp.ts';
import { hexId, logs, traces } from '../helpers/fixtures.ts';
import { clients, PROTOCOLS } from '../helpers/sdk.ts';
import { tempDir } from '../helpers/tmp.ts';

const span = (traceId: string, n = 1) => ({ traceId, spanId: hexId(8, n) });
const protoSpans = (traceId: string) => traces([span(traceId)]).proto();

/** The value of one sample in Prometheus text format. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe.each(BACKENDS)('metrics on %s', (backend) => {
  const t = serverForSuite(backend);

  it('counts accepted and refused items by transport, requests, writes and the process', async () => {
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([span(hexId(16, 1), 1), span(hexId(16, 1), 2), span('00'.repeat(16), 3)]).json())).status).toBe(200);
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, protoSpans(hexId(16, 2)))).code).toBe(0);
    expect((await postJson(`${t.httpUrl}/v1/logs`, logs([{ body: 'x' }, { eventName: 'gen_ai.evaluation.result', attributes: { 'gen_ai.evaluation.name': 'ok', 'gen_ai.evaluation.score.label': 'pass' } }]).json())).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/feedback`, { trace_id: hexId(16, 1), name: 'thumbs', score_label: 'thumbs_up' })).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, '{')).status).toBe(400);
    const res = await fetch(`${t.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(sample(text, 'verdict_receiver_accepted_spans_total', { transport: 'http' })).toBe(2);
    expect(sample(text, 'verdict_receiver_accepted_spans_total', { transport: 'grpc' })).toBe(1);
    expect(sample(text, 'verdict_receiver_refused_spans_total', { transport: 'http', reason: 'invalid' })).toBe(1);
    expect(sample(text, 'verdict_receiver_accepted_log_records_total', { transport: 'http' })).toBe(2);
    expect(sample(text, 'verdict_receiver_accepted_evaluations_total', { transport: 'http' })).toBe(2);
    expect(sample(text, 'verdict_receiver_requests_total', { transport: 'http', signal: 'traces', code: '200' })).toBe(1);
    expect(sample(text, 'verdict_receiver_requests_total', { transport: 'http', signal: 'traces', code: '400' })).toBe(1);
    expect(sample(text, 'verdict_receiver_requests_total', { transport: 'grpc', signal: 'traces', code: 'OK' })).toBe(1);
    expect(sample(text, 'verdict_receiver_request_duration_seconds_count', { transport: 'http', signal: 'traces' })).toBe(2);
    expect(sample(text, 'verdict_db_write_duration_seconds_count', { outcome: 'committed' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'verdict_db_batch_rows_sum')).toBeGreaterThanOrEqual(6);
    expect(sample(text, 'verdict_inflight_rows')).toBe(0);
    expect(sample(text, 'verdict_process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('bearer-token auth', () => {
  let t: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('auth');
    writeFileSync(join(dir, 'tokens'), '# one per line\nfrom-file-token\n');
    t = await startTestServer('pglite', { authTokens: ['s3cret-token'], authTokenFile: join(dir, 'tokens'), corsOrigins: ['https://app.example'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses HTTP ingest and feedback without a valid token with 401, and keeps health and metrics open', async () => {
    for (const path of ['/v1/traces', '/v1/logs']) {
      const none = await postJson(`${t.httpUrl}${path}`, {});
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect(none.json()).toEqual({ code: 16, message: 'missing bearer token: send Authorization: Bearer <token>' });
      expect((await postJson(`${t.httpUrl}${path}`, {}, { authorization: 'Bearer wrong' })).json().message).toBe('invalid bearer token');
      expect((await postJson(`${t.httpUrl}${path}`, {}, { authorization: 'Basic abc' })).status).toBe(401);
    }
    const proto = await post(`${t.httpUrl}/v1/traces`, protoSpans(hexId(16, 3)), { 'content-type': 'application/x-protobuf' });
    expect([proto.status, proto.headers.get('content-type')]).toEqual([401, 'application/x-protobuf']);
    expect((await postJson(`${t.httpUrl}/v1/feedback`, { trace_id: hexId(16, 3), name: 'x', score_value: 1 })).status).toBe(401);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([span(hexId(16, 3))]).json(), { authorization: 'Bearer s3cret-token' })).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traces([span(hexId(16, 4))]).json(), { authorization: 'bearer from-file-token' })).status).toBe(200);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${t.httpUrl}${path}`)).status).toBe(200);
    // A browser's preflight carries no credentials and is answered.
    expect((await fetch(`${t.httpUrl}/v1/feedback`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })).status).toBe(204);
    expect(await t.query(`SELECT trace_id FROM verdict.spans ORDER BY trace_id`)).toEqual([{ trace_id: hexId(16, 3) }, { trace_id: hexId(16, 4) }].sort((a, b) => a.trace_id.localeCompare(b.trace_id)));
  });

  it('refuses gRPC calls without a valid token with UNAUTHENTICATED', async () => {
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, protoSpans(hexId(16, 5)))).code).toBe(16);
    const wrong = new Metadata();
    wrong.set('authorization', 'Bearer nope');
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, protoSpans(hexId(16, 5)), { metadata: wrong })).details).toBe('invalid bearer token');
    const right = new Metadata();
    right.set('authorization', 'Bearer s3cret-token');
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, protoSpans(hexId(16, 5)), { metadata: right })).code).toBe(0);
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.spans WHERE trace_id = '${hexId(16, 5)}'`)).toEqual([{ n: 1 }]);
  });

  it('lets the official exporters in when configured with the token (OTEL_EXPORTER_OTLP_HEADERS style)', async () => {
    for (const protocol of PROTOCOLS) {
      const c = clients(protocol, { http: t.httpUrl, grpc: `http://${t.grpcAddress}`, headers: { Authorization: 'Bearer s3cret-token' } }, `authed-${protocol}`);
      c.tracerProvider.getTracer('t').startSpan('authed').end();
      await c.flush();
      await c.shutdown();
    }
    expect((await t.query<{ service_name: string }>(`SELECT service_name FROM verdict.spans WHERE name = 'authed' ORDER BY 1`)).map((r) => r.service_name)).toEqual(PROTOCOLS.map((p) => `authed-${p}`).sort());
  });

  it('stops start-up when the token file is missing or empty', async () => {
    await expect(startServer(baseConfig({ dataDir: 'memory://', authTokenFile: join(dir, 'missing') }), silentLogger)).rejects.toThrow(ConfigError);
    writeFileSync(join(dir, 'empty'), '# nothing\n');
    await expect(startServer(baseConfig({ dataDir: 'memory://', authTokenFile: join(dir, 'empty') }), silentLogger)).rejects.toThrow(`--auth-token-file ${join(dir, 'empty')} holds no token`);
  });
});

describe('TLS', () => {
  let t: TestServer;
  let ca: Buffer;
  beforeAll(async () => {
    const dir = tempDir('tls');
    // A self-signed certificate for the loopback names, made with the machine's openssl.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'));
    t = await startTestServer('pglite', { tlsCert: join(dir, 'cert.pem'), tlsKey: join(dir, 'key.pem') });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves gRPC and HTTP over TLS to the official exporters, and refuses plain text', async () => {
    const https = `https://127.0.0.1:${t.server.http.port}`;
    for (const protocol of PROTOCOLS) {
      const c = clients(protocol, { http: https, grpc: `https://127.0.0.1:${t.server.grpc.port}`, ca }, `tls-${protocol}`);
      c.tracerProvider.getTracer('t').startSpan('over tls').end();
      c.loggerProvider.getLogger('t').emit({ body: 'log over tls' });
      await c.flush();
      await c.shutdown();
    }
    expect((await t.query<{ service_name: string }>(`SELECT service_name FROM verdict.spans WHERE name = 'over tls' ORDER BY 1`)).map((r) => r.service_name)).toEqual(PROTOCOLS.map((p) => `tls-${p}`).sort());
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.logs WHERE body = '"log over tls"'`)).toEqual([{ n: 3 }]);
    await expect(fetch(`http://127.0.0.1:${t.server.http.port}/healthz`)).rejects.toThrow();
    expect((await grpcCall(`127.0.0.1:${t.server.grpc.port}`, TRACE_PATH, protoSpans(hexId(16, 6)))).code).toBe(14);
  });
});
