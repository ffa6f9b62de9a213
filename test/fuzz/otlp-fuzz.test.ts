/**
 * Bad input, tried systematically: a fuzz test of the OTLP receivers over
 * both transports (OTLP/HTTP, OTLP/gRPC) and both encodings (protobuf, JSON).
 *
 * Inputs, from one fixed seed (VERDICT_FUZZ_SEED overrides it to explore):
 * random bytes; mutated valid protobuf (the benchmark's realistic agent
 * traces, and log records); mutated valid JSON; truncated and corrupt gzip,
 * deflate and zstd; decompression bombs; bodies over the size limit; gRPC
 * framing errors; and generated edge cases: AnyValue arrays and kvlists
 * nested 63 to 100,000 deep, 10,000 attributes on one span, multi-megabyte
 * strings, invalid UTF-8, U+0000 and lone surrogates, NaN and infinite
 * doubles, timestamps at 0, 2^63-1, 2^63 and 2^64-1, end before start,
 * duplicated span IDs within one request.
 *
 * For every input: the answer is one the OTLP specification prescribes
 * (HTTP 200, possibly with partial_success, 400, 413 or 415, with a
 * google.rpc.Status body in the request's encoding; gRPC OK,
 * INVALID_ARGUMENT or RESOURCE_EXHAUSTED, and the few codes grpc-js itself
 * gives, before Verdict sees a message, for broken framing (UNIMPLEMENTED) and
 * corrupt compression (INTERNAL), listed where used), never a 5xx or a dropped
 * connection; whether the body is decodable at all, and the count of rejected
 * items, are what an independent oracle says (test/helpers/fuzz.ts: its own
 * protobuf and OTLP/JSON decoders, test/helpers/oracle/, then the documented
 * rules), so a receiver that wrongly refuses, accepts or misreads a body
 * fails; and exactly the accepted items are stored: every
 * request carries trace IDs of its own, looked up after the answer, and the
 * table totals are checked at the end. Structured cases run on the embedded
 * database and on real PostgreSQL; random bytes, the small-limit server and
 * gRPC framing on the embedded one only (they are refused before the
 * database, which makes the backend irrelevant).
 *
 * The receivers run in this process, so a crash would end the run, and the
 * heap after a forced GC is compared before and after the bulk of the inputs.
 * A decoding-amplification bomb runs against `bin/verdict.js` as a child
 * process, since its failure mode is the process dying.
 */
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSpans, Payload } from '../../bench/workload.ts';
import { LogsResponse, RpcStatus, TraceRequest, TraceResponse } from '../../src/otlp/proto.ts';
import {
  clean, closeHttpAgent, compress, decompress, deepValue, gcFunction, grpcFrame, httpPost, logsJson, logsProto, mutateBytes, mutateJsonTree, mutateText,
  predict, RawGrpc, Rng, settledHeap, tracesJson, tracesProto, varint,
  type Answer, type Codec, type Encoding, type KV, type LogM, type LogsM, type Prediction, type Signal, type SpanM, type Str, type TracesM,
} from '../helpers/fuzz.ts';
import { grpcCall, LOGS_PATH, postJson, TRACE_PATH } from '../helpers/otlp.ts';
import { spawnVerdict } from '../helpers/process.ts';
import { createDatabase } from '../helpers/postgres.ts';
import { freePort, startTestServer, type Backend, type TestServer } from '../helpers/server.ts';

const SEED = Number(process.env.VERDICT_FUZZ_SEED ?? 20260603);
/**
 * The long mode (`npm run fuzz -- --inputs 200000`, outside CI) scales the
 * four random categories so the run tries about that many inputs; CI runs
 * the bounded default (5,192 inputs with the default seed).
 */
const WANTED = Number(process.env.VERDICT_FUZZ_INPUTS ?? 0);
/** Of the bounded run's inputs, those of the four random categories (scaled: 1,500 + 2 × 700 + 2 × 500 + 2 × 250), and the rest (not). */
const SCALED_INPUTS = 4400;
const FIXED_INPUTS = 5192 - SCALED_INPUTS;
const SCALE = WANTED > 5192 ? (WANTED - FIXED_INPUTS) / SCALED_INPUTS : 1;
const scaled = (n: number) => Math.round(n * SCALE);
/** The run must try at least this many inputs. */
const MIN_INPUTS = SCALE > 1 ? Math.floor(WANTED * 0.9) : 5000;
/** Replays the generated cases numbered so (`VERDICT_FUZZ_ONLY=1016866,1015977`, with the seed and --inputs of the run that failed), and nothing else. */
const ONLY = process.env.VERDICT_FUZZ_ONLY ? new Set(process.env.VERDICT_FUZZ_ONLY.split(',').map(Number)) : null;
/** Heap growth allowed between the end of the first category and the end of the run, after forced GCs. */
const HEAP_GROWTH_LIMIT = 32 * 1024 * 1024;
const SMALL_LIMIT = 16 * 1024;
const MEDIA: Record<Encoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };
const GRPC_PATH: Record<Signal, string> = { traces: TRACE_PATH, logs: LOGS_PATH };
const T0 = 1767225600000000000n; // 2026-01-01T00:00:00Z
const MAX_U64 = (1n << 64n) - 1n;
const MAX_I64 = (1n << 63n) - 1n;

type Transport = 'http' | 'grpc';

interface Case {
  category: string;
  label: string;
  signal: Signal;
  transport: Transport;
  encoding: Encoding;
  /** The bytes the receiver decodes (after any decompression). */
  body: Buffer;
  /** HTTP: Content-Type (default: the encoding's), Content-Encoding, and the bytes on the wire (default: body). */
  contentType?: string;
  contentEncoding?: string;
  wire?: Buffer;
  /** gRPC: the whole request stream (default: one uncompressed frame of body) and extra headers. */
  grpcData?: Buffer;
  grpcHeaders?: Record<string, string>;
  /** An outcome decided before decoding (compression, size, media type, framing), replacing the oracle. */
  expect?: { http?: number; grpc?: number[]; why: string };
  /** What the documented rules say, as the generator states them; the oracle must agree. */
  spec?: { rejected: number; spans?: number; logs?: number; evals?: number };
  /** Trace IDs the generator used, looked up even when the request is refused. */
  traceIds: string[];
  /** The random generators' case number (their first trace ID's leading four bytes): VERDICT_FUZZ_ONLY=n replays that case alone. */
  n?: number;
  /** Extra checks of what was stored (only after a 200). */
  check?: (t: TestServer) => Promise<string | null>;
}

interface Target {
  name: string;
  backend: Backend;
  t: TestServer;
  grpc: RawGrpc;
  limit: number;
  /** What must be in the tables at the end: counted per accepted request. */
  spans: number;
  logs: number;
  evals: number;
  logsWithoutTrace: Set<string>;
  evalsWithoutTrace: Set<string>;
}

// ---- bookkeeping ---------------------------------------------------------------

interface Tally {
  inputs: number;
  ok: number;
  partial: number;
  refused: Map<number | string, number>;
  ms: number;
}
const tallies = new Map<string, Tally>();
const failures: Array<{ category: string; where: string; problem: string }> = [];
const heap: Array<[string, number]> = [];
const notes: string[] = [];
const runStarted = performance.now();

function tally(category: string): Tally {
  let t = tallies.get(category);
  if (!t) tallies.set(category, (t = { inputs: 0, ok: 0, partial: 0, refused: new Map(), ms: 0 }));
  return t;
}

/** Failures of one category grouped by kind (digits folded), with a few examples each: what the test asserts to be empty. */
function failureReport(category: string): string[] {
  const groups = new Map<string, string[]>();
  for (const f of failures.filter((x) => x.category === category)) {
    const kind = f.problem.replace(/\d+/g, '#').slice(0, 200);
    const list = groups.get(kind) ?? [];
    list.push(`${f.where}: ${f.problem.slice(0, 400)}`);
    groups.set(kind, list);
  }
  return [...groups.values()].map((l) => `${l.length}× ${l.slice(0, 3).join('\n      ')}`);
}

let caseNo = 0;
/** A trace ID of its own for every (case, k): case number, a marker, k, and random bytes. */
function traceIdFor(r: Rng, n: number, k: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(n, 0);
  b.writeUInt32BE(0xf022e5ed, 4);
  b.writeUInt32BE(k, 8);
  b.writeUInt32BE((r.next() | 1) >>> 0, 12);
  return b;
}
const spanIdFor = (r: Rng): Buffer => {
  const b = r.bytes(8);
  b[7] = (b[7] ?? 0) | 1;
  return b;
};

// ---- sending and checking --------------------------------------------------------

async function send(target: Target, c: Case): Promise<Answer> {
  if (c.transport === 'http') {
    const headers: Record<string, string> = { 'content-type': c.contentType ?? MEDIA[c.encoding] };
    if (c.contentEncoding !== undefined) headers['content-encoding'] = c.contentEncoding;
    return httpPost(target.t.httpUrl, `/v1/${c.signal}`, c.wire ?? c.body, headers);
  }
  return target.grpc.call(GRPC_PATH[c.signal], c.grpcData ?? grpcFrame(c.body), c.grpcHeaders ?? {});
}

const grpcCodeOfHttp: Record<number, number> = { 400: 3, 413: 8, 415: 3 };

/** Problems with the answer itself (status, body format, rejected count). */
function checkAnswer(c: Case, a: Answer, p: Prediction | null): string[] {
  if (a.dropped) return [`no answer: ${a.dropped}`];
  const problems: string[] = [];
  const wantOk = !c.expect && p !== null && p.ok;
  if (c.transport === 'http') {
    const want = c.expect?.http ?? (wantOk ? 200 : 400);
    // The body of any answer is in the request's encoding (a 415 for an unknown media type falls back to JSON).
    const enc: Encoding = c.contentType !== undefined && !/^\s*application\/(json|x-protobuf)\s*(;|$)/i.test(c.contentType) ? 'json' : c.encoding;
    if (a.status !== want) {
      const said = a.status >= 400 ? (statusBody(a.body, enc)?.message ?? a.body.subarray(0, 300).toString('utf8')) : a.body.subarray(0, 300).toString('utf8');
      problems.push(`HTTP ${a.status}, expected ${want} (${c.expect?.why ?? (p?.ok ? 'decodable' : `undecodable: ${p?.why}`)}): ${said}`);
    }
    if (!a.contentType.startsWith(MEDIA[enc])) problems.push(`Content-Type ${JSON.stringify(a.contentType)} for a ${enc} request (HTTP ${a.status})`);
    else if (a.status === 200) problems.push(...checkRejected(c, a.body, enc, p));
    else if (a.status >= 400) {
      const st = statusBody(a.body, enc);
      if (!st) problems.push(`HTTP ${a.status} body is not a google.rpc.Status in ${enc}: ${a.body.subarray(0, 120).toString('utf8')}`);
      else if (!st.message) problems.push(`HTTP ${a.status} Status has no message`);
      else if (grpcCodeOfHttp[a.status] !== undefined && st.code !== grpcCodeOfHttp[a.status]) problems.push(`HTTP ${a.status} Status.code ${st.code}`);
    }
  } else {
    const want = c.expect?.grpc ?? [wantOk ? 0 : 3];
    if (!want.includes(a.status)) problems.push(`gRPC status ${a.status} (${a.message.slice(0, 300)}), expected ${want.join(' or ')} (${c.expect?.why ?? (p?.ok ? 'decodable' : `undecodable: ${p?.why}`)})`);
    if (a.status === 0) problems.push(...checkRejected(c, a.body, 'protobuf', p));
    else if (!a.message) problems.push(`gRPC status ${a.status} without a message`);
  }
  return problems;
}

