/**
 * The official OpenTelemetry JS SDK and OTLP exporters as test clients, in
 * the three OTLP protocols.
 */
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
}

export function traceExporter(protocol: Protocol, e: Endpoints): SpanExporter {
  const headers = e.headers;
  if (protocol === 'grpc') return new GrpcTraces({ url: e.grpc, ...(headers ? { metadata: metadataOf(headers) } : {}) });
  if (protocol === 'http/protobuf') return new ProtoTraces({ url: `${e.http}/v1/traces`, headers });
  return new JsonTraces({ url: `${e.http}/v1/traces`, headers });
}

export function logExporter(protocol: Protocol, e: Endpoints): LogRecordExporter {
  const headers = e.headers;
  if (protocol === 'grpc') return new GrpcLogs({ url: e.grpc, ...(headers ? { metadata: metadataOf(headers) } : {}) });
  if (protocol === 'http/protobuf') return new ProtoLogs({ url: `${e.http}/v1/logs`, headers });
  return new JsonLogs({ url: `${e.http}/v1/logs`, headers });
}

function metadataOf(headers: Record<string, string>) {
  // Lazy import keeps grpc-js out of files that do not use it.
  return import('@grpc/grpc-js').then(({ Metadata }) => {
    const m = new Metadata();
    for (const [k, v] of Object.entries(headers)) m.set(k, v);
    return m;
  }) as never;
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
