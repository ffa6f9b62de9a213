/**
 * Sending OTLP in tests: HTTP posts, raw gRPC calls, gzip. Requests are best
 * built with test/helpers/fixtures.ts; the encoders below take messages
 * written out by hand, for the tests that need a message exactly as written
 * (malformed on purpose, or in a form the builder does not make).
 */
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { LogsRequest, TraceRequest } from '../../src/otlp/proto.ts';

export { hexId } from './fixtures.ts';

/** Encodes an ExportTraceServiceRequest given in protobufjs object form (bytes as Buffers). */
export const traceProto = (obj: object): Buffer => Buffer.from(TraceRequest.encode(TraceRequest.fromObject(obj)).finish());
export const logsProto = (obj: object): Buffer => Buffer.from(LogsRequest.encode(LogsRequest.fromObject(obj)).finish());

export interface PostResult {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
}

export async function post(url: string, body: string | Uint8Array, headers: Record<string, string>, method = 'POST'): Promise<PostResult> {
  const res = await fetch(url, { method, body: method === 'GET' ? undefined : body, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body: bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

export const postJson = (url: string, obj: unknown, headers: Record<string, string> = {}) =>
  post(url, typeof obj === 'string' ? obj : JSON.stringify(obj), { 'content-type': 'application/json', ...headers });

export const postProto = (url: string, bytes: Uint8Array, headers: Record<string, string> = {}) =>
  post(url, bytes, { 'content-type': 'application/x-protobuf', ...headers });

export const gzip = (b: string | Uint8Array): Buffer => gzipSync(typeof b === 'string' ? Buffer.from(b) : b);

/** A minimal OTLP/JSON trace request with the given spans under one resource/scope. */
export function traceJson(spans: object[], resourceAttributes: object[] = [{ key: 'service.name', value: { stringValue: 'test-service' } }]) {
  return { resourceSpans: [{ resource: { attributes: resourceAttributes }, scopeSpans: [{ scope: { name: 'test-scope', version: '1.0' }, spans }] }] };
}

export function logsJson(logRecords: object[], resourceAttributes: object[] = [{ key: 'service.name', value: { stringValue: 'test-service' } }]) {
  return { resourceLogs: [{ resource: { attributes: resourceAttributes }, scopeLogs: [{ scope: { name: 'test-scope' }, logRecords }] }] };
}

export const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
export const int = (key: string, v: number | string) => ({ key, value: { intValue: String(v) } });
export const dbl = (key: string, v: number) => ({ key, value: { doubleValue: v } });

export interface GrpcResult {
  code: grpc.status;
  details: string;
  response: Buffer | null;
  metadata: grpc.Metadata | null;
}

/** One unary call with raw bytes, as an OTLP gRPC exporter makes it. */
export function grpcCall(address: string, path: string, body: Uint8Array, opts: { metadata?: grpc.Metadata; channel?: grpc.ChannelOptions; gzip?: boolean } = {}): Promise<GrpcResult> {
  const channelOptions: grpc.ChannelOptions = { ...(opts.channel ?? {}) };
  if (opts.gzip) channelOptions['grpc.default_compression_algorithm'] = 2; // gzip
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | null = null;
    const call = client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      opts.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + 20_000 },
      (err, response) => {
        client.close();
        if (err) resolve({ code: err.code, details: err.details, response: null, metadata: err.metadata ?? trailers });
        else resolve({ code: grpc.status.OK, details: '', response: response ?? Buffer.alloc(0), metadata: trailers });
      },
    );
    call.on('status', (s) => (trailers = s.metadata));
  });
}

export const TRACE_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
export const LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
export const METRICS_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';
