/**
 * The official OpenTelemetry JS SDK and OTLP exporters as test clients, in
 * the three OTLP protocols.
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { OTLPLogExporter as GrpcLogs } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogs } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogs } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as GrpcTraces } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraces } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraces } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';

export type Protocol = 'grpc' | 'http/protobuf' | 'http/json';
export const PROTOCOLS: readonly Protocol[] = ['grpc', 'http/protobuf', 'http/json'];

export interface Endpoints {
  /** e.g. http://127.0.0.1:4318 */
  http: string;
  /** e.g. http://127.0.0.1:4317 */
  grpc: string;
  headers?: Record<string, string>;
  /** The CA that signed the receiver's certificate, for https:// endpoints. */
  ca?: Buffer;
}

function grpcOptions(e: Endpoints) {
  return {
    url: e.grpc,
    ...(e.headers ? { metadata: metadataOf(e.headers) } : {}),
    ...(e.ca ? { credentials: credentials.createSsl(e.ca) } : {}),
  };
}

function httpOptions(e: Endpoints, path: string) {
  return { url: `${e.http}${path}`, ...(e.headers ? { headers: e.headers } : {}), ...(e.ca ? { httpAgentOptions: { ca: e.ca } } : {}) };
}

export function traceExporter(protocol: Protocol, e: Endpoints): SpanExporter {
  if (protocol === 'grpc') return new GrpcTraces(grpcOptions(e));
  if (protocol === 'http/protobuf') return new ProtoTraces(httpOptions(e, '/v1/traces'));
  return new JsonTraces(httpOptions(e, '/v1/traces'));
}

export function logExporter(protocol: Protocol, e: Endpoints): LogRecordExporter {
  if (protocol === 'grpc') return new GrpcLogs(grpcOptions(e));
  if (protocol === 'http/protobuf') return new ProtoLogs(httpOptions(e, '/v1/logs'));
  return new JsonLogs(httpOptions(e, '/v1/logs'));
}

function metadataOf(headers: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k.toLowerCase(), v);
  return m;
}

export interface Clients {
  tracerProvider: TracerProvider;
  loggerProvider: LoggerProvider;
  /** What the SDK recorded, to compare stored rows with. */
  recorded: InMemorySpanExporter;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function clients(protocol: Protocol, e: Endpoints, serviceName = `sdk-${protocol}`): Clients {
  const resource = resourceFromAttributes({ 'service.name': serviceName, 'service.version': '9.9.9' });
  const recorded = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor({ exporter: traceExporter(protocol, e) }), new SimpleSpanProcessor({ exporter: recorded })],
  });
  const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logExporter(protocol, e) })] });
  return {
    tracerProvider,
    loggerProvider,
    recorded,
    async flush() {
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    },
  };
}
