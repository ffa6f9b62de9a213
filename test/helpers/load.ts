/**
 * Sustained load for the fault tests, with every answer recorded from the
 * client's side, so a test can tell exactly which spans the clients were
 * told were accepted ("acknowledged") and check them against the database.
 *
 * Three kinds of sender, each sending realistic GenAI traces
 * (bench/workload.ts) with fresh trace IDs on every request:
 *  - raw OTLP/HTTP protobuf over node:http with keep-alive, as exporters
 *    connect: acknowledged = HTTP 200;
 *  - raw OTLP/gRPC over one grpc-js channel: acknowledged = OK;
 *  - the official OpenTelemetry exporters (test/helpers/sdk.ts), called the
 *    way a span processor calls them, with their own retries: acknowledged =
 *    the export callback's SUCCESS.
 * Plus: starting the receiver as a child process, sampling its RSS, and the
 * stored-versus-acknowledged check.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { expect } from 'vitest';
import { makeSpans, Payload } from '../../bench/workload.ts';
import { RetryInfo, RpcStatus } from '../../src/otlp/proto.ts';
import { TRACE_PATH } from './otlp.ts';
import { spawnVerdict, type VerdictProcess } from './process.ts';
import { traceExporter, type Endpoints, type Protocol } from './sdk.ts';

// ---------------------------------------------------------------- requests

/** The (trace_id, span_id) pairs of one request, as lowercase hex. */
export interface Keys {
  traceIds: string[];
  spanIds: string[];
}

/** Spans of a request, known to the test before it is sent. */
interface Built {
  spans: number;
  keys(): Keys;
}

const hex32 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/**
 * Pre-encoded ExportTraceServiceRequests of `traces` agent runs (about ten
 * spans each); every `next(seq)` has trace IDs of its own (Payload.renew),
 * the span IDs are the template's.
 */
export class ProtobufSource {
  readonly salt = (Math.floor(Math.random() * 0x7fffffff) | 1) >>> 0;
  readonly #payload: Payload;
  /** Per trace of the template, in Payload's order: the trace ID's last 8 bytes (hex) and its span IDs. */
  readonly #traces: Array<{ tail: string; spanIds: string[] }>;

  private constructor(spans: ReadableSpan[]) {
    this.#payload = new Payload(spans);
    const order = [...new Set(spans.map((s) => s.spanContext().traceId))];
    this.#traces = order.map((id) => ({ tail: id.slice(16), spanIds: spans.filter((s) => s.spanContext().traceId === id).map((s) => s.spanContext().spanId) }));
  }

  static async create(traces: number, seed = 1): Promise<ProtobufSource> {
    return new ProtobufSource(await makeSpans(traces, seed));
  }

  get spansPerRequest(): number {
    return this.#payload.spans;
  }
  get bytesPerRequest(): number {
    return this.#payload.bytes.byteLength;
  }

  next(seq: number): Built & { body: Buffer } {
    const body = this.#payload.renew(this.salt, seq);
    const n = this.#traces.length;
    return {
      body,
      spans: this.#payload.spans,
      keys: () => {
        const traceIds: string[] = [];
        const spanIds: string[] = [];
        // Payload.renew writes the salt and (seq * traces + i) over the first 8 bytes of trace i's ID.
        this.#traces.forEach((t, i) => {
          const traceId = hex32(this.salt) + hex32(seq * n + i) + t.tail;
          for (const s of t.spanIds) {
            traceIds.push(traceId);
            spanIds.push(s);
          }
        });
        return { traceIds, spanIds };
      },
    };
  }
}

/** SDK ReadableSpans of `traces` agent runs; every `next(seq)` is a copy with trace IDs of its own. */
export class SpanSource {
  readonly #salt = hex32(Math.floor(Math.random() * 0x7fffffff) | 1);
  readonly #template: ReadableSpan[];
  readonly #index: Map<string, number>;

  private constructor(spans: ReadableSpan[]) {
    this.#template = spans;
    this.#index = new Map([...new Set(spans.map((s) => s.spanContext().traceId))].map((id, i) => [id, i]));
  }

  static async create(traces: number, seed = 2): Promise<SpanSource> {
    return new SpanSource(await makeSpans(traces, seed));
  }

