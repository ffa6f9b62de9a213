/**
 * The transport-neutral export path, one function per signal, called by both
 * the gRPC and the HTTP receiver: decode → normalise → queue for commit →
 * partial-success result. Transports only move bytes and map outcomes.
 */
import { BadRequestError, DataError, OverloadedError, TooLargeError } from './errors.ts';
import type { Metrics, Transport } from './metrics.ts';
import { decodeLogsJson, decodeTraceJson } from './otlp/json.ts';
import { checkDecodeBudget, PROTOBUF_MAX_DEPTH } from './otlp/budget.ts';
import { decodeLogsRequest, decodeTraceRequest, LogsRequest, TraceRequest } from './otlp/proto.ts';
import type { Encoding, ExportLogsServiceRequest, ExportTraceServiceRequest, Signal } from './otlp/types.ts';
import type { EvaluationPolicy } from './normalize/evaluations.ts';
import { normalizeLogs, type LogObserver } from './normalize/logs.ts';
import { batchRows, type Batch } from './model/rows.ts';
import { normalizeTraces, type Normalized, type SpanObserver } from './normalize/spans.ts';
import type { Batcher } from './pipeline/batcher.ts';

/** What the client is told on success: how many items were rejected, and why. */
export interface ExportResult {
  rejected: number;
  message: string;
  /** Stored counts, for metrics. */
  accepted: { spans: number; logs: number; evaluations: number };
}

export interface IngestOptions {
  batcher: Batcher;
  /** Polarity and source for verdicts whose emitter did not say (from the config file's `feedback:` section). */
  policy: EvaluationPolicy;
  spanObservers?: readonly SpanObserver[];
  logObservers?: readonly LogObserver[];
  metrics?: Metrics;
  /**
   * Hears of each batch once it is committed (the review queues fill from
   * it, the online judges queue their jobs from it); must return at once and
   * must not throw.
   */
  onCommitted?: (batch: Batch) => void;
}

export class Ingest {
  readonly #opts: IngestOptions;
  constructor(opts: IngestOptions) {
    this.#opts = opts;
  }

  /** Throws OverloadedError (or UnavailableError while draining) if a body of this size would be turned away. */
  checkAdmission(bytes: number): void {
    this.#opts.batcher.checkAdmission(bytes);
  }