function statusBody(body: Buffer, enc: Encoding): { code: number; message: string } | null {
  try {
    if (enc === 'json') {
      const o = JSON.parse(body.toString('utf8')) as { code?: unknown; message?: unknown };
      return typeof o.message === 'string' ? { code: Number(o.code ?? 0), message: o.message } : null;
    }
    const s = RpcStatus.toObject(RpcStatus.decode(body)) as { code?: number; message?: string };
    return { code: s.code ?? 0, message: s.message ?? '' };
  } catch {
    return null;
  }
}

function checkRejected(c: Case, body: Buffer, enc: Encoding, p: Prediction | null): string[] {
  let rejected = 0;
  let message = '';
  try {
    if (enc === 'json') {
      const o = JSON.parse(body.toString('utf8')) as { partialSuccess?: { rejectedSpans?: string; rejectedLogRecords?: string; errorMessage?: string } };
      rejected = Number(o.partialSuccess?.rejectedSpans ?? o.partialSuccess?.rejectedLogRecords ?? 0);
      message = o.partialSuccess?.errorMessage ?? '';
    } else {
      const type = c.signal === 'traces' ? TraceResponse : LogsResponse;
      const o = type.toObject(type.decode(body), { longs: Number }) as { partialSuccess?: { rejectedSpans?: number; rejectedLogRecords?: number; errorMessage?: string } };
      rejected = Number(o.partialSuccess?.rejectedSpans ?? o.partialSuccess?.rejectedLogRecords ?? 0);
      message = o.partialSuccess?.errorMessage ?? '';
    }
  } catch (err) {
    return [`success body does not decode as Export${c.signal === 'traces' ? 'Trace' : 'Logs'}ServiceResponse: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  if (p && rejected !== p.rejected) problems.push(`partial_success rejected ${rejected}, expected ${p.rejected} of ${p.total}: ${message.slice(0, 300)}`);
  if (rejected > 0 && !message) problems.push('partial_success without an error_message');
  return problems;
}

const sqlList = (ids: Iterable<string>) => [...ids].filter((id) => /^[0-9a-f]{32}$/.test(id)).map((id) => `'${id}'`).join(',');

async function stored(t: TestServer, ids: Set<string>): Promise<{ spans: Set<string>; spanRows: number; logs: number; evals: number }> {
  const list = sqlList(ids);
  if (!list) return { spans: new Set(), spanRows: 0, logs: 0, evals: 0 };
  const [row] = await t.query<{ spans: string | null; span_rows: number; logs: number; evals: number }>(
    `SELECT s.spans, s.span_rows,
            (SELECT count(*)::int FROM verdict.logs WHERE trace_id IN (${list})) AS logs,
            (SELECT count(*)::int FROM verdict.evaluations WHERE trace_id IN (${list})) AS evals
     FROM (SELECT string_agg(trace_id || ':' || span_id, ',') AS spans, count(*)::int AS span_rows FROM verdict.spans WHERE trace_id IN (${list})) s`,
  );
  return { spans: new Set(row?.spans ? row.spans.split(',') : []), spanRows: Number(row?.span_rows ?? 0), logs: Number(row?.logs ?? 0), evals: Number(row?.evals ?? 0) };
}

const setDiff = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x));

async function runCase(target: Target, c: Case): Promise<void> {
  const no = caseNo++;
  try {
    await runCaseNo(target, c, no);
  } catch (err) {
    failures.push({ category: c.category, where: `#${no}${c.n === undefined ? '' : ` n=${c.n}`} ${target.name} ${c.transport}/${c.encoding}/${c.signal} ${c.label}`, problem: `TEST BUG: ${(err as Error).stack?.slice(0, 600)}` });
  }
}

async function runCaseNo(target: Target, c: Case, no: number): Promise<void> {
  const p = c.expect ? null : predict(c.signal, c.encoding, c.body, String(no));
  const problems: string[] = [];
  if (c.spec && p) {
    const s = c.spec;
    if (!p.ok) {
      // The oracle refuses a request the generator built to be accepted: a bug in this test (the receiver's answer is checked against the oracle below).
      problems.push(`TEST BUG: the rules accept this request (${JSON.stringify(s)}) but the oracle's decoder refuses all of it: ${p.why}`);
    } else if (p.rejected !== s.rejected || (s.spans !== undefined && p.spanRows.size !== s.spans) || (s.logs !== undefined && p.logsWithTrace + p.logsWithoutTrace.size !== s.logs) || (s.evals !== undefined && p.evalsWithTrace + p.evalsWithoutTrace.size !== s.evals)) {
      // The oracle against the rule as the generator states it: a disagreement is a bug in this test.
      problems.push(`TEST BUG: oracle (rejected ${p.rejected}, spans ${p.spanRows.size}, logs ${p.logsWithTrace + p.logsWithoutTrace.size}, evals ${p.evalsWithTrace}) disagrees with the spec ${JSON.stringify(s)}`);
    }
  }
  const a = await send(target, c);
  problems.push(...checkAnswer(c, a, p));

  // What must be stored follows from the answer actually given: everything the oracle accepts after a success, nothing after a refusal.
  const success = !a.dropped && (c.transport === 'http' ? a.status === 200 : a.status === 0);
  const ids = new Set([...c.traceIds, ...(p?.traceIds ?? [])]);
  const got = await stored(target.t, ids);
  if (success && p?.ok) {
    const missing = setDiff(p.spans, got.spans);
    const extra = setDiff(got.spans, p.spans);
    if (missing.length || extra.length) problems.push(`spans stored: ${missing.length} accepted missing, ${extra.length} unexpected (${[...missing, ...extra].slice(0, 2).join(' ')})`);
    if (got.spanRows !== p.spanRows.size) problems.push(`span rows stored ${got.spanRows}, expected ${p.spanRows.size} (one per span ID and start time)`);
    if (got.logs !== p.logsWithTrace) problems.push(`log records stored ${got.logs}, expected ${p.logsWithTrace}`);
    if (got.evals !== p.evalsWithTrace) problems.push(`evaluations stored ${got.evals}, expected ${p.evalsWithTrace}`);
    target.spans += p.spanRows.size;
    target.logs += p.logsWithTrace;
    target.evals += p.evalsWithTrace;
    for (const k of p.logsWithoutTrace) target.logsWithoutTrace.add(k);
    for (const k of p.evalsWithoutTrace) target.evalsWithoutTrace.add(k);
    if (c.check && problems.length === 0) {
      const bad = await c.check(target.t);
      if (bad) problems.push(bad);
    }
  } else if (success) {
    problems.push('a success where a refusal was expected: what it stored cannot be checked');
  } else if (got.spans.size || got.logs || got.evals) {
    problems.push(`half-stored: answered ${a.dropped ?? a.status} but stored ${got.spans.size} spans, ${got.logs} log records, ${got.evals} evaluations`);
  }

  if (ONLY) notes.push(`replayed #${no} n=${c.n} ${target.name} ${c.transport}/${c.encoding}/${c.signal} ${c.label}: answered ${a.dropped ?? a.status}; oracle ${p ? `${p.ok ? `${p.spans.size} spans, ${p.rejected} rejected` : `undecodable (${p.why})`}` : c.expect?.why}; stored ${got.spans.size} spans, ${got.logs} log records, ${got.evals} evaluations`);
  const tl = tally(c.category);
  tl.inputs++;
  tl.ms += a.ms;
  if (success && p && p.rejected > 0) tl.partial++;
  else if (success) tl.ok++;
  else tl.refused.set(a.dropped ? 'dropped' : a.status, (tl.refused.get(a.dropped ? 'dropped' : a.status) ?? 0) + 1);
  for (const problem of problems) failures.push({ category: c.category, where: `#${no}${c.n === undefined ? '' : ` n=${c.n}`} ${target.name} ${c.transport}/${c.encoding}/${c.signal} ${c.label}`, problem });
}

async function runAll(target: Target, cases: Iterable<Case>, concurrency: number): Promise<void> {
  const it = cases[Symbol.iterator]();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = it.next(); !n.done; n = it.next()) if (!ONLY || ONLY.has(n.value.n ?? -1)) await runCase(target, n.value);
    }),
  );
}

// ---- building cases ------------------------------------------------------------

/** One structured request, renderable in each encoding. */
interface Built {
  /** Only meaningful in this encoding (IDs given as JSON text). */
  only?: Encoding;
  signal: Signal;
  model: TracesM | LogsM;
  traceIds: string[];
  spec: Case['spec'];
  check?: Case['check'];
}

/** A case for one rendering (transport × encoding), optionally gzip-compressed on the wire. */
function render(category: string, label: string, b: Built, transport: Transport, encoding: Encoding, gzipped = false): Case {
  const body = b.signal === 'traces'
    ? (encoding === 'json' ? tracesJson(b.model as TracesM) : tracesProto(b.model as TracesM))
    : (encoding === 'json' ? logsJson(b.model as LogsM) : logsProto(b.model as LogsM));
  const c: Case = { category, label, signal: b.signal, transport, encoding, body, traceIds: [...b.traceIds], spec: b.spec, check: b.check };
  if (gzipped) {
    const z = compress('gzip', body);
    if (transport === 'http') {
      c.contentEncoding = 'gzip';
      c.wire = z;
    } else {
      c.grpcData = grpcFrame(z, true);
      c.grpcHeaders = { 'grpc-encoding': 'gzip' };
    }
  }
  return c;
}

const RENDERINGS: Array<[Transport, Encoding]> = [['http', 'protobuf'], ['http', 'json'], ['grpc', 'protobuf']];

/** Per-request IDs for the structured builders. */
class Ids {
  readonly r: Rng;
  readonly n: number;
  readonly traceIds: string[] = [];
  constructor(r: Rng, n: number) {
    this.r = r;
    this.n = n;
  }
  trace(k = 0): Buffer {
    const id = traceIdFor(this.r, this.n, k);
    this.traceIds.push(id.toString('hex'));
    return id;
  }
  span(): Buffer {
    return spanIdFor(this.r);
  }
}

const s = (k: string, v: Str): KV => ({ k, v: { s: v } });
const dbl = (k: string, d: number, dBits?: bigint): KV => ({ k, v: dBits === undefined ? { d } : { d, dBits } });
const traces = (spans: SpanM[], attrs: KV[] = [s('service.name', 'fuzz')]): TracesM => [{ resource: { attrs }, scopes: [{ scope: { name: 'fuzz', version: '1' }, items: spans }] }];
const logs = (records: LogM[], attrs: KV[] = [s('service.name', 'fuzz')]): LogsM => [{ resource: { attrs }, scopes: [{ scope: { name: 'fuzz' }, items: records }] }];
const goodSpan = (ids: Ids, extra: Partial<SpanM> = {}): SpanM => ({ traceId: ids.trace(), spanId: ids.span(), name: 'op', kind: 1, start: T0, end: T0 + 1_000_000n, ...extra });
const goodLog = (ids: Ids, extra: Partial<LogM> = {}): LogM => ({ traceId: ids.trace(), spanId: ids.span(), time: T0, severity: 9, body: { s: 'ok' }, ...extra });
const evaluation = (extra: KV[] = []): KV[] => [s('gen_ai.evaluation.name', 'relevance'), dbl('gen_ai.evaluation.score.value', 0.5), s('gen_ai.evaluation.score.label', 'pass'), ...extra];