  next(seq: number): Built & { spans: number; items: ReadableSpan[] } {
    const idOf = (templateId: string) => `${this.#salt}${hex32(seq)}${(this.#index.get(templateId) ?? 0).toString(16).padStart(4, '0')}${templateId.slice(20)}`;
    const items = this.#template.map((s): ReadableSpan => {
      const ctx = { ...s.spanContext(), traceId: idOf(s.spanContext().traceId) };
      return {
        name: s.name,
        kind: s.kind,
        spanContext: () => ctx,
        parentSpanContext: s.parentSpanContext ? { ...s.parentSpanContext, traceId: ctx.traceId } : undefined,
        startTime: s.startTime,
        endTime: s.endTime,
        status: s.status,
        attributes: s.attributes,
        links: s.links,
        events: s.events,
        duration: s.duration,
        ended: s.ended,
        resource: s.resource,
        instrumentationScope: s.instrumentationScope,
        droppedAttributesCount: s.droppedAttributesCount,
        droppedEventsCount: s.droppedEventsCount,
        droppedLinksCount: s.droppedLinksCount,
      };
    });
    return {
      items,
      spans: items.length,
      keys: () => ({ traceIds: items.map((s) => s.spanContext().traceId), spanIds: items.map((s) => s.spanContext().spanId) }),
    };
  }
}

// ---------------------------------------------------------------- senders

/** One answer, as the client saw it. */
export interface Answer {
  /** e.g. "http 200", "http 503", "http 429", "grpc OK", "grpc UNAVAILABLE", "exporter SUCCESS", "exporter FAILED", "ECONNREFUSED", "ECONNRESET", "timeout". */
  kind: string;
  /** The client was told the spans were accepted. */
  ok: boolean;
  /** HTTP Retry-After, or "RetryInfo <n>s" from gRPC status details; null when absent. */
  retryAfter: string | null;
  detail?: string;
}

export interface Sender {
  readonly name: string;
  send(seq: number): Promise<{ answer: Answer; built: Built }>;
  close(): Promise<void>;
}

function networkAnswer(err: Error & { code?: string }): Answer {
  const code = err.code ?? (err.message === 'socket hang up' ? 'ECONNRESET' : err.name);
  return { kind: code, ok: false, retryAfter: null, detail: err.message };
}

/** Raw OTLP/HTTP protobuf, keep-alive connections (as the official exporters use). */
export function httpSender(baseUrl: string, source: ProtobufSource, { timeoutMs = 30_000, name = 'http/protobuf raw' } = {}): Sender {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL('/v1/traces', baseUrl);
  return {
    name,
    async send(seq) {
      const built = source.next(seq);
      const answer = await new Promise<Answer>((resolve) => {
        const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': built.body.byteLength } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => resolve(networkAnswer(e)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const body = Buffer.concat(chunks);
            // A 200 with a body would be a partial success: these requests hold only valid spans.
            resolve({ kind: `http ${status}${status === 200 && body.byteLength > 0 ? ' partial' : ''}`, ok: status === 200 && body.byteLength === 0, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null });
          });
        });
        req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'timeout' })));
        req.on('error', (e) => resolve(networkAnswer(e)));
        req.end(built.body);
      });
      return { answer, built };
    },
    async close() {
      agent.destroy();
    },
  };
}

/**
 * RetryInfo's delay from a grpc-status-details-bin trailer, as "RetryInfo <n>s";
 * a detail whose google.protobuf.Any has no type URL (clients cannot tell what
 * it is) is reported as such; null when there are no details.
 */
function retryInfoOf(metadata: grpc.Metadata | undefined): string | null {
  const bin = metadata?.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(bin)) return null;
  try {
    // google.protobuf.Any comes from protobufjs's bundled descriptor: its field keeps the name type_url.
    const st = RpcStatus.decode(bin) as unknown as { details?: Array<{ type_url?: string; value?: Uint8Array }> };
    const details = st.details ?? [];
    const d = details.find((x) => (x.type_url ?? '').endsWith('/google.rpc.RetryInfo'));
    if (!d) return details.length > 0 ? `status details without RetryInfo (type URLs: ${JSON.stringify(details.map((x) => x.type_url ?? ''))})` : null;
    const ri = RetryInfo.decode(d.value ?? new Uint8Array()) as unknown as { retryDelay?: { seconds?: number | { toNumber(): number } } };
    const s = ri.retryDelay?.seconds;
    return `RetryInfo ${typeof s === 'object' && s !== null ? s.toNumber() : (s ?? 0)}s`;
  } catch (err) {
    return `undecodable status details: ${(err as Error).message}`;
  }
}

