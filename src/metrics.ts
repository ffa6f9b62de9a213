/**
 * Prometheus metrics, served at /metrics on the HTTP port. Receiver counters
 * are named like the OpenTelemetry Collector's self-telemetry
 * (otelcol_receiver_accepted_spans, …) with a `verdict_` prefix, so the usual
 * dashboards and alerts translate directly.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type Transport = 'grpc' | 'http';
export type Item = 'spans' | 'log_records' | 'evaluations';

export class Metrics {
  readonly registry = new Registry();
  readonly #accepted: Record<Item, Counter<'transport'>>;
  readonly #refused: Record<Item, Counter<'transport' | 'reason'>>;
  readonly requests: Counter<'transport' | 'signal' | 'code'>;
  readonly requestDuration: Histogram<'transport' | 'signal'>;
  readonly writeDuration: Histogram<'outcome'>;
  readonly batchRows: Histogram;
  readonly batchRequests: Histogram;
  readonly dbErrors: Counter<'kind'>;
  /** What was accepted by service and refused by reason since the last summary log line (src/app/summary.ts). */
  readonly tally = new Tally();

  constructor(inflight: () => { rows: number; bytes: number }) {
    const r = this.registry;
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers: [r] });
    this.#accepted = {
      spans: counter('verdict_receiver_accepted_spans_total', 'Spans stored (committed), by transport.', ['transport']),
      log_records: counter('verdict_receiver_accepted_log_records_total', 'Log records stored (committed), evaluation events included, by transport.', ['transport']),
      evaluations: counter('verdict_receiver_accepted_evaluations_total', 'Verdicts stored (committed) from OTLP, the feedback API and rules, by transport.', ['transport']),
    };
    this.#refused = {
      spans: counter('verdict_receiver_refused_spans_total', 'Spans not stored, by transport and reason (invalid, overloaded, unavailable, refused_by_database).', ['transport', 'reason']),
      log_records: counter('verdict_receiver_refused_log_records_total', 'Log records not stored, by transport and reason.', ['transport', 'reason']),
      evaluations: counter('verdict_receiver_refused_evaluations_total', 'Verdicts not stored, by transport and reason.', ['transport', 'reason']),
    };
    this.requests = counter('verdict_receiver_requests_total', 'Export and feedback requests, by transport, signal and answer (HTTP status or gRPC code name).', ['transport', 'signal', 'code']);
    this.requestDuration = new Histogram({
      name: 'verdict_receiver_request_duration_seconds', help: 'Time from a request\'s arrival to its answer (commit included).', labelNames: ['transport', 'signal'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r],
    });
    this.writeDuration = new Histogram({
      name: 'verdict_db_write_duration_seconds', help: 'Duration of one write transaction (COPY through COMMIT).', labelNames: ['outcome'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [r],
    });
    this.batchRows = new Histogram({ name: 'verdict_db_batch_rows', help: 'Rows per write transaction.', buckets: [1, 10, 100, 500, 1000, 2000, 4000, 8000, 16000], registers: [r] });
    this.batchRequests = new Histogram({ name: 'verdict_db_batch_requests', help: 'Requests coalesced into one write transaction.', buckets: [1, 2, 4, 8, 16, 32], registers: [r] });
    this.dbErrors = counter('verdict_db_errors_total', 'Failed write transactions, by kind (unavailable: retryable; data: refused rows).', ['kind']);
    new Gauge({ name: 'verdict_inflight_rows', help: 'Rows queued or being written.', registers: [r], collect() { this.set(inflight().rows); } });
    new Gauge({ name: 'verdict_inflight_bytes', help: 'Request bytes queued or being written (the admission bound).', registers: [r], collect() { this.set(inflight().bytes); } });
    collectDefaultMetrics({ register: r, prefix: 'verdict_' });
  }

  accepted(item: Item, transport: Transport, n: number): void {
    if (n > 0) this.#accepted[item].inc({ transport }, n);
  }

  refused(item: Item, transport: Transport, reason: string, n: number): void {
    if (n > 0) {
      this.#refused[item].inc({ transport, reason }, n);
      this.tally.add('refused', item, reason, n);
    }
  }
}

export type Counts = Record<Item, Record<string, number>>;

/**
 * Counts by item and one more key (the service for accepted items, the reason
 * for refused ones) since the last take(). Service names are not Prometheus
 * labels, since there is no bound on how many a sender invents; here too only
 * the first MAX_KEYS of a period are kept apart, the rest add up under "other".
 */
export class Tally {
  static readonly MAX_KEYS = 50;
  #counts = { accepted: emptyCounts(), refused: emptyCounts() };
  #keys = new Set<string>();

  add(kind: 'accepted' | 'refused', item: Item, key: string, n: number): void {
    if (n <= 0) return;
    if (!this.#keys.has(key)) {
      if (this.#keys.size >= Tally.MAX_KEYS) key = 'other';
      this.#keys.add(key);
    }
    const counts = this.#counts[kind][item];
    counts[key] = (counts[key] ?? 0) + n;
  }

  /** The counts since the last call, or null when nothing arrived. */
  take(): { accepted: Counts; refused: Counts } | null {
    if (this.#keys.size === 0) return null;
    const taken = this.#counts;
    this.#counts = { accepted: emptyCounts(), refused: emptyCounts() };
    this.#keys.clear();
    return taken;
  }
}

const emptyCounts = (): Counts => ({ spans: {}, log_records: {}, evaluations: {} });