/** A SQL check of one value of the span with this trace ID. */
function spanValue(traceId: string, expr: string, want: string | number | null, what: string): (t: TestServer) => Promise<string | null> {
  return async (t) => {
    const rows = await t.query<{ v: unknown }>(`SELECT (${expr})::text AS v FROM verdict.spans WHERE trace_id = '${traceId}'`);
    const got = rows[0]?.v ?? null;
    return got === (want === null ? null : String(want)) ? null : `${what}: stored ${JSON.stringify(got)?.slice(0, 200)}, expected ${JSON.stringify(want)?.slice(0, 200)}`;
  };
}

const INVALID_UTF8: Array<[string, number[]]> = [
  ['lone 0xff', [0x61, 0xff, 0x62]],
  ['overlong NUL', [0xc0, 0x80]],
  ['UTF-8 encoded surrogate', [0xed, 0xa0, 0x80]],
  ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['truncated at the end', [0x78, 0xe2, 0x82]],
  ['lone continuation', [0x80, 0xbf]],
  ['5-byte form', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ['NUL byte', [0x61, 0x00, 0x62]],
];
const decodedUtf8 = (b: number[]) => clean(Buffer.from(b).toString('utf8'));

/** The structured edge cases, each with its expected outcome. Builders take fresh IDs per rendering. */
function structuredBuilders(): Array<[string, (ids: Ids, r: Rng) => Built]> {
  const B: Array<[string, (ids: Ids, r: Rng) => Built]> = [];
  const tr = (spans: SpanM[], ids: Ids, spec: Case['spec'], check?: Case['check'], attrs?: KV[]): Built => ({ signal: 'traces', model: traces(spans, attrs), traceIds: ids.traceIds, spec, ...(check ? { check } : {}) });
  const lg = (records: LogM[], ids: Ids, spec: Case['spec'], check?: Case['check'], attrs?: KV[]): Built => ({ signal: 'logs', model: logs(records, attrs), traceIds: ids.traceIds, spec, ...(check ? { check } : {}) });

  // Deeply nested AnyValue: more than 64 levels rejects the span or record; the rest of the request is stored. Only past
  // the documented nesting limits (4096 levels of messages, or of JSON arrays and objects: docs/operations.md) is the
  // whole request undecodable; 1000 levels stay within them in both encodings (the limits themselves: at the end).
  for (const how of ['array', 'kvlist', 'mixed'] as const) {
    for (const depth of [63, 64, 65, 100, 1000]) {
      const bad = depth > 64 ? 1 : 0;
      B.push([`${how} nested ${depth} deep in a span attribute`, (ids) => tr([goodSpan(ids), goodSpan(ids, { attrs: [{ k: 'deep', v: deepValue(depth, how) }] }), goodSpan(ids)], ids, { rejected: bad, spans: 3 - bad })]);
    }
    B.push([`${how} nested 65 deep in a log body`, (ids) => lg([goodLog(ids), goodLog(ids, { body: deepValue(65, how) })], ids, { rejected: 1, logs: 1 })]);
    B.push([`${how} nested 64 deep in a log body`, (ids) => lg([goodLog(ids), goodLog(ids, { body: deepValue(64, how) })], ids, { rejected: 0, logs: 2 })]);
  }
  B.push(['65 deep in an event attribute', (ids) => tr([goodSpan(ids, { events: [{ time: T0, name: 'e', attrs: [{ k: 'deep', v: deepValue(65, 'array') }] }] }), goodSpan(ids)], ids, { rejected: 1, spans: 1 })]);
  B.push(['65 deep in a link attribute', (ids) => tr([goodSpan(ids, { links: [{ traceId: ids.trace(9), spanId: ids.span(), attrs: [{ k: 'deep', v: deepValue(65, 'kvlist') }] }] }), goodSpan(ids)], ids, { rejected: 1, spans: 1 })]);
  B.push(['65 deep in a log attribute', (ids) => lg([goodLog(ids, { attrs: [{ k: 'deep', v: deepValue(65, 'mixed') }] }), goodLog(ids)], ids, { rejected: 1, logs: 1 })]);
  B.push(['65 deep in a resource attribute: all its spans', (ids) => ({
    signal: 'traces',
    model: [...traces([goodSpan(ids), goodSpan(ids), goodSpan(ids)], [s('service.name', 'deep'), { k: 'deep', v: deepValue(65, 'array') }]), ...traces([goodSpan(ids)])],
    traceIds: ids.traceIds, spec: { rejected: 3, spans: 1 },
  })]);
  B.push(['65 deep in a scope attribute: all its records', (ids) => ({
    signal: 'logs',
    model: [{ scopes: [{ scope: { name: 'deep', attrs: [{ k: 'deep', v: deepValue(65, 'kvlist') }] }, items: [goodLog(ids), goodLog(ids)] }] }, ...logs([goodLog(ids)])],
    traceIds: ids.traceIds, spec: { rejected: 2, logs: 1 },
  })]);
  // Far past any stack: the request cannot be decoded at all (400 "nests too deeply"), nothing stored.
  B.push(['array nested 100,000 deep: undecodable', (ids) => tr([goodSpan(ids), goodSpan(ids, { attrs: [{ k: 'deep', v: deepValue(100_000, 'array') }] })], ids, undefined)]);
  B.push(['kvlist nested 100,000 deep in a log body: undecodable', (ids) => lg([goodLog(ids), goodLog(ids, { body: deepValue(100_000, 'kvlist') })], ids, undefined)]);

  // 10,000 attributes on one span (distinct keys; one key repeated: jsonb keeps the last), on a resource and on a log record.
  B.push(['10,000 attributes on one span', (ids) => {
    const sp = goodSpan(ids, { attrs: Array.from({ length: 10_000 }, (_, i) => (i % 3 === 0 ? { k: `attr.${i}`, v: { i: BigInt(i) } } : s(`attr.${i}`, `value ${i}`))) });
    return tr([sp, goodSpan(ids)], ids, { rejected: 0, spans: 2 }, spanValue(ids.traceIds[0] as string, `(SELECT count(*) FROM jsonb_object_keys(attributes))`, 10_000, 'attribute count'));
  }]);
  B.push(['10,000 attributes with the same key', (ids) => {
    const sp = goodSpan(ids, { attrs: Array.from({ length: 10_000 }, (_, i) => s('same', `v${i}`)) });
    return tr([sp], ids, { rejected: 0, spans: 1 }, spanValue(ids.traceIds[0] as string, `attributes->>'same'`, 'v9999', 'the last of 10,000 repeated keys'));
  }]);
  B.push(['10,000 resource attributes', (ids) => tr([goodSpan(ids), goodSpan(ids)], ids, { rejected: 0, spans: 2 }, undefined, Array.from({ length: 10_000 }, (_, i) => s(`res.${i}`, 'x')))]);
  B.push(['10,000 attributes on a log record', (ids) => lg([goodLog(ids, { attrs: Array.from({ length: 10_000 }, (_, i) => s(`a${i}`, 'v')) })], ids, { rejected: 0, logs: 1 })]);
  B.push(['2,000 events and 1,000 links on one span', (ids) => {
    const sp = goodSpan(ids, { events: Array.from({ length: 2000 }, (_, i) => ({ time: T0 + BigInt(i), name: `e${i}`, attrs: [s('k', 'v')] })), links: Array.from({ length: 1000 }, () => ({ traceId: ids.r.bytes(16), spanId: ids.span() })) });
    return tr([sp], ids, { rejected: 0, spans: 1 }, spanValue(ids.traceIds[0] as string, `jsonb_array_length(events) + jsonb_array_length(links)`, 3000, 'events + links'));
  }]);

  // Invalid UTF-8 (raw bytes on the wire, in protobuf and inside JSON strings) is stored with U+FFFD; U+0000 and lone surrogates become U+FFFD.
  for (const [what, bytes] of INVALID_UTF8) {
    const raw = Uint8Array.from(bytes);
    B.push([`invalid UTF-8 (${what}) in names, keys and values`, (ids) => {
      const sp = goodSpan(ids, { name: raw, traceState: raw, status: { code: 2, message: raw }, attrs: [{ k: raw, v: { s: raw } }, { k: 'plain', v: { s: raw } }], events: [{ time: T0, name: raw, attrs: [s('k', raw)] }] });
      return tr([sp], ids, { rejected: 0, spans: 1 }, spanValue(ids.traceIds[0] as string, `name || '|' || (attributes->>'plain') || '|' || status_message`, [1, 2, 3].map(() => decodedUtf8(bytes)).join('|'), 'text after invalid UTF-8'), [{ k: 'service.name', v: { s: raw } }]);
    }]);
    B.push([`invalid UTF-8 (${what}) in a log record`, (ids) => lg([goodLog(ids, { body: { s: raw }, severityText: raw, eventName: raw, attrs: [{ k: raw, v: { s: raw } }] })], ids, { rejected: 0, logs: 1 }, undefined, [{ k: 'service.name', v: { s: raw } }])]);
  }
  B.push(['U+0000 and lone surrogates in strings', (ids) => {
    const sp = goodSpan(ids, { name: 'a\u0000b\ud800c\udc00', attrs: [s('k\u0000', 'v\ud83d'), s('plain', '\u0000\udfff')], events: [{ time: T0, name: '\ud800', attrs: [] }] });
    return tr([sp], ids, { rejected: 0, spans: 1 }, spanValue(ids.traceIds[0] as string, `name || '|' || (attributes->>'plain')`, `${clean('a\u0000b\ud800c\udc00')}|${clean('\u0000\udfff')}`, 'cleaned text'));
  }]);

  // NaN and infinite doubles: stored as the strings "NaN", "Infinity", "-Infinity"; a verdict score must be finite (else the verdict is not extracted, the span is stored).
  B.push(['NaN and infinite doubles in attributes', (ids) => {
    const sp = goodSpan(ids, { attrs: [dbl('nan', NaN), dbl('nan.payload', NaN, 0x7ff8000000000001n), dbl('snan', NaN, 0x7ff0000000000001n), dbl('neg.nan', NaN, 0xfff8000000000000n), dbl('inf', Infinity), dbl('ninf', -Infinity), dbl('negzero', -0), dbl('tiny', 5e-324), dbl('max', 1.7976931348623157e308), dbl('gen_ai.usage.input_tokens', NaN), { k: 'arr', v: { a: [{ d: NaN }, { d: Infinity }] } }] });
    return tr([sp], ids, { rejected: 0, spans: 1 }, spanValue(ids.traceIds[0] as string, `concat_ws(',', attributes->>'nan', attributes->>'nan.payload', attributes->>'snan', attributes->>'neg.nan', attributes->>'inf', attributes->>'ninf', attributes->'arr'->>1, gen_ai_input_tokens)`, 'NaN,NaN,NaN,NaN,Infinity,-Infinity,Infinity', 'non-finite doubles'));
  }]);
  for (const [what, score] of [['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
    B.push([`verdict score ${what} on a span event: span stored, verdict not extracted`, (ids) => tr([goodSpan(ids, { events: [{ time: T0, name: 'gen_ai.evaluation.result', attrs: [s('gen_ai.evaluation.name', 'x'), dbl('gen_ai.evaluation.score.value', score)] }] })], ids, { rejected: 0, spans: 1, evals: 0 })]);
    B.push([`verdict score ${what} in a log record: rejected`, (ids) => lg([goodLog(ids, { eventName: 'gen_ai.evaluation.result', attrs: [s('gen_ai.evaluation.name', 'x'), dbl('gen_ai.evaluation.score.value', score)] }), goodLog(ids)], ids, { rejected: 1, logs: 1, evals: 0 })]);
  }
  B.push(['NaN log body and a valid verdict record', (ids) => lg([goodLog(ids, { body: { d: NaN } }), goodLog(ids, { eventName: 'gen_ai.evaluation.result', attrs: evaluation() })], ids, { rejected: 0, logs: 1, evals: 1 })]);

  // Timestamps at 0 and at the 64-bit maximum; past 2^63-1 ns (Postgres bigint) the item is rejected.
  const times = [0n, 1n, MAX_I64, 1n << 63n, MAX_U64];
  for (const start of times) {
    for (const end of times) {
      const bad = start > MAX_I64 || end > MAX_I64 ? 1 : 0;
      B.push([`span start ${start} end ${end}`, (ids) => {
        const sp = goodSpan(ids, { start, end });
        return tr([sp, goodSpan(ids)], ids, { rejected: bad, spans: 2 - bad }, bad ? undefined : spanValue(ids.traceIds[0] as string, `start_time_unix_nano || ' ' || end_time_unix_nano || ' ' || duration_ns`, `${start} ${end} ${end - start}`, 'exact times and duration'));
      }]);
    }
  }
  B.push(['event time 2^64-1 on a valid span, and a verdict event at it', (ids) => tr([goodSpan(ids, { events: [{ time: MAX_U64, name: 'e' }, { time: MAX_U64, name: 'gen_ai.evaluation.result', attrs: evaluation() }] })], ids, { rejected: 0, spans: 1, evals: 1 }, spanValue(ids.traceIds[0] as string, `events->0->>'time_unix_nano'`, String(MAX_U64), 'event time as a decimal string'))]);
  for (const [field, t] of [['time', MAX_U64], ['time', 1n << 63n], ['observed', MAX_U64], ['observed', 1n << 63n], ['time', MAX_I64], ['observed', 0n]] as const) {
    const bad = t > MAX_I64 ? 1 : 0;
    B.push([`log record ${field}_unix_nano ${t}`, (ids) => lg([goodLog(ids, field === 'time' ? { time: t } : { observed: t }), goodLog(ids)], ids, { rejected: bad, logs: 2 - bad })]);
  }
  B.push(['end before start', (ids) => {
    const sp = goodSpan(ids, { start: T0 + 5_000_000_000n, end: T0 });
    return tr([sp], ids, { rejected: 0, spans: 1 }, spanValue(ids.traceIds[0] as string, 'duration_ns', -5_000_000_000, 'negative duration'));
  }]);

  // Duplicated span IDs within one request: stored once, never an error.
  B.push(['the same span twice in one scope', (ids) => {
    const sp = goodSpan(ids);
    return tr([sp, { ...sp, name: 'second copy' }], ids, { rejected: 0, spans: 1 });
  }]);
  B.push(['the same span in two resources and 100 times in a scope', (ids) => {
    const sp = goodSpan(ids);
    return { signal: 'traces', model: [...traces(Array.from({ length: 100 }, () => sp)), ...traces([sp, goodSpan(ids)])], traceIds: ids.traceIds, spec: { rejected: 0, spans: 2 } };
  }]);
  B.push(['a duplicate whose second copy is invalid', (ids) => {
    const sp = goodSpan(ids);
    return tr([sp, { ...sp, parent: Buffer.alloc(3, 1) }], ids, { rejected: 1, spans: 1 });
  }]);
  // The start time is part of a span's key (it partitions the rows), to the microsecond it is stored with.
  B.push(['one span ID twice with start times a second apart', (ids) => {
    const sp = goodSpan(ids);
    return tr([sp, { ...sp, start: T0 + 1_000_000_000n, end: T0 + 2_000_000_000n }], ids, { rejected: 0, spans: 2 });
  }]);
  B.push(['one span ID twice with start times within one microsecond', (ids) => {
    const sp = goodSpan(ids, { start: T0 + 1_000n });
    return tr([sp, { ...sp, start: T0 + 1_999n, name: 'second copy' }], ids, { rejected: 0, spans: 1 });
  }]);
  B.push(['one span ID under two trace IDs', (ids) => {
    const spanId = ids.span();
    return tr([goodSpan(ids, { spanId }), goodSpan(ids, { spanId })], ids, { rejected: 0, spans: 2 });
  }]);
  B.push(['the same log record three times', (ids) => {
    const rec = goodLog(ids);
    return lg([rec, rec, rec, goodLog(ids)], ids, { rejected: 0, logs: 2 });
  }]);
  B.push(['the same verdict as a log record twice', (ids) => {
    const rec = goodLog(ids, { eventName: 'gen_ai.evaluation.result', attrs: evaluation() });
    return lg([rec, rec], ids, { rejected: 0, logs: 0, evals: 1 });
  }]);

  // IDs of every wrong shape.
  B.push(['trace and span IDs of wrong lengths or all zeros', (ids) => tr([
    goodSpan(ids, { traceId: Buffer.alloc(0) }), goodSpan(ids, { traceId: Buffer.alloc(1, 7) }), goodSpan(ids, { traceId: ids.r.bytes(15) }), goodSpan(ids, { traceId: Buffer.concat([ids.trace(), Buffer.from([1])]) }),
    goodSpan(ids, { traceId: Buffer.alloc(16) }), goodSpan(ids, { spanId: Buffer.alloc(8) }), goodSpan(ids, { spanId: ids.r.bytes(7) }), goodSpan(ids, { spanId: Buffer.alloc(0) }),
    goodSpan(ids, { parent: Buffer.alloc(3, 1) }), goodSpan(ids, { links: [{ traceId: Buffer.alloc(5, 1) }] }),
    goodSpan(ids, { parent: Buffer.alloc(8) }), goodSpan(ids),
  ], ids, { rejected: 10, spans: 2 })]);
  B.push(['IDs in JSON: uppercase hex, base64, garbage', (ids) => {
    const upper = ids.trace();
    const b64 = ids.trace();
    return { ...tr([
      goodSpan(ids, { traceId: { json: upper.toString('hex').toUpperCase() } }),
      goodSpan(ids, { traceId: { json: b64.toString('base64') } }),
      goodSpan(ids, { traceId: { json: 'zz!not-an-id' } }),
      goodSpan(ids, { spanId: { json: 'abc' } }),
    ], ids, { rejected: 2, spans: 2 }), only: 'json' as const };
  }]);
  B.push(['log trace context: wrong length rejected, zero or span-only kept without it', (ids) => lg([
    goodLog(ids, { traceId: Buffer.alloc(5, 1) }), goodLog(ids, { spanId: Buffer.alloc(3, 1) }),
    goodLog(ids, { traceId: Buffer.alloc(16), body: { s: `no trace ${ids.n}` } }), goodLog(ids, { traceId: Buffer.alloc(0), spanId: Buffer.alloc(3, 1), body: { s: `span only ${ids.n}` } }),
    goodLog(ids),
  ], ids, { rejected: 2, logs: 3 })]);
  B.push(['a verdict record without a name is rejected', (ids) => lg([goodLog(ids, { eventName: 'gen_ai.evaluation.result', attrs: [s('gen_ai.evaluation.score.label', 'fail')] }), goodLog(ids, { eventName: 'gen_ai.evaluation.result', attrs: evaluation() })], ids, { rejected: 1, evals: 1 })]);

  // Enum values and counters outside their ranges are kept as sent.
  B.push(['unknown enum values and maximal counters', (ids) => {
    const sp = goodSpan(ids, { kind: 99, status: { code: 7 }, flags: 0xffffffff, dropped: 0xffffffff });
    return tr([sp, goodSpan(ids, { kind: -1 })], ids, { rejected: 0, spans: 2 }, spanValue(ids.traceIds[0] as string, `kind || ' ' || status_code || ' ' || flags || ' ' || dropped_attributes_count`, '99 7 4294967295 4294967295', 'kept enums and counters'));
  }]);
  B.push(['empty requests and envelopes', (ids) => ({ signal: 'traces', model: [{ scopes: [] }, { scopes: [{ items: [] }] }, ...traces([goodSpan(ids)])], traceIds: ids.traceIds, spec: { rejected: 0, spans: 1 } })]);

  // Multi-byte text in indexed columns: 1,024 characters of 3 UTF-8 bytes exceed a btree row (2,704 bytes).
  B.push(['gen_ai.response.id of 1,024 CJK characters (3 UTF-8 bytes each)', (ids) => {
    let cjk = '';
    for (let i = 0; i < 1024; i++) cjk += String.fromCharCode(0x4e00 + ids.r.int(20_000));
    return tr([goodSpan(ids, { attrs: [s('gen_ai.response.id', cjk), s('gen_ai.conversation.id', cjk)] }), goodSpan(ids)], ids, { rejected: 0, spans: 2 });
  }]);
  B.push(['verdict event with a 4,000-character random gen_ai.response.id', (ids) => {
    const id = ids.r.bytes(3000).toString('base64');
    return tr([goodSpan(ids, { events: [{ time: T0, name: 'gen_ai.evaluation.result', attrs: evaluation([s('gen_ai.response.id', id)]) }] }), goodSpan(ids)], ids, { rejected: 0, spans: 2, evals: 1 });
  }]);

  // The nesting limits themselves (docs/operations.md): a span attribute's value whose innermost level is the 4096th
  // (message, or JSON array or object) rejects its span only; one level further (spec left to the oracle) the request
  // is undecodable. protobuf: request, ResourceSpans, ScopeSpans, Span, KeyValue, AnyValue, then 2 messages per array
  // level (2045 → 4096). JSON: 10 levels down to the value, then 3 per array level (1362 → 4096).
  const atLimit = (levels: number, encoding: Encoding, within: boolean) => (ids: Ids): Built => ({
    ...tr([goodSpan(ids), goodSpan(ids, { attrs: [{ k: 'deep', v: deepValue(levels, 'array') }] })], ids, within ? { rejected: 1, spans: 1 } : undefined),
    only: encoding,
  });
  B.push(['protobuf: a value nesting messages to the 4096th level', atLimit(2045, 'protobuf', true)]);
  B.push(['protobuf: a value nesting messages to a 4097th level: undecodable', atLimit(2046, 'protobuf', false)]);
  B.push(['JSON: a value nesting arrays and objects to the 4096th level', atLimit(1362, 'json', true)]);
  B.push(['JSON: a value nesting arrays and objects to a 4097th level: undecodable', atLimit(1363, 'json', false)]);

  // A verdict keeps a timestamptz, not nanoseconds: from a log record, as from a span event (above), times past 2^63-1 ns are stored.
  B.push(['verdict records at time 2^64-1 and observed time 2^63', (ids) => lg([
    goodLog(ids, { time: MAX_U64, eventName: 'gen_ai.evaluation.result', attrs: evaluation() }),
    goodLog(ids, { time: 0n, observed: 1n << 63n, eventName: 'gen_ai.evaluation.result', attrs: evaluation([s('gen_ai.evaluation.explanation', 'observed')]) }),
  ], ids, { rejected: 0, logs: 0, evals: 2 })]);
  return B;
}

/** Multi-megabyte strings: stored whole; lifted columns over 1,024 characters left NULL. */
function megabyteBuilders(): Array<[string, (ids: Ids, r: Rng) => Built]> {
  const MiB = 1024 * 1024;
  const text = (r: Rng, n: number) => {
    // Mostly ASCII with some 2- and 3-byte characters, not compressible into a trivial run.
    const words = ['agent', 'tool', 'réponse', 'データ', 'verdict', 'span', '42', 'ok'];
    let out = '';
    while (out.length < n) out += `${r.pick(words)} `;
    return out.slice(0, n);
  };
  const tr = (spans: SpanM[], ids: Ids, check?: Case['check'], evals?: number): Built => ({ signal: 'traces', model: traces(spans), traceIds: ids.traceIds, spec: { rejected: 0, spans: spans.length, ...(evals !== undefined ? { evals } : {}) }, ...(check ? { check } : {}) });
  return [
    ['3 MiB span name', (ids, r) => {
      const name = text(r, 3 * MiB);
      return tr([goodSpan(ids, { name })], ids, spanValue(ids.traceIds[0] as string, 'length(name)', name.length, 'name length'));
    }],
    ['6 MiB attribute value', (ids, r) => {
      const v = text(r, 6 * MiB);
      return tr([goodSpan(ids, { attrs: [s('big', v)] })], ids, spanValue(ids.traceIds[0] as string, `length(attributes->>'big')`, v.length, 'value length'));
    }],
    ['2 MiB attribute key', (ids, r) => tr([goodSpan(ids, { attrs: [s(text(r, 2 * MiB), 'v')] })], ids)],
    ['2 MiB gen_ai.input.messages JSON string', (ids, r) => {
      const msgs = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', parts: [{ type: 'text', content: text(r, 1000) }] })));
      return tr([goodSpan(ids, { attrs: [s('gen_ai.input.messages', msgs)] })], ids, spanValue(ids.traceIds[0] as string, `jsonb_array_length(attributes->'gen_ai.input.messages')`, 2000, 'content stored as JSON'));
    }],
    ['2 MiB gen_ai.response.id (lifted column left NULL)', (ids, r) => tr([goodSpan(ids, { attrs: [s('gen_ai.response.id', text(r, 2 * MiB))] })], ids, spanValue(ids.traceIds[0] as string, `coalesce(gen_ai_response_id, 'NULL') || ' ' || length(attributes->>'gen_ai.response.id')`, `NULL ${2 * MiB}`, 'lifted column'))],
    ['2 MiB trace_state and status message', (ids, r) => tr([goodSpan(ids, { traceState: text(r, 2 * MiB), status: { code: 2, message: text(r, 2 * MiB) } })], ids)],
    ['2 MiB verdict explanation on a span event', (ids, r) => tr([goodSpan(ids, { events: [{ time: T0, name: 'gen_ai.evaluation.result', attrs: evaluation([s('gen_ai.evaluation.explanation', text(r, 2 * MiB))]) }] })], ids, undefined, 1)],
    ['1 MiB gen_ai.response.id on a verdict event', (ids, r) => tr([goodSpan(ids, { events: [{ time: T0, name: 'gen_ai.evaluation.result', attrs: evaluation([s('gen_ai.response.id', r.bytes(768 * 1024).toString('base64'))]) }] })], ids, undefined, 1)],
    ['4 MiB log body and 2 MiB log attribute', (ids, r) => ({ signal: 'logs', model: logs([goodLog(ids, { body: { s: text(r, 4 * MiB) }, attrs: [s('a', text(r, 2 * MiB))] })]), traceIds: ids.traceIds, spec: { rejected: 0, logs: 1 } })],
  ];
}

// ---- the mutation and random-input generators ---------------------------------------

interface Bases {
  payload: Payload;
  traceJsonText: string;
  traceJsonIds: string[];
}

function pickRendering(r: Rng, signalOpts: Signal[] = ['traces', 'logs']): { transport: Transport; encoding: Encoding; signal: Signal } {
  const [transport, encoding] = r.pick(RENDERINGS);
  return { transport, encoding, signal: r.pick(signalOpts) };
}

/** A random protobuf-shaped message: plausible tags, wire types and lengths. */
function randomProto(r: Rng, depth = 0): Buffer {
  const parts: Buffer[] = [];
  const n = r.range(0, depth > 2 ? 3 : 6);
  for (let i = 0; i < n; i++) {
    const field = r.chance(0.8) ? r.range(1, 16) : r.range(17, 1 << 20);
    const wt = r.pick([0, 1, 2, 2, 2, 5, 3, 4, 6, 7]);
    parts.push(varint((field << 3) | wt));
    if (wt === 0) parts.push(varint(BigInt(r.next()) * BigInt(r.next())));
    else if (wt === 1) parts.push(r.bytes(8));
    else if (wt === 5) parts.push(r.bytes(4));
    else if (wt === 2) {
      const inner = depth < 5 && r.chance(0.6) ? randomProto(r, depth + 1) : r.bytes(r.length(40));
      parts.push(varint(r.chance(0.9) ? inner.length : inner.length + r.range(-3, 20)), inner);
    }
  }
  return Buffer.concat(parts);
}

function randomJsonText(r: Rng): Buffer {
  const tokens = ['{', '}', '[', ']', ',', ':', '"resourceSpans"', '"resourceLogs"', '"scopeSpans"', '"spans"', '"logRecords"', '"traceId"', '"attributes"', '"value"', '"stringValue"', '"arrayValue"', '"values"', '"x"', '1', '-0', '1e400', 'null', 'true', '"NaN"', '"\\ud800"', '"\\u0000"', ' '];
  let out = r.chance(0.7) ? '{' : '';
  const n = r.length(200);
  for (let i = 0; i < n; i++) out += r.pick(tokens);
  return Buffer.from(out);
}

function* randomCases(r: Rng, count: number, limit: number): Generator<Case> {
  for (let i = 0; i < count; i++) {
    const cr = r.fork(i);
    const { transport, encoding, signal } = pickRendering(cr);
    const kind = cr.int(10);
    let body: Buffer;
    let label: string;
    if (kind < 4) {
      body = cr.bytes(cr.length(4096));
      label = `${body.length} random bytes`;
    } else if (kind < 6) {
      body = randomProto(cr);
      label = `protobuf-shaped ${body.length} bytes`;
    } else if (kind < 8) {
      body = randomJsonText(cr);
      label = `JSON-shaped ${body.length} bytes`;
    } else {
      body = cr.bytes(cr.int(4));
      label = `${body.length}-byte body`;
    }
    const c: Case = { category: 'random bytes', label, signal, transport, encoding, body, traceIds: [] };
    if (cr.chance(0.15)) {
      const z = compress('gzip', body);
      if (transport === 'http') Object.assign(c, { contentEncoding: 'gzip', wire: z, label: `${label}, gzip` });
      else Object.assign(c, { grpcData: grpcFrame(z, true), grpcHeaders: { 'grpc-encoding': 'gzip' }, label: `${label}, gzip` });
    }
    if (transport === 'http' && (c.wire ?? body).length > limit) c.expect = { http: 413, why: 'over the size limit' };
    yield c;
  }
  // Media types: another type is 415 (whatever the body); parameters and case do not matter.
  const types = ['text/plain', '', 'application/protobuf', 'application/grpc', 'application/x-protobuf; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=utf-16', 'application/jsonx', 'multipart/form-data'];
  for (const [i, type] of types.entries()) {
    for (const signal of ['traces', 'logs'] as const) {
      const cr = r.fork(10_000 + i);
      const known = /^application\/(x-protobuf|json)$/.test(type.split(';')[0]!.trim().toLowerCase());
      const encoding: Encoding = /json/i.test(type) ? 'json' : 'protobuf';
      const body = encoding === 'json' ? Buffer.from('{}') : cr.bytes(cr.int(64));
      yield { category: 'random bytes', label: `Content-Type ${JSON.stringify(type)}`, signal, transport: 'http', encoding, body, contentType: type, traceIds: [], ...(known ? {} : { expect: { http: 415, why: 'unsupported media type' } }) };
    }
  }
}

function logsBase(ids: Ids, r: Rng): LogsM {
  const t = T0 + BigInt(ids.n) * 1000n;
  return [
    {
      resource: { attrs: [s('service.name', 'support-agent'), { k: 'process.pid', v: { i: 4242n } }] },
      scopes: [{
        scope: { name: 'fuzz', version: '1.0' },
        items: [
          goodLog(ids, { time: t, body: { s: `request ${ids.n} handled` }, attrs: [s('http.route', '/orders'), { k: 'ok', v: { b: true } }] }),
          goodLog(ids, { time: t + 1n, eventName: 'gen_ai.user.message', body: { kv: [{ k: 'content', v: { s: 'where is my order?' } }, { k: 'n', v: { d: r.float() } }] } }),
          goodLog(ids, { time: t + 2n, eventName: 'gen_ai.evaluation.result', attrs: evaluation([s('gen_ai.evaluation.explanation', `case ${ids.n}`)]) }),
          goodLog(ids, { time: t + 3n, severity: 17, severityText: 'ERROR', body: { a: [{ s: 'x' }, { i: -5n }, { by: r.bytes(6) }] } }),
        ],
      }],
    },
  ];
}

const TIMES = ['0', '1', String(MAX_I64), String(1n << 63n), String(MAX_U64)];

/** A plain AnyValue object nested `depth` deep, for protobufjs's encoder. */
function nestedObject(depth: number, kvlist: boolean): Record<string, unknown> {
  let v: Record<string, unknown> = { stringValue: 'bottom' };
  for (let i = 0; i < depth; i++) v = kvlist ? { kvlistValue: { values: [{ key: 'k', value: v }] } } : { arrayValue: { values: [v] } };
  return v;
}

function randomEvaluationAttributes(r: Rng): Array<Record<string, unknown>> {
  const attrs: Array<Record<string, unknown>> = [];
  if (r.chance(0.8)) attrs.push({ key: 'gen_ai.evaluation.name', value: r.pick([{ stringValue: 'relevance' }, { stringValue: ' ' }, { intValue: '3' }, {}]) });
  if (r.chance(0.7)) attrs.push({ key: 'gen_ai.evaluation.score.value', value: r.pick([{ doubleValue: 0.25 }, { doubleValue: NaN }, { doubleValue: Infinity }, { stringValue: '0.3' }, { intValue: '7' }, { boolValue: true }]) });
  if (r.chance(0.3)) attrs.push({ key: 'gen_ai.evaluation.score', value: { doubleValue: 0.5 } });
  if (r.chance(0.5)) attrs.push({ key: 'gen_ai.evaluation.score.label', value: r.pick([{ stringValue: 'pass' }, { stringValue: 'x\u0000y' }, { boolValue: false }]) });
  if (r.chance(0.3)) attrs.push({ key: 'verdict.feedback.source', value: { stringValue: r.pick(['user', 'robot']) } });
  return attrs;
}

/** Field-level mutations of a decoded trace request (protobufjs objects): the wire stays valid, the content does not. */
function mutateTraceFields(r: Rng, req: { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, any>> }> }> }): string[] {
  const scopes = req.resourceSpans.flatMap((rs) => rs.scopeSpans);
  const spans = scopes.flatMap((ss) => ss.spans);
  const ops: string[] = [];
  const k = r.range(1, 3);
  for (let i = 0; i < k && spans.length > 0; i++) {
    const sp = r.pick(spans);
    switch (r.int(11)) {
      case 0: {
        const len = r.pick([0, 1, 8, 15, 17, 32]);
        sp.traceId = r.bytes(len);
        ops.push(`traceId ${len} bytes`);
        break;
      }
      case 1:
        sp.traceId = Buffer.alloc(16);
        ops.push('traceId zero');
        break;
      case 2: {
        const len = r.pick([0, 7, 9, 8]);
        sp.spanId = len === 8 ? Buffer.alloc(8) : r.bytes(len);
        ops.push(`spanId ${len === 8 ? 'zero' : `${len} bytes`}`);
        break;
      }
      case 3: {
        const len = r.pick([0, 3, 8, 16]);
        sp.parentSpanId = len === 8 ? Buffer.alloc(8) : r.bytes(len);
        ops.push(`parentSpanId ${len === 8 ? 'zero' : `${len} bytes`}`);
        break;
      }
      case 4:
        sp.startTimeUnixNano = r.pick(TIMES);
        ops.push(`start ${sp.startTimeUnixNano}`);
        break;
      case 5:
        sp.endTimeUnixNano = r.pick(TIMES);
        ops.push(`end ${sp.endTimeUnixNano}`);
        break;
      case 6: {
        const kv = r.chance(0.5);
        const depth = kv ? r.pick([5, 20, 30]) : r.pick([5, 20, 45]);
        sp.attributes.push({ key: 'nested', value: nestedObject(depth, kv) });
        ops.push(`${kv ? 'kvlist' : 'array'} ${depth} deep`);
        break;
      }
      case 7:
        r.pick(scopes).spans.push(sp);
        ops.push('duplicate span');
        break;
      case 8:
        sp.attributes.push({ key: 'weird', value: r.pick([{ doubleValue: NaN }, { doubleValue: -Infinity }, { stringValue: 'a\u0000b' }, { intValue: '-9223372036854775808' }, {}, { bytesValue: r.bytes(5) }]) });
        ops.push('odd value');
        break;
      case 9:
        sp.events.push({ name: 'gen_ai.evaluation.result', timeUnixNano: r.pick(TIMES), attributes: randomEvaluationAttributes(r) });
        ops.push('evaluation event');
        break;
      default:
        sp.links.push({ traceId: r.bytes(r.pick([0, 5, 16])), spanId: r.bytes(r.pick([0, 3, 8])) });
        ops.push('link');
    }
  }
  return ops;
}

/** Field-level mutations of a log model (times stay below 2^63: that case is the structured one, see its failure). */
function mutateLogFields(r: Rng, m: LogsM): string[] {
  const records = m.flatMap((e) => e.scopes.flatMap((sc) => sc.items));
  const ops: string[] = [];
  const k = r.range(1, 3);
  for (let i = 0; i < k; i++) {
    const rec = r.pick(records);
    switch (r.int(8)) {
      case 0: {
        const len = r.pick([0, 5, 16, 17]);
        rec.traceId = len === 16 ? Buffer.alloc(16) : r.bytes(len);
        ops.push(`traceId ${len === 16 ? 'zero' : `${len} bytes`}`);
        break;
      }
      case 1: {
        const len = r.pick([0, 3, 8]);
        rec.spanId = len === 8 ? Buffer.alloc(8) : r.bytes(len);
        ops.push(`spanId ${len}`);
        break;
      }
      case 2:
        rec.time = r.pick([0n, 1n, MAX_I64]);
        rec.observed = r.pick([0n, MAX_I64, undefined]);
        ops.push('times');
        break;
      case 3:
        rec.body = r.chance(0.5) ? deepValue(r.pick([10, 30, 64, 65]), r.pick(['array', 'kvlist', 'mixed'] as const)) : { d: NaN };
        ops.push('body');
        break;
      case 4:
        rec.eventName = 'gen_ai.evaluation.result';
        rec.attrs = [...(rec.attrs ?? []), ...(r.chance(0.5) ? [] : [s('gen_ai.evaluation.name', r.pick(['x', ' ', '']))]), ...(r.chance(0.5) ? [dbl('gen_ai.evaluation.score.value', r.pick([NaN, 0.5]))] : [])];
        ops.push('made an evaluation');
        break;
      case 5:
        records.push({ ...rec });
        ops.push('duplicate record');
        break;
      case 6:
        rec.attrs = [...(rec.attrs ?? []), { k: 'event.name', v: { s: r.pick(['gen_ai.evaluation.result', 'gen_ai.choice']) } }];
        ops.push('legacy event.name');
        break;
      default:
        rec.severity = r.pick([-1, 0, 25, 0x7fffffff]);
        rec.severityText = Uint8Array.from([0xff, 0x00, 0x41]);
        ops.push('severity');
    }
  }
  // The duplicated records were pushed to a flat copy: put them back in the first scope.
  const first = m[0]?.scopes[0];
  if (first) for (const rec of records.slice(m.flatMap((e) => e.scopes.flatMap((sc) => sc.items)).length)) first.items.push(rec);
  return ops;
}

function* mutatedProtoCases(r: Rng, count: number, bases: Bases, category: string, first: number): Generator<Case> {
  for (let i = 0; i < count; i++) {
    const cr = r.fork(i);
    const n = first + i;
    const signal: Signal = cr.chance(0.7) ? 'traces' : 'logs';
    let base: Buffer;
    let traceIds: string[];
    // A third of the inputs mutate fields (the wire stays valid: partial success), the rest mutate bytes.
    const fieldLevel = cr.chance(0.35);
    let fieldOps: string[] = [];
    if (signal === 'traces') {
      // Trace IDs: n, then a scramble of n, then eight bytes every case shares. With the scramble, a mutation of n alone
      // cannot turn one case's trace ID into another's (the lookups below would find that case's spans).
      base = bases.payload.renew(n, Math.imul(n, 0x9e3779b1) >>> 0);
      const req = TraceRequest.decode(base) as unknown as Parameters<typeof mutateTraceFields>[1];
      traceIds = [...new Set(req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => Buffer.from(sp.traceId as Uint8Array).toString('hex')))))];
      if (fieldLevel) {
        fieldOps = mutateTraceFields(cr, req);
        base = Buffer.from(TraceRequest.encode(req as unknown as Record<string, unknown>).finish());
      }
    } else {
      const ids = new Ids(cr, n);
      const model = logsBase(ids, cr);
      if (fieldLevel) fieldOps = mutateLogFields(cr, model);
      base = logsProto(model);
      traceIds = ids.traceIds;
    }
    const { bytes, ops } = fieldLevel && cr.chance(0.7) ? { bytes: base, ops: [] } : mutateBytes(cr, base, cr.range(1, fieldLevel ? 1 : 4));
    ops.unshift(...fieldOps);
    const transport: Transport = cr.chance(0.5) ? 'http' : 'grpc';
    const c: Case = { category, label: ops.join(' '), signal, transport, encoding: 'protobuf', body: bytes, traceIds, n };
    if (cr.chance(0.1)) {
      const z = compress('gzip', bytes);
      if (transport === 'http') Object.assign(c, { contentEncoding: 'gzip', wire: z });
      else Object.assign(c, { grpcData: grpcFrame(z, true), grpcHeaders: { 'grpc-encoding': 'gzip' } });
      c.label += ' (gzip)';
    }
    yield c;
  }
}