/** Raw OTLP/gRPC over one channel (as the official exporter keeps one). */
export function grpcSender(address: string, source: ProtobufSource, { timeoutMs = 30_000, name = 'grpc raw' } = {}): Sender {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    name,
    async send(seq) {
      const built = source.next(seq);
      const answer = await new Promise<Answer>((resolve) => {
        client.makeUnaryRequest(TRACE_PATH, (b: Buffer) => b, (b: Buffer) => b, built.body, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
          if (!err) resolve({ kind: `grpc OK${res && res.byteLength > 0 ? ' partial' : ''}`, ok: !res || res.byteLength === 0, retryAfter: null });
          else resolve({ kind: `grpc ${grpc.status[err.code] ?? err.code}`, ok: false, retryAfter: retryInfoOf(err.metadata), detail: err.details });
        });
      });
      return { answer, built };
    },
    async close() {
      client.close();
    },
  };
}

/** An official OpenTelemetry trace exporter (its defaults: 10 s timeout, its own retries). */
export function exporterSender(protocol: Protocol, endpoints: Endpoints, source: SpanSource): Sender {
  const exporter: SpanExporter = traceExporter(protocol, endpoints);
  return {
    name: `${protocol} exporter`,
    async send(seq) {
      const built = source.next(seq);
      const answer = await new Promise<Answer>((resolve) =>
        exporter.export(built.items, (r) => {
          // ExportResultCode.SUCCESS is 0 (@opentelemetry/core).
          resolve(r.code === 0 ? { kind: 'exporter SUCCESS', ok: true, retryAfter: null } : { kind: 'exporter FAILED', ok: false, retryAfter: null, detail: r.error?.message });
        }),
      );
      return { answer, built };
    },
    async close() {
      await exporter.shutdown();
    },
  };
}

// ---------------------------------------------------------------- the load

export interface Attempt {
  id: number;
  sender: string;
  /** Date.now() when the request was handed to the client library, and when its answer came. */
  sentAt: number;
  answeredAt: number;
  answer: Answer;
  spans: number;
}

export interface Lane {
  sender: Sender;
  /** Requests in flight at once from this sender. */
  concurrency: number;
  /** Pause after each success (think time); with `jitter`, a random 50-150% of it. */
  pauseMs?: number;
  /** Randomise pauses, and spread the lane's first requests over its pause, so clients do not move in lockstep. */
  jitter?: boolean;
  /** After a refusal, wait what Retry-After / RetryInfo says (as exporters do), at most 2 s; else 100 ms. */
  honourRetryAfter?: boolean;
  /** The lane sends nothing until this settles. */
  gate?: Promise<unknown>;
}

/** Request numbers, unique across every Load of the process (sources derive trace IDs from them). */
let lastSeq = 0;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs lanes of senders until stopped; records every attempt and the keys of every acknowledged one. */
export class Load {
  readonly attempts: Attempt[] = [];
  /** Requests sent and not answered yet. */
  readonly outstanding = new Map<number, { sender: string; sentAt: number }>();
  readonly #acked: Keys[] = [];
  readonly #lanes: Lane[];
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(lanes: Lane[]) {
    this.#lanes = lanes;
  }

  /**
   * Starts every lane. Lanes without a gate or jitter have issued their first
   * request when this returns, so `start()` then `stop()` sends exactly one
   * request per client (a burst).
   */
  start(): this {
    this.#running = true;
    for (const lane of this.#lanes) for (let i = 0; i < lane.concurrency; i++) this.#loops.push(this.#loop(lane));
    return this;
  }

  async #loop(lane: Lane): Promise<void> {
    if (lane.gate) await lane.gate.catch(() => {});
    if (lane.jitter && lane.pauseMs) await sleep(Math.random() * lane.pauseMs);
    while (this.#running) {
      const id = ++lastSeq;
      const sentAt = Date.now();
      this.outstanding.set(id, { sender: lane.sender.name, sentAt });
      let answer: Answer;
      let spans = 0;
      try {
        const r = await lane.sender.send(id);
        answer = r.answer;
        spans = r.built.spans;
        if (answer.ok) this.#acked.push(r.built.keys());
      } catch (err) {
        answer = { kind: 'driver error', ok: false, retryAfter: null, detail: (err as Error).message };
      }
      this.outstanding.delete(id);
      this.attempts.push({ id, sender: lane.sender.name, sentAt, answeredAt: Date.now(), answer, spans });
      if (!answer.ok) {
        const seconds = Number(/(\d+)/.exec(answer.retryAfter ?? '')?.[1] ?? NaN);
        await sleep(lane.honourRetryAfter && seconds >= 0 ? Math.min(seconds * 1000, 2000) : 100);
      } else if (lane.pauseMs) await sleep(lane.jitter ? lane.pauseMs * (0.5 + Math.random()) : lane.pauseMs);
    }
  }