  async traces(body: Uint8Array, encoding: Encoding, transport: Transport): Promise<ExportResult> {
    this.#opts.batcher.checkAdmission(body.byteLength);
    if (encoding === 'protobuf') checkDecodeBudget(body, TraceRequest);
    const req = decode(() => (encoding === 'json' ? decodeTraceJson(body) : decodeTraceRequest(body)), encoding, 'ExportTraceServiceRequest') as ExportTraceServiceRequest;
    const normalized = normalizeTraces(req, { policy: this.#opts.policy, observers: this.#opts.spanObservers ?? [] });
    // Counted now, not after the commit: a closure over the request would keep every decoded span
    // alive while the write waits, for the garbage collector to copy again and again.
    const services = this.#opts.metrics ? spansByService(req, normalized) : undefined;
    return this.#store(normalized, body.byteLength, 'traces', transport, services);
  }

  async logs(body: Uint8Array, encoding: Encoding, transport: Transport): Promise<ExportResult> {
    this.#opts.batcher.checkAdmission(body.byteLength);
    if (encoding === 'protobuf') checkDecodeBudget(body, LogsRequest);
    const req = decode(() => (encoding === 'json' ? decodeLogsJson(body) : decodeLogsRequest(body)), encoding, 'ExportLogsServiceRequest');
    return this.#store(normalizeLogs(req as ExportLogsServiceRequest, { policy: this.#opts.policy, observers: this.#opts.logObservers ?? [] }), body.byteLength, 'logs', transport);
  }

  /** Queues rows; resolves after commit. Also the feedback API's way in. */
  async write(batch: Batch, bytes: number, transport: Transport, spanServices?: Map<string, number>): Promise<void> {
    const m = this.#opts.metrics;
    const logRecords = batch.logs.length + batch.evaluations.filter((e) => e.channel === 'log').length;
    try {
      await this.#opts.batcher.submit(batch, bytes);
    } catch (err) {
      const reason = err instanceof OverloadedError ? 'overloaded' : err instanceof DataError ? 'refused_by_database' : 'unavailable';
      m?.refused('spans', transport, reason, batch.spans.rows);
      m?.refused('log_records', transport, reason, logRecords);
      m?.refused('evaluations', transport, reason, batch.evaluations.length);
      throw err;
    }
    m?.accepted('spans', transport, batch.spans.rows);
    m?.accepted('log_records', transport, logRecords);
    m?.accepted('evaluations', transport, batch.evaluations.length);
    if (m) tallyServices(m, batch, spanServices);
    this.#opts.onCommitted?.(batch);
  }

  async #store(n: Normalized, bytes: number, signal: Signal, transport: Transport, spanServices?: Map<string, number>): Promise<ExportResult> {
    const { batch, rejections } = n;
    this.#opts.metrics?.refused(signal === 'traces' ? 'spans' : 'log_records', transport, 'invalid', rejections.rejected);
    // An empty request (or one whose items were all rejected) gets its answer at once (OTLP "Empty Telemetry Envelopes").
    if (batchRows(batch) > 0) await this.write(batch, bytes * 2, transport, spanServices);
    return {
      rejected: rejections.rejected,
      message: rejections.message(signal === 'traces' ? 'span' : 'log record'),
      accepted: { spans: batch.spans.rows, logs: batch.logs.length, evaluations: batch.evaluations.length },
    };
  }
}

const NO_SERVICE = '(no service.name)';

/** Stored items by the service that sent them, for the summary log line. */
function tallyServices(m: Metrics, batch: Batch, spanServices?: Map<string, number>): void {
  if (batch.spans.rows > 0) {
    for (const [service, n] of spanServices ?? [[NO_SERVICE, batch.spans.rows] as const]) m.tally.add('accepted', 'spans', service, n);
  }
  for (const row of batch.logs) m.tally.add('accepted', 'log_records', row.service_name ?? NO_SERVICE, 1);
  for (const row of batch.evaluations) {
    if (row.channel === 'log') m.tally.add('accepted', 'log_records', row.service_name ?? NO_SERVICE, 1);
    m.tally.add('accepted', 'evaluations', row.service_name ?? (row.channel === 'api' ? '/v1/feedback' : NO_SERVICE), 1);
  }
}

/**
 * Stored spans by their resource's service.name, counted per resource rather
 * than per span (the normaliser's hot loop stays as it is). Exact unless some
 * spans were rejected in a request from several services; those requests'
 * spans are counted under "several services".
 */
function spansByService(req: ExportTraceServiceRequest, n: Normalized): Map<string, number> {
  const byService = new Map<string, number>();
  for (const rs of req.resourceSpans) {
    let spans = 0;
    for (const ss of rs.scopeSpans) spans += ss.spans.length;
    const value = rs.resource?.attributes.find((kv) => kv.key === 'service.name')?.value?.stringValue;
    const service = value ? value.slice(0, 100) : NO_SERVICE;
    if (spans > 0) byService.set(service, (byService.get(service) ?? 0) + spans);
  }
  if (n.rejections.rejected === 0) return byService;
  const [only] = byService.keys();
  return new Map([[byService.size === 1 && only !== undefined ? only : 'several services', n.batch.spans.rows]]);
}

function decode<T>(fn: () => T, encoding: Encoding, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BadRequestError || err instanceof TooLargeError) throw err;
    // protobufjs stops at the nesting limit (otlp/proto.ts); named as the decode budget's scan names it (docs/operations.md, "Limits").
    if ((err as Error).message === 'max depth exceeded') throw new BadRequestError(`request body nests messages deeper than ${PROTOBUF_MAX_DEPTH} levels (the protobuf depth limit)`);
    // protobufjs reports wire errors ("index out of range", "invalid wire type"); deep nesting overflows the stack in either decoder.
    const reason = err instanceof RangeError && /call stack/.test(err.message) ? 'it nests too deeply' : (err as Error).message;
    throw new BadRequestError(`request body is not a valid ${what} in ${encoding === 'json' ? 'OTLP/JSON' : 'protobuf'}: ${reason}`);
  }
}