function* mutatedJsonCases(r: Rng, count: number, bases: Bases, category: string, first: number): Generator<Case> {
  for (let i = 0; i < count; i++) {
    const cr = r.fork(i);
    const n = first + i;
    const signal: Signal = cr.chance(0.6) ? 'traces' : 'logs';
    let text: string;
    let traceIds: string[];
    if (signal === 'traces') {
      text = bases.traceJsonText;
      traceIds = bases.traceJsonIds.map((id, k) => {
        const fresh = traceIdFor(cr, n, k).toString('hex');
        text = text.replaceAll(id, fresh);
        return fresh;
      });
    } else {
      const ids = new Ids(cr, n);
      text = logsJson(logsBase(ids, cr)).toString('utf8');
      traceIds = ids.traceIds;
    }
    let body: Buffer;
    let label: string;
    const mode = cr.int(3);
    if (mode < 2) {
      const tree = JSON.parse(text) as unknown;
      const k = cr.range(1, 3);
      mutateJsonTree(cr, tree, k);
      body = Buffer.from(JSON.stringify(tree));
      label = `${k} tree mutation(s)`;
      if (mode === 1) {
        body = mutateText(cr, body, 1);
        label += ' + 1 text mutation';
      }
    } else {
      const k = cr.range(1, 3);
      body = mutateText(cr, Buffer.from(text), k);
      label = `${k} text mutation(s)`;
    }
    const c: Case = { category, label, signal, transport: 'http', encoding: 'json', body, traceIds, n };
    if (cr.chance(0.1)) Object.assign(c, { contentEncoding: 'gzip', wire: compress('gzip', body), label: `${label} (gzip)` });
    yield c;
  }
}