  /** Stops sending and waits for every request in flight to be answered (or `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.#running = false;
    const done = Promise.all(this.#loops).then(() => true);
    const ok = await Promise.race([done, sleep(timeoutMs).then(() => false)]);
    if (!ok) throw new Error(`load did not settle within ${timeoutMs} ms: ${this.outstanding.size} requests unanswered`);
    for (const lane of this.#lanes) await lane.sender.close();
  }

  /** Every acknowledged (trace_id, span_id). */
  acknowledged(): Keys {
    return { traceIds: this.#acked.flatMap((k) => k.traceIds), spanIds: this.#acked.flatMap((k) => k.spanIds) };
  }

  /** Answers counted by "sender: kind [retry-after]", for assertions and reports. */
  tally(filter: (a: Attempt) => boolean = () => true): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.attempts.filter(filter)) {
      const k = `${a.sender}: ${a.answer.kind}${a.answer.retryAfter ? ` (${/^\d+$/.test(a.answer.retryAfter) ? `Retry-After ${a.answer.retryAfter}` : a.answer.retryAfter})` : ''}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(out).sort());
  }

  /** Up to three distinct messages per "sender: kind" among failed attempts (what the client library said). */
  details(filter: (a: Attempt) => boolean = () => true): Record<string, string[]> {
    const out: Record<string, Set<string>> = {};
    for (const a of this.attempts.filter((x) => !x.answer.ok && x.answer.detail && filter(x))) {
      const set = (out[`${a.sender}: ${a.answer.kind}`] ??= new Set());
      if (set.size < 3) set.add(a.answer.detail!.slice(0, 200));
    }
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
  }
}

// ---------------------------------------------------------------- checks

export interface StoredCheck {
  /** Acknowledged (trace_id, span_id) pairs, as recorded, and distinct. */
  acknowledged: number;
  acknowledgedDistinct: number;
  /** Acknowledged pairs found in verdict.spans (a join: a pair stored twice would count twice). */
  matched: number;
  missing: number;
  missingExamples: string[];
  /** All rows of verdict.spans. */
  rows: number;
  /**
   * Span rows inserted by committed statements since installInsertCounter
   * (a trigger's count of what each INSERT or COPY added, not the primary
   * key's view): equal to `rows` when every stored span was inserted once.
   */
  inserted: number;
  /**
   * Traces whose summary counts a different number of spans than verdict.spans
   * holds: the write path adds to summaries only what it newly stored, so a
   * retry counted twice shows here.
   */
  summaryMismatches: number;
  summaryMismatchExamples: string[];
}

/**
 * Counts committed span inserts, independently of the primary key: an AFTER
 * INSERT statement trigger on verdict.span_rows (a partitioned table: the
 * transition table holds the rows of every partition) appends how many rows
 * each statement inserted. Install it after the receiver has migrated and
 * before the load starts.
 */
export async function installInsertCounter(databaseUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE IF NOT EXISTS public.test_span_inserts (n bigint NOT NULL, xid xid8 NOT NULL DEFAULT pg_current_xact_id());
      CREATE OR REPLACE FUNCTION public.test_count_span_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO public.test_span_inserts (n) SELECT count(*) FROM new_rows;
        RETURN NULL;
      END $$;
      DROP TRIGGER IF EXISTS test_count_span_inserts ON verdict.span_rows;
      CREATE TRIGGER test_count_span_inserts AFTER INSERT ON verdict.span_rows
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.test_count_span_inserts();
      GRANT ALL ON public.test_span_inserts TO PUBLIC;`);
  } finally {
    await c.end();
  }
}

