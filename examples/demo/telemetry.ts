/**
 * The OpenTelemetry SDK set-up: one TracerProvider (and LoggerProvider) per
 * service and version, each exporting OTLP/HTTP protobuf to Verdict, as the
 * separate processes of a real deployment would.
 *
 * - `service.name` and `service.version` are resource attributes: they say
 *   which deployment produced a span, so a deploy (1.4.0 → 1.5.0) is a new
 *   resource, and Verdict's drift queries group by it.
 * - A context manager (AsyncLocalStorage) makes `startActiveSpan` work across
 *   `await`: children are parented through the active context, and log
 *   records emitted inside a span carry its trace and span IDs.
 * - The W3C trace-context propagator carries the context to the knowledge-base
 *   service in request headers, so its span joins the agent's trace.
 * - The exporters are wrapped to count what Verdict accepted: the summary's
 *   span count is what was delivered, and a failed export is reported once,
 *   at the end, instead of being lost in the SDK's diagnostics.
 */
import { context, propagation, type Logger, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';

export interface TelemetryOptions {
  /** OTLP/HTTP base URL, e.g. http://localhost:4318 (the SDK appends /v1/traces and /v1/logs). */
  endpoint: string;
  /** Bearer token, when Verdict runs with --auth-tokens. */
  token?: string | undefined;
}

export interface Delivered {
  spans: number;
  /** Application log records (not verdicts). */
  logRecords: number;
  /** gen_ai.evaluation.result records. */
  evaluations: number;
  /** Export errors, as the exporter reported them. */
  failures: string[];
}

export interface Service {
  tracer: Tracer;
  logger: Logger;
}

export interface Telemetry {
  /** A service at a version: its own resource, tracer and logger. */
  service(name: string, version: string): Service;
  delivered: Delivered;
  /** Sends everything recorded so far, one provider after the other (see below). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export const EVALUATION_EVENT = 'gen_ai.evaluation.result';

export function startTelemetry(opts: TelemetryOptions): Telemetry {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  const headers: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  const delivered: Delivered = { spans: 0, logRecords: 0, evaluations: 0, failures: [] };
  const providers: Array<TracerProvider | LoggerProvider> = [];
  const services = new Map<string, Service>();

  return {
    delivered,
    service(name, version) {
      const key = `${name}@${version}`;
      const existing = services.get(key);
      if (existing) return existing;
      // The SDK's default resource adds telemetry.sdk.* (language, name, version).
      const resource = defaultResource().merge(
        resourceFromAttributes({ 'service.name': name, 'service.version': version, 'deployment.environment.name': 'production' }),
      );
      const tracerProvider = new TracerProvider({
        resource,
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: countingSpanExporter(new OTLPTraceExporter({ url: `${opts.endpoint}/v1/traces`, headers }), delivered),
            // The demo flushes after each conversation (flush() below); no timer-driven exports in between.
            scheduledDelayMillis: 60_000,
            maxQueueSize: 20_000,
          }),
        ],
      });
      const loggerProvider = new LoggerProvider({
        resource,
        processors: [
          new BatchLogRecordProcessor({
            exporter: countingLogExporter(new OTLPLogExporter({ url: `${opts.endpoint}/v1/logs`, headers }), delivered),
            scheduledDelayMillis: 60_000,
            maxQueueSize: 20_000,
          }),
        ],
      });
      providers.push(tracerProvider, loggerProvider);
      const service = { tracer: tracerProvider.getTracer('support-demo', '1.0.0'), logger: loggerProvider.getLogger('support-demo', '1.0.0') };
      services.set(key, service);
      return service;
    },
    async flush() {
      // In order, not all at once: when a conversation spans the deploy, its
      // earlier runs (1.4.0's provider) must be stored before its later ones
      // (1.5.0's), because Verdict's repeat rule compares a question with
      // those asked before it in the same conversation.
      // A failed export rejects the flush too; the counting exporter has recorded it for the summary.
      for (const p of providers) await p.forceFlush().catch(() => undefined);
    },
    async shutdown() {
      for (const p of providers) await p.shutdown().catch(() => undefined);
    },
  };
}

const describe = (r: ExportResult) => r.error?.message ?? 'export failed';

function countingSpanExporter(inner: SpanExporter, delivered: Delivered): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
      inner.export(spans, (r) => {
        if (r.code === ExportResultCode.SUCCESS) delivered.spans += spans.length;
        else delivered.failures.push(describe(r));
        done(r);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

function countingLogExporter(inner: LogRecordExporter, delivered: Delivered): LogRecordExporter {
  return {
    export(records: ReadableLogRecord[], done: (r: ExportResult) => void) {
      inner.export(records, (r) => {
        if (r.code !== ExportResultCode.SUCCESS) delivered.failures.push(describe(r));
        else {
          const evaluations = records.filter((x) => x.eventName === EVALUATION_EVENT).length;
          delivered.evaluations += evaluations;
          delivered.logRecords += records.length - evaluations;
        }
        done(r);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