/** Corrupt, truncated and mismatched compression; the outcome is what zlib/zstd make of the bytes. */
function* compressionCases(r: Rng, count: number, limit: number, first: number): Generator<Case> {
  const category = 'compression';
  for (let i = 0; i < count; i++) {
    const cr = r.fork(i);
    const n = first + i;
    const signal: Signal = cr.chance(0.6) ? 'traces' : 'logs';
    const ids = new Ids(cr, n);
    const plain = signal === 'traces' ? tracesProto(traces([goodSpan(ids), goodSpan(ids, { attrs: [s('k', 'v'.repeat(cr.range(1, 300)))] })])) : logsProto(logs([goodLog(ids), goodLog(ids)]));
    const transport: Transport = cr.chance(0.6) ? 'http' : 'grpc';
    const codec: Codec = transport === 'grpc' ? (cr.chance(0.8) ? 'gzip' : 'deflate') : cr.pick(['gzip', 'gzip', 'gzip', 'deflate', 'zstd'] as const);
    let wire = compress(codec, plain);
    let how: string;
    switch (cr.int(8)) {
      case 0: {
        const at = cr.int(wire.length);
        how = `truncated at ${at} of ${wire.length}`;
        wire = wire.subarray(0, at);
        break;
      }
      case 1:
        wire = wire.subarray(0, wire.length - cr.range(1, 8));
        how = 'trailer cut';
        break;
      case 2: {
        wire = Buffer.from(wire);
        const k = cr.range(1, 3);
        for (let j = 0; j < k; j++) {
          const at = cr.int(wire.length);
          wire[at] = (wire[at] ?? 0) ^ (1 << cr.int(8));
        }
        how = `${k} bit flip(s)`;
        break;
      }
      case 3:
        wire = Buffer.from(plain);
        how = 'not compressed at all';
        break;
      case 4:
        wire = compress(codec, wire);
        how = 'compressed twice';
        break;
      case 5:
        wire = Buffer.concat([wire, cr.bytes(cr.range(1, 16))]);
        how = 'trailing garbage';
        break;
      case 6:
        wire = Buffer.concat([wire, compress(codec, plain)]);
        how = 'two members';
        break;
      default: {
        wire = Buffer.from(wire);
        const at = cr.int(Math.min(10, wire.length));
        wire[at] = cr.next() & 0xff;
        how = `header byte ${at} replaced`;
      }
    }
    const d = decompress(codec, wire, limit);
    const c: Case = { category, label: `${codec} ${how}`, signal, transport, encoding: 'protobuf', body: 'out' in d ? d.out : plain, traceIds: ids.traceIds, n };
    if (transport === 'http') {
      c.contentEncoding = codec;
      c.wire = wire;
      if ('error' in d) c.expect = { http: d.error === 'too large' ? 413 : 400, why: `${codec}: ${d.message}` };
    } else {
      c.grpcData = grpcFrame(wire, true);
      c.grpcHeaders = { 'grpc-encoding': codec };
      // grpc-js decompresses before Verdict sees the message and answers a corrupt one with INTERNAL "Failed to decompress message",
      // as grpc-go (the Collector) does: not retryable, like INVALID_ARGUMENT. Accepted here, reported as a deviation from status.ts.
      if ('error' in d) c.expect = { grpc: d.error === 'too large' ? [8] : [3, 13], why: `${codec}: ${d.message}` };
    }
    yield c;
  }
  // Content-Encoding values: unknown ones are 415; names are case-insensitive.
  for (const [k, [enc, ok]] of ([['br', false], ['gzip, gzip', false], ['compress', false], ['GZIP', true], [' gzip ', true], ['identity', true], ['x-gzip', true]] as const).entries()) {
    const ids = new Ids(r.fork(count + k), first + count + k);
    const plain = tracesProto(traces([goodSpan(ids)]));
    const wire = ok && enc.trim().toLowerCase() !== 'identity' ? compress('gzip', plain) : plain;
    yield { category, label: `Content-Encoding ${JSON.stringify(enc)}`, signal: 'traces', transport: 'http', encoding: 'protobuf', body: plain, wire, contentEncoding: enc, traceIds: ids.traceIds, ...(ok ? {} : { expect: { http: 415, why: 'unsupported Content-Encoding' } }) };
  }
}