/** Compares what the clients were told was accepted with what verdict.spans holds. */
export async function checkStored(databaseUrl: string, acked: Keys): Promise<StoredCheck> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    await c.query(`CREATE TEMP TABLE acked AS SELECT * FROM unnest($1::text[], $2::text[]) AS a(trace_id, span_id)`, [acked.traceIds, acked.spanIds]);
    const r = await c.query<Record<string, string>>(`
      SELECT (SELECT count(*) FROM acked) AS acknowledged,
             (SELECT count(*) FROM (SELECT DISTINCT trace_id, span_id FROM acked) d) AS acknowledged_distinct,
             (SELECT count(*) FROM (SELECT DISTINCT trace_id, span_id FROM acked) a JOIN verdict.spans s USING (trace_id, span_id)) AS matched,
             (SELECT count(*) FROM verdict.spans) AS rows,
             (SELECT COALESCE(sum(n), 0) FROM public.test_span_inserts) AS inserted`);
    const missing = await c.query<{ k: string }>(`
      SELECT trace_id || '/' || span_id AS k FROM acked a
      WHERE NOT EXISTS (SELECT 1 FROM verdict.spans s WHERE s.trace_id = a.trace_id AND s.span_id = a.span_id)`);
    const mismatches = await c.query<{ k: string }>(`
      SELECT COALESCE(t.trace_id, s.trace_id) || ': summary ' || COALESCE(t.span_count, 0) || ', stored ' || COALESCE(s.n, 0) AS k
      FROM (SELECT trace_id, sum(span_count) AS span_count FROM verdict.trace_summary GROUP BY trace_id HAVING sum(span_count) > 0) t
      FULL JOIN (SELECT trace_id, count(*) AS n FROM verdict.spans GROUP BY trace_id) s ON s.trace_id = t.trace_id
      WHERE COALESCE(t.span_count, 0) <> COALESCE(s.n, 0)`);
    const row = r.rows[0]!;
    return {
      acknowledged: Number(row.acknowledged),
      acknowledgedDistinct: Number(row.acknowledged_distinct),
      matched: Number(row.matched),
      missing: missing.rows.length,
      missingExamples: missing.rows.slice(0, 5).map((x) => x.k),
      rows: Number(row.rows),
      inserted: Number(row.inserted),
      summaryMismatches: mismatches.rows.length,
      summaryMismatchExamples: mismatches.rows.slice(0, 5).map((x) => x.k),
    };
  } finally {
    await c.end();
  }
}

/** The checks every durability test makes: each acknowledged span stored, each stored span inserted once and counted once. */
export function expectStoredOnce(stored: StoredCheck): void {
  expect(stored.missingExamples).toEqual([]);
  expect(stored.matched).toBe(stored.acknowledgedDistinct);
  expect(stored.inserted, 'committed inserts vs rows').toBe(stored.rows);
  expect(stored.summaryMismatchExamples).toEqual([]);
}

// ---------------------------------------------------------------- the receiver

export interface Receiver {
  v: VerdictProcess;
  pid: number;
  /** http://127.0.0.1:port */
  http: string;
  /** 127.0.0.1:port */
  grpc: string;
}

/** `verdict serve` as a child process on PostgreSQL, on 127.0.0.1 (ports 0 = any free port). */
export async function startReceiver(databaseUrl: string, args: string[] = [], ports: { http: number; grpc: number } = { http: 0, grpc: 0 }, env: Record<string, string> = {}): Promise<Receiver> {
  const v = spawnVerdict(['serve', '--database-url', databaseUrl, '--host', '127.0.0.1', '--http-port', String(ports.http), '--grpc-port', String(ports.grpc), '--pg-port', '0', ...args], env);
  const ready = await v.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('verdict ready'), 30_000).catch((err: unknown) => {
    v.proc.kill('SIGKILL');
    throw err;
  });
  return { v, pid: v.proc.pid!, http: `http://${ready.http[0]}`, grpc: ready.grpc[0] };
}

/** Resident set size of a process, in MiB (VmRSS in /proc/<pid>/status); null once it has exited. */
export function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 100): { peak(): number; samples: Array<{ at: number; mib: number }>; stop(): void } {
  const samples: Array<{ at: number; mib: number }> = [];
  const timer = setInterval(() => {
    const mib = rssMiB(pid);
    if (mib !== null) samples.push({ at: Date.now(), mib });
  }, everyMs);
  return {
    samples,
    peak: () => samples.reduce((m, s) => Math.max(m, s.mib), 0),
    stop: () => clearInterval(timer),
  };
}

export { sleep };