/** Decompression bombs past the limit: 413 / RESOURCE_EXHAUSTED, nothing decoded. */
const bombs = new Map<string, Buffer>();
function bomb(codec: Codec, size: number): Buffer {
  const key = `${codec}:${size}`;
  if (!bombs.has(key)) bombs.set(key, compress(codec, Buffer.alloc(size)));
  return bombs.get(key) as Buffer;
}

function* bombCases(sizes: number[], codecs: readonly Codec[] = ['gzip', 'deflate', 'zstd'], compact = false): Generator<Case> {
  for (const size of sizes) {
    for (const [i, codec] of codecs.entries()) {
      const wire = bomb(codec, size);
      if (!compact || i % 2 === 0) yield { category: 'gzip bomb', label: `${codec} ${wire.length} bytes → ${size}`, signal: 'traces', transport: 'http', encoding: 'protobuf', body: Buffer.alloc(0), wire, contentEncoding: codec, traceIds: [], expect: { http: 413, why: 'over the limit after decompression' } };
      if (!compact || i % 2 === 1) yield { category: 'gzip bomb', label: `${codec} ${wire.length} bytes → ${size} (JSON)`, signal: 'logs', transport: 'http', encoding: 'json', body: Buffer.alloc(0), wire, contentEncoding: codec, traceIds: [], expect: { http: 413, why: 'over the limit after decompression' } };
      if (codec === 'gzip' || (codec === 'deflate' && !compact)) {
        yield { category: 'gzip bomb', label: `gRPC ${codec} ${wire.length} bytes → ${size}`, signal: 'traces', transport: 'grpc', encoding: 'protobuf', body: Buffer.alloc(0), grpcData: grpcFrame(wire, true), grpcHeaders: { 'grpc-encoding': codec }, traceIds: [], expect: { grpc: [8], why: 'over the limit after decompression' } };
      }
    }
  }
}

/** Bodies around the limit of the small server, raw and compressed. */
function* limitCases(r: Rng, limit: number, first: number): Generator<Case> {
  const category = 'size limit';
  for (let i = 0; i < 16; i++) {
    const cr = r.fork(i);
    const size = limit + 1 + cr.int(3 * limit);
    const body = cr.bytes(size);
    const signal: Signal = cr.chance(0.5) ? 'traces' : 'logs';
    yield { category, label: `${size} raw bytes (HTTP)`, signal, transport: 'http', encoding: cr.chance(0.5) ? 'json' : 'protobuf', body, traceIds: [], expect: { http: 413, why: 'over the size limit' } };
    yield { category, label: `${size} raw bytes (gRPC)`, signal, transport: 'grpc', encoding: 'protobuf', body, traceIds: [], expect: { grpc: [8], why: 'over the size limit' } };
  }
  // Exactly at the limit: accepted, raw and after decompression; one byte over: refused.
  for (const [k, [delta, codec]] of ([[0, undefined], [1, undefined], [0, 'gzip'], [1, 'gzip'], [0, 'zstd'], [1, 'deflate']] as const).entries()) {
    const ids = new Ids(r.fork(100 + k), first + k);
    const json = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: ids.trace().toString('hex'), spanId: ids.span().toString('hex'), name: 'at the limit', startTimeUnixNano: String(T0), endTimeUnixNano: String(T0) }] }] }] });
    const body = Buffer.from(json.padEnd(limit + delta, ' '));
    const c: Case = { category, label: `${codec ?? 'raw'} ${delta ? 'one byte over' : 'exactly at'} the limit`, signal: 'traces', transport: 'http', encoding: 'json', body, traceIds: [...ids.traceIds] };
    if (codec) Object.assign(c, { contentEncoding: codec, wire: compress(codec, body) });
    if (delta) c.expect = { http: 413, why: 'one byte over the limit' };
    yield c;
    if (!codec) {
      // An unknown field (3) pads the message to the size wanted; the decoder skips it.
      const grpcIds = new Ids(r.fork(200 + k), first + 100 + k);
      const pbBody = tracesProto(traces([goodSpan(grpcIds)]));
      const want = limit + delta;
      let pad = want - pbBody.length - 1;
      while (pad + varint(pad).length > want - pbBody.length - 1) pad--;
      const padded = Buffer.concat([pbBody, Buffer.from([0x1a]), varint(pad), Buffer.alloc(pad)]);
      if (padded.length !== want) throw new Error(`padding: ${padded.length} bytes, wanted ${want}`);
      yield { category, label: `gRPC message ${delta ? 'one byte over' : 'exactly at'} the limit`, signal: 'traces', transport: 'grpc', encoding: 'protobuf', body: padded, traceIds: grpcIds.traceIds, ...(delta ? { expect: { grpc: [8], why: 'one byte over the limit' } } : {}) };
    }
  }
}

/** gRPC framing errors are answered by grpc-js before Verdict sees a message: the codes it gives are listed per case. */
function* framingCases(r: Rng, first: number): Generator<Case> {
  const category = 'gRPC framing';
  let k = 0;
  for (const signal of ['traces', 'logs'] as const) {
    // Every case sends a message of its own (fresh IDs), built when it is taken.
    let msg: Buffer = Buffer.alloc(0);
    const fresh = () => {
      const ids = new Ids(r.fork(k), first + k++);
      msg = signal === 'traces' ? tracesProto(traces([goodSpan(ids)])) : logsProto(logs([goodLog(ids)]));
      return { category, signal, transport: 'grpc' as const, encoding: 'protobuf' as const, body: msg, traceIds: ids.traceIds };
    };
    let base = fresh();
    // grpc-js: a unary call with no message, or two, is UNIMPLEMENTED ("Received no request message" / "a second request message").
    yield { ...base, label: 'no message', grpcData: Buffer.alloc(0), expect: { grpc: [12], why: 'no request message (grpc-js)' } };
    base = fresh();
    yield { ...base, label: 'two messages', grpcData: Buffer.concat([grpcFrame(msg), grpcFrame(msg)]), expect: { grpc: [12], why: 'two request messages (grpc-js)' } };
    base = fresh();
    yield { ...base, label: 'frame shorter than its length prefix', grpcData: grpcFrame(msg.subarray(0, 3), false, msg.length), expect: { grpc: [12], why: 'incomplete frame (grpc-js)' } };
    base = fresh();
    yield { ...base, label: 'a 4 GiB length prefix', grpcData: grpcFrame(msg, false, 0xffffffff), expect: { grpc: [8], why: 'declared length over the limit' } };
    base = fresh();
    yield { ...base, label: 'half a prefix', grpcData: Buffer.from([0, 0, 0]), expect: { grpc: [12], why: 'incomplete frame (grpc-js)' } };
    base = fresh();
    yield { ...base, label: 'compressed flag without grpc-encoding (read as identity)', grpcData: grpcFrame(msg, true) };
    base = fresh();
    yield { ...base, label: 'grpc-encoding gzip on an uncompressed frame', grpcData: grpcFrame(msg), grpcHeaders: { 'grpc-encoding': 'gzip' } };
    base = fresh();
    yield { ...base, label: 'unsupported grpc-encoding', grpcData: grpcFrame(msg, true), grpcHeaders: { 'grpc-encoding': 'br' }, expect: { grpc: [12], why: 'unsupported message encoding (gRPC: UNIMPLEMENTED)' } };
    base = fresh();
    yield { ...base, label: 'garbage compression flag 7', grpcData: Buffer.concat([Buffer.from([7]), grpcFrame(msg).subarray(1)]) };
  }
}

// ---- the run ---------------------------------------------------------------------

afterAll(() => {
  const total = [...tallies.values()].reduce((n, t) => n + t.inputs, 0);
  const lines = [...tallies.entries()].map(([cat, t]) => {
    const refused = [...t.refused.entries()].map(([st, k]) => `${st}×${k}`).join(' ');
    return `  ${cat.padEnd(22)} ${String(t.inputs).padStart(5)} inputs: ${t.ok} ok, ${t.partial} partial, refused ${refused || '0'}; ${Math.round(t.ms)} ms in requests`;
  });
  console.log(
    `fuzz summary (seed ${SEED}): ${total} inputs in ${((performance.now() - runStarted) / 1000).toFixed(1)} s, ${failures.length} problems\n${lines.join('\n')}\n` +
      `  heap after GC: ${heap.map(([w, b]) => `${w} ${(b / 1048576).toFixed(1)} MiB`).join(', ')}${notes.map((n) => `\n  ${n}`).join('')}`,
  );
});

describe('fuzz: bad input over both transports and both encodings', () => {
  const targets: Target[] = [];
  let small: Target;
  let bases: Bases;
  const rng = new Rng(SEED);
  let gc: () => void;
  let resourcesBefore = 0;

  const makeTarget = (name: string, backend: Backend, t: TestServer, limit: number): Target => ({
    name, backend, t, grpc: new RawGrpc(t.grpcAddress), limit, spans: 0, logs: 0, evals: 0, logsWithoutTrace: new Set(), evalsWithoutTrace: new Set(),
  });

  beforeAll(async () => {
    gc = gcFunction();
    // The SDK draws trace and span IDs from Math.random: seed it while the base traces are made, so the inputs are the same every run.
    const idRng = new Rng(SEED ^ 0x1d5);
    const random = Math.random;
    Math.random = () => idRng.float();
    let spans: Awaited<ReturnType<typeof makeSpans>>;
    try {
      spans = await makeSpans(2, SEED);
    } finally {
      Math.random = random;
    }
    const [pglite, postgres, smallServer] = await Promise.all([
      startTestServer('pglite'),
      startTestServer('postgres'),
      startTestServer('pglite', { maxBodyBytes: SMALL_LIMIT }),
    ]);
    targets.push(makeTarget('pglite', 'pglite', pglite, pglite.config.maxBodyBytes), makeTarget('postgres', 'postgres', postgres, postgres.config.maxBodyBytes));
    small = makeTarget('pglite/16KiB', 'pglite', smallServer, SMALL_LIMIT);
    const payload = new Payload(spans);
    const traceJsonText = Buffer.from(JsonTraceSerializer.serializeRequest(spans)!).toString('utf8');
    bases = { payload, traceJsonText, traceJsonIds: [...new Set(spans.map((sp) => sp.spanContext().traceId))] };
    resourcesBefore = process.getActiveResourcesInfo().length;
    heap.push(['servers started', settledHeap(gc)]);
  });

  afterAll(async () => {
    for (const t of [...targets, small]) t?.grpc.close();
    closeHttpAgent();
    await Promise.all([...targets, small].map((t) => t?.t.close()));
  });

  it('random bytes and media types (embedded database)', { timeout: 120_000 * SCALE }, async () => {
    await runAll(targets[0] as Target, randomCases(rng.fork(1), scaled(1500), (targets[0] as Target).limit), 4);
    heap.push(['after random bytes', settledHeap(gc)]);
    expect(failureReport('random bytes')).toEqual([]);
  });

  it('mutated valid protobuf (both databases)', { timeout: 120_000 * SCALE }, async () => {
    for (const [i, target] of targets.entries()) await runAll(target, mutatedProtoCases(rng.fork(20 + i), scaled(700), bases, 'mutated protobuf', 1_000_000), 4);
    expect(failureReport('mutated protobuf')).toEqual([]);
  });

  it('mutated valid JSON (both databases)', { timeout: 120_000 * SCALE }, async () => {
    for (const [i, target] of targets.entries()) await runAll(target, mutatedJsonCases(rng.fork(30 + i), scaled(500), bases, 'mutated JSON', 2_000_000), 4);
    expect(failureReport('mutated JSON')).toEqual([]);
  });

  it('truncated, corrupt and mismatched compression (both databases)', { timeout: 120_000 * SCALE }, async () => {
    for (const [i, target] of targets.entries()) await runAll(target, compressionCases(rng.fork(40 + i), scaled(250), target.limit, 3_000_000), 4);
    expect(failureReport('compression')).toEqual([]);
  });

  it('decompression bombs and the size limit', { timeout: 120_000 }, async () => {
    // Past the default 64 MiB (both databases), and many small ones past a 16 KiB limit (embedded; refused before the database).
    for (const target of targets) await runAll(target, bombCases([target.limit + 1024 * 1024], ['gzip', 'zstd'], true), 1);
    await runAll(small, bombCases([SMALL_LIMIT + 1, 65_536, 1024 * 1024, 16 * 1024 * 1024]), 2);
    await runAll(small, limitCases(rng.fork(50), SMALL_LIMIT, 4_000_000), 2);
    bombs.clear();
    expect([...failureReport('gzip bomb'), ...failureReport('size limit')]).toEqual([]);
  });

  it('structured edge cases, in every encoding and transport (both databases)', { timeout: 180_000 }, async () => {
    const builders = structuredBuilders();
    for (const [ti, target] of targets.entries()) {
      const cases = function* () {
        for (const [bi, [label, build]] of builders.entries()) {
          for (const [ri, [transport, encoding]] of RENDERINGS.entries()) {
            const br = rng.fork(60_000 + ti * 10_000 + bi * 10 + ri);
            const built = build(new Ids(br, 6_000_000 + ti * 100_000 + bi * 10 + ri), br);
            if (built.only && built.only !== encoding) continue;
            yield render('structured', label, built, transport, encoding, (bi + ri) % 5 === 0);
          }
        }
      };
      // One at a time, so that a failing case cannot share a write transaction with another and the results are attributable.
      await runAll(target, cases(), 1);
    }
    expect(failureReport('structured')).toEqual([]);
  });

  it('multi-megabyte strings (both databases)', { timeout: 180_000 }, async () => {
    const builders = megabyteBuilders();
    for (const [ti, target] of targets.entries()) {
      const cases = function* () {
        for (const [bi, [label, build]] of builders.entries()) {
          const [transport, encoding] = RENDERINGS[(bi + ti) % RENDERINGS.length] as [Transport, Encoding];
          const br = rng.fork(70_000 + ti * 100 + bi);
          yield render('multi-megabyte', label, build(new Ids(br, 7_000_000 + ti * 1000 + bi), br), transport, encoding, bi % 4 === 1);
        }
      };
      await runAll(target, cases(), 1);
    }
    expect(failureReport('multi-megabyte')).toEqual([]);
  });

  it('gRPC framing (embedded database)', { timeout: 60_000 }, async () => {
    await runAll(targets[0] as Target, framingCases(rng.fork(80), 5_000_000), 1);
    expect(failureReport('gRPC framing')).toEqual([]);
  });

  it('survives: still answers, stored exactly the accepted items, heap and handles bounded, enough inputs', { timeout: 60_000 }, async () => {
    const problems: string[] = [];
    for (const target of [...targets, small]) {
      const t = target.t;
      const health = await postJson(`${t.httpUrl}/healthz`, {}).catch((e: Error) => ({ status: 0, json: () => e.message }));
      if (health.status !== 200) problems.push(`${target.name}: /healthz answered ${health.status}`);
      // A valid export through the official grpc-js client and over HTTP still works.
      const ids = new Ids(rng.fork(90), 9_000_000 + caseNo++);
      const body = tracesProto(traces([goodSpan(ids)]));
      const viaGrpc = await grpcCall(t.grpcAddress, TRACE_PATH, body);
      if (viaGrpc.code !== 0) problems.push(`${target.name}: valid gRPC export answered ${viaGrpc.code} ${viaGrpc.details}`);
      const ids2 = new Ids(rng.fork(91), 9_000_000 + caseNo++);
      const viaHttp = await httpPost(t.httpUrl, '/v1/traces', tracesProto(traces([goodSpan(ids2)])), { 'content-type': MEDIA.protobuf });
      if (viaHttp.status !== 200) problems.push(`${target.name}: valid HTTP export answered ${viaHttp.status} ${viaHttp.dropped ?? ''}`);
      target.spans += (viaGrpc.code === 0 ? 1 : 0) + (viaHttp.status === 200 ? 1 : 0);
      // The totals: exactly what the accepted requests should have stored, nothing from the refused ones.
      const [row] = await t.query<{ spans: number; logs: number; evals: number; logs_null: number; evals_null: number }>(
        `SELECT (SELECT count(*)::int FROM verdict.spans) AS spans, (SELECT count(*)::int FROM verdict.logs) AS logs, (SELECT count(*)::int FROM verdict.evaluations) AS evals,
                (SELECT count(*)::int FROM verdict.logs WHERE trace_id IS NULL) AS logs_null, (SELECT count(*)::int FROM verdict.evaluations WHERE trace_id IS NULL) AS evals_null`,
      );
      const want = { spans: target.spans, logs: target.logs + target.logsWithoutTrace.size, evals: target.evals + target.evalsWithoutTrace.size, logs_null: target.logsWithoutTrace.size, evals_null: target.evalsWithoutTrace.size };
      const got = { spans: Number(row?.spans), logs: Number(row?.logs), evals: Number(row?.evals), logs_null: Number(row?.logs_null), evals_null: Number(row?.evals_null) };
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${target.name}: table totals ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
    const heapEnd = settledHeap(gc);
    heap.push(['end', heapEnd]);
    const heapStart = heap.find(([w]) => w === 'after random bytes')?.[1] ?? heapEnd;
    if (heapEnd - heapStart > HEAP_GROWTH_LIMIT) problems.push(`heap grew by ${((heapEnd - heapStart) / 1048576).toFixed(1)} MiB (limit ${HEAP_GROWTH_LIMIT / 1048576} MiB)`);
    for (const target of [...targets, small]) target.grpc.close();
    closeHttpAgent();
    await new Promise((r) => setTimeout(r, 200));
    const resourcesAfter = process.getActiveResourcesInfo().length;
    notes.push(`active handles: ${resourcesBefore} after start-up, ${resourcesAfter} at the end`);
    if (resourcesAfter > resourcesBefore + 8) problems.push(`active handles grew from ${resourcesBefore} to ${resourcesAfter}: ${process.getActiveResourcesInfo().join(', ')}`);
    const total = [...tallies.values()].reduce((n, t) => n + t.inputs, 0);
    if (total < MIN_INPUTS) problems.push(`only ${total} inputs tried (minimum ${MIN_INPUTS})`);
    expect(problems).toEqual([]);
  });
});

/**
 * A decompression bomb that stays inside the size limit but decodes into
 * millions of objects: 4 MiB of empty spans is 2 million span objects in
 * protobuf (2 bytes each; ~340 MB of heap, 85× the body) or 1.4 million in
 * JSON (`{},`; ~485 MB). With the default limit (64 MiB) that is 5.5 to 7.5
 * GB, past V8's default heap limit (4.2 GB on this 24 GB machine). Each child
 * runs at the same ratio of body limit to heap (4 MiB : 256 MB ≈ 64 MiB :
 * 4 GB), so a case takes seconds, not minutes. The receiver must answer
 * (200 with partial success, 400 or 413) and live.
 */
describe('fuzz: decoding amplification (child process)', () => {
  it('gzip bombs of empty spans within the size limit leave the receiver alive', { timeout: 120_000 }, async () => {
    const db = await createDatabase('verdict_fuzz');
    const tl = tally('amplification');
    const problems: string[] = [];
    try {
      const limit = 4 * 1024 * 1024;
      // ExportTraceServiceRequest { resource_spans { scope_spans { spans {} × 2,097,144 } } }
      const spans = Buffer.alloc(limit - 16);
      for (let i = 0; i + 1 < spans.length; i += 2) spans[i] = 0x12;
      const resource = Buffer.concat([Buffer.from([0x12]), varint(spans.length), spans]);
      const proto = Buffer.concat([Buffer.from([0x0a]), varint(resource.length), resource]);
      const n = Math.floor((limit - 60) / 3);
      const json = Buffer.from(`{"resourceSpans":[{"scopeSpans":[{"spans":[${'{},'.repeat(n)}{}]}]}]}`);
      for (const [encoding, req, count] of [['protobuf', proto, spans.length / 2], ['json', json, n + 1]] as const) {
        expect(req.length).toBeLessThanOrEqual(limit);
        const httpPort = await freePort();
        const child = spawnVerdict(['serve', '--host', '127.0.0.1', '--http-port', String(httpPort), '--grpc-port', '0', '--pg-port', '0', '--max-body-size', '4MiB', '--log-level', 'warn'], {
          DATABASE_URL: db.url,
          NODE_OPTIONS: '--max-old-space-size=256',
        });
        try {
          const url = `http://127.0.0.1:${httpPort}`;
          for (let i = 0; ; i++) {
            const h = await httpPost(url, '/healthz', Buffer.alloc(0), {}, 2000);
            if (h.status === 200) break;
            if (i > 200 || child.proc.exitCode !== null) throw new Error(`verdict did not start: ${child.stderr()}`);
            await new Promise((r) => setTimeout(r, 100));
          }
          const wire = compress('gzip', req);
          const a = await httpPost(url, '/v1/traces', wire, { 'content-type': MEDIA[encoding], 'content-encoding': 'gzip' }, 60_000);
          tl.inputs++;
          tl.ms += a.ms;
          tl.refused.set(a.dropped ? 'dropped' : a.status, (tl.refused.get(a.dropped ? 'dropped' : a.status) ?? 0) + 1);
          const what = `${encoding}: ${wire.length}-byte gzip of ${req.length} bytes (${count} empty spans)`;
          if (a.dropped || ![200, 400, 413].includes(a.status)) problems.push(`${what}: ${a.dropped ? `no answer (${a.dropped})` : `HTTP ${a.status}`}`);
          const alive = await httpPost(url, '/healthz', Buffer.alloc(0), {}, 5000);
          if (alive.status !== 200) {
            const exit = await Promise.race([child.exited, new Promise((r) => setTimeout(() => r('still running'), 1000))]);
            const oom = /heap out of memory|OOMErrorHandler/.exec(child.stderr())?.[0];
            problems.push(`${what}: receiver gone after it: exit ${String(exit)}${oom ? `, ${oom}` : ''}`);
          }
        } finally {
          child.proc.kill('SIGKILL');
          await child.exited;
        }
      }
    } finally {
      await db.drop();
    }
    for (const p of problems) failures.push({ category: 'amplification', where: 'child process', problem: p });
    expect(problems).toEqual([]);
  });
});
