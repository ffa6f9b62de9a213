/**
 * ExportTraceServiceRequest → rows of verdict.spans, written straight into a
 * binary COPY buffer, plus evaluation rows for span events named
 * gen_ai.evaluation.result. Spans that cannot be stored are counted for
 * partial success; everything else in the request is kept.
 *
 * This is the ingest hot path: per span it reads the decoded message once,
 * writes each column once, and allocates little. Values shared by every span
 * of a resource and scope are encoded once per envelope.
 */
import type { ExportTraceServiceRequest, Int64, KeyValue, Span, SpanEvent, SpanLink, AnyValue } from '../otlp/types.ts';
import { anyValueCase } from '../otlp/types.ts';
import { CopyWriter } from '../store/copy-binary.ts';
import { attributesJson, clean, cleanDeep, int64Number, scalarOf, toBigInt, TooDeepError, writeAnyValue, writeAttributes } from './anyvalue.ts';
import { envelopeFields, liftedText, optionalText, resourceInfo, scopeInfo, type ResourceInfo } from './context.ts';
import { evaluationRow, readEvaluation, type EvaluationPolicy } from './evaluations.ts';
import { ATTR, CONTENT_ATTRIBUTES, EVALUATION_EVENT, PROVIDER_RENAMES } from './genai.ts';
import { optionalId, requiredId } from './ids.ts';
import { RejectedItem, Rejections } from './rejections.ts';
import type { Batch, EvaluationRow, TurnRow } from './rows.ts';

/**
 * COPY column order for verdict.spans (any order works with a column list;
 * this one keeps the per-envelope constants together). `spanRow` writes
 * exactly these, in this order.
 */
export const SPAN_COLUMNS = [
  'trace_id', 'span_id', 'parent_span_id', 'trace_state', 'name', 'kind', 'start_time', 'end_time',
  'start_time_unix_nano', 'end_time_unix_nano', 'duration_ns', 'status_code', 'status_message', 'flags',
  // per resource and scope (envelopeFields)
  'service_name', 'scope_name', 'scope_version', 'scope_attributes', 'resource_attributes', 'resource_schema_url', 'scope_schema_url',
  'attributes', 'events', 'links', 'dropped_attributes_count', 'dropped_events_count', 'dropped_links_count',
  'gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model', 'gen_ai_response_id',
  'gen_ai_conversation_id', 'gen_ai_agent_name', 'gen_ai_tool_name', 'gen_ai_input_tokens', 'gen_ai_output_tokens',
] as const;

/** What observers (deterministic rules) learn about each stored span. */
export interface SpanFacts {
  traceId: string;
  spanId: string;
  name: string;
  statusCode: 'unset' | 'ok' | 'error' | string;
  durationNs: number;
  serviceName: string | null;
  operation: string | null;
  conversationId: string | null;
  responseId: string | null;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
}

/** Where observers put what they derive: verdicts, and user turns for the `repeat` rule. */
export interface Derived {
  evaluations: EvaluationRow[];
  turns: TurnRow[];
}

/** Sees every span that is stored, with its decoded form; may add verdicts (deterministic rules). */
export type SpanObserver = (span: Span, facts: SpanFacts, out: Derived) => void;

export interface Normalized {
  batch: Batch;
  rejections: Rejections;
}

export interface NormalizeOptions {
  policy: EvaluationPolicy;
  observers?: readonly SpanObserver[];
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];
const TWO_32 = 4294967296;

export function normalizeTraces(req: ExportTraceServiceRequest, opts: NormalizeOptions): Normalized {
  const w = new CopyWriter();
  const evaluations: EvaluationRow[] = [];
  const turns: TurnRow[] = [];
  const derived: Derived = { evaluations, turns };
  const rejections = new Rejections();
  for (const rs of req.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      let resource: ResourceInfo;
      let envelope: Buffer;
      try {
        resource = resourceInfo(rs.resource, rs.schemaUrl);
        envelope = envelopeFields(resource, scopeInfo(ss.scope, ss.schemaUrl));
      } catch (err) {
        if (!(err instanceof TooDeepError)) throw err;
        for (let i = 0; i < ss.spans.length; i++) rejections.reject('span', `resource or scope attributes: ${err.message}`);
        continue;
      }
      for (const span of ss.spans) {
        const mark = w.mark();
        const evaluationsBefore = evaluations.length;
        const turnsBefore = turns.length;
        try {
          spanRow(w, span, resource, envelope, derived, rejections, opts);
        } catch (err) {
          if (!(err instanceof RejectedItem || err instanceof TooDeepError)) throw err;
          w.rollback(mark);
          evaluations.length = evaluationsBefore;
          turns.length = turnsBefore;
          rejections.reject('span', err.message);
        }
      }
    }
  }
  return { batch: { spans: w.finish(), logs: [], evaluations, turns }, rejections };
}

/** GenAI columns lifted from span attributes while they are written as JSON. */
interface GenAi {
  operation: string | null;
  provider: string | null;
  system: string | null;
  requestModel: string | null;
  responseModel: string | null;
  responseId: string | null;
  conversationId: string | null;
  agentName: string | null;
  toolName: string | null;
  inputTokens: bigint | number | null;
  outputTokens: bigint | number | null;
  promptTokens: bigint | number | null;
  completionTokens: bigint | number | null;
}

/** High and low 32-bit halves of an unsigned 64-bit value. */
function halves(v: Int64): [number, number] {
  if (typeof v === 'object') return [v.high >>> 0, v.low >>> 0];
  if (typeof v === 'bigint') return [Number(v >> 32n), Number(v & 0xffffffffn)];
  const hi = Math.floor(v / TWO_32);
  return [hi, v - hi * TWO_32];
}

/** Unix microseconds from nanosecond halves, exactly: 2^32 = 1000 × 4294967 + 296. */
function micros(hi: number, lo: number): number {
  if (hi < 2_000_000_000) return hi * 4294967 + Math.floor((hi * 296 + lo) / 1000);
  return Number(((BigInt(hi) << 32n) | BigInt(lo)) / 1000n);
}

function spanRow(w: CopyWriter, span: Span, resource: ResourceInfo, envelope: Buffer, derived: Derived, rejections: Rejections, opts: NormalizeOptions): void {
  const traceId = requiredId(span.traceId, 16, 'trace_id');
  const spanId = requiredId(span.spanId, 8, 'span_id');
  const parentSpanId = optionalId(span.parentSpanId, 8, 'parent_span_id');
  const [sHi, sLo] = halves(span.startTimeUnixNano);
  const [eHi, eLo] = halves(span.endTimeUnixNano);
  // fixed64 goes to 2^64-1; Postgres bigint (nanoseconds) to 2^63-1, the year 2262.
  if (sHi >= 0x80000000) throw new RejectedItem(`start_time_unix_nano ${toBigInt(span.startTimeUnixNano)} is past the year 2262`);
  if (eHi >= 0x80000000) throw new RejectedItem(`end_time_unix_nano ${toBigInt(span.endTimeUnixNano)} is past the year 2262`);
  const dHi = eHi - sHi;
  const duration = dHi > -0x100000 && dHi < 0x100000 ? dHi * TWO_32 + (eLo - sLo) : Number(toBigInt(span.endTimeUnixNano) - toBigInt(span.startTimeUnixNano));
  const status = span.status;
  const statusCode = STATUS[status?.code ?? 0] ?? String(status?.code);
  const name = clean(span.name);

  w.row(SPAN_COLUMNS.length);
  w.ascii(traceId);
  w.ascii(spanId);
  if (parentSpanId === null) w.null();
  else w.ascii(parentSpanId);
  w.text(optionalText(span.traceState));
  w.text(name);
  w.ascii(KINDS[span.kind] ?? String(span.kind));
  w.timestampMicros(micros(sHi, sLo));
  w.timestampMicros(micros(eHi, eLo));
  w.int8Parts(sHi, sLo);
  w.int8Parts(eHi, eLo);
  w.int8(Number.isSafeInteger(duration) ? duration : toBigInt(span.endTimeUnixNano) - toBigInt(span.startTimeUnixNano));
  w.ascii(statusCode);
  w.text(optionalText(status?.message));
  w.int8(span.flags >>> 0);
  w.field(envelope);

  const g: GenAi = {
    operation: null, provider: null, system: null, requestModel: null, responseModel: null, responseId: null, conversationId: null,
    agentName: null, toolName: null, inputTokens: null, outputTokens: null, promptTokens: null, completionTokens: null,
  };
  const open = w.jsonbOpen();
  spanAttributes(w, span.attributes, g);
  w.close(open);

  if (span.events.length === 0) w.jsonb('[]');
  else eventsField(w, span, traceId, spanId, eHi, eLo, g.conversationId, resource, derived.evaluations, rejections, opts.policy);
  linksField(w, span.links);
  w.int8(span.droppedAttributesCount >>> 0);
  w.int8(span.droppedEventsCount >>> 0);
  w.int8(span.droppedLinksCount >>> 0);
  w.text(g.operation);
  w.text(g.provider ?? (g.system === null ? null : (PROVIDER_RENAMES[g.system] ?? g.system)));
  w.text(g.requestModel);
  w.text(g.responseModel);
  w.text(g.responseId);
  w.text(g.conversationId);
  w.text(g.agentName);
  w.text(g.toolName);
  w.int8(g.inputTokens ?? g.promptTokens);
  w.int8(g.outputTokens ?? g.completionTokens);

  if (opts.observers && opts.observers.length > 0) {
    const facts: SpanFacts = {
      traceId, spanId, name, statusCode, durationNs: duration, serviceName: resource.serviceName, operation: g.operation,
      conversationId: g.conversationId, responseId: g.responseId, startTimeUnixNano: toBigInt(span.startTimeUnixNano),
      endTimeUnixNano: toBigInt(span.endTimeUnixNano),
    };
    for (const observe of opts.observers) observe(span, facts, derived);
  }
}

function spanAttributes(w: CopyWriter, kvs: readonly KeyValue[], g: GenAi): void {
  w.byte(123); // {
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i] as KeyValue;
    const key = kv.key;
    if (i > 0) w.byte(44);
    w.jsonString(key);
    w.byte(58);
    // Only gen_ai.* keys need a second look; testing one character first keeps the rest cheap.
    if (key.charCodeAt(6) === 46 /* . */ && key.startsWith('gen_ai.')) {
      if (CONTENT_ATTRIBUTES.has(key)) writeContent(w, kv.value);
      else writeAnyValue(w, kv.value, 0);
      liftGenAi(key, kv.value, g);
    } else {
      writeAnyValue(w, kv.value, 0);
    }
  }
  w.byte(125);
}

function liftGenAi(key: string, v: AnyValue | null | undefined, g: GenAi): void {
  switch (key) {
    case ATTR.operationName: g.operation = liftedText(scalarOf(v)); break;
    case ATTR.providerName: g.provider = liftedText(scalarOf(v)); break;
    case ATTR.system: g.system = liftedText(scalarOf(v)); break;
    case ATTR.requestModel: g.requestModel = liftedText(scalarOf(v)); break;
    case ATTR.responseModel: g.responseModel = liftedText(scalarOf(v)); break;
    case ATTR.responseId: g.responseId = liftedText(scalarOf(v)); break;
    case ATTR.conversationId: g.conversationId = liftedText(scalarOf(v)); break;
    case ATTR.agentName: g.agentName = liftedText(scalarOf(v)); break;
    case ATTR.toolName: g.toolName = liftedText(scalarOf(v)); break;
    case ATTR.inputTokens: g.inputTokens = tokenCount(v); break;
    case ATTR.outputTokens: g.outputTokens = tokenCount(v); break;
    case ATTR.promptTokens: g.promptTokens = tokenCount(v); break;
    case ATTR.completionTokens: g.completionTokens = tokenCount(v); break;
    default:
  }
}

/** Token counts are ints; some SDKs send integral doubles or numeric strings. */
function tokenCount(v: AnyValue | null | undefined): bigint | number | null {
  if (!v) return null;
  if (anyValueCase(v) === 'intValue') return int64Number(v.intValue!) ?? toBigInt(v.intValue!);
  const s = scalarOf(v);
  if (typeof s === 'number' && Number.isSafeInteger(s)) return s;
  if (typeof s === 'string' && /^\d{1,15}$/.test(s)) return Number(s);
  return null;
}

/**
 * A content attribute (gen_ai.input.messages, ...) sent as a JSON string is
 * stored as the JSON it holds, so both encodings read the same in SQL. A
 * string that is not JSON stays a string.
 */
function writeContent(w: CopyWriter, v: AnyValue | null | undefined): void {
  if (!v || anyValueCase(v) !== 'stringValue') return writeAnyValue(w, v, 0);
  const s = v.stringValue as string;
  const parsed = parseContent(s);
  if (parsed === undefined) return w.jsonString(s);
  // The text is valid JSON; re-serialise only if it holds what jsonb refuses (\u escapes may be NUL or lone surrogates).
  if (s.includes('\\u') || !s.isWellFormed() || s.includes('\0')) w.raw(JSON.stringify(cleanDeep(parsed)));
  else w.raw(s);
}

/** The JSON value of a string holding an array or object, or undefined if it holds neither (or nests absurdly deep). */
export function parseContent(s: string): unknown {
  const first = s.charCodeAt(0) === 32 || s.charCodeAt(0) === 10 ? s.trimStart().charCodeAt(0) : s.charCodeAt(0);
  if (first !== 91 /* [ */ && first !== 123 /* { */) return undefined;
  try {
    const parsed: unknown = JSON.parse(s);
    return shallowerThan(parsed, 64) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function shallowerThan(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (depth === 0) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!shallowerThan(x, depth - 1)) return false;
    return true;
  }
  for (const k in v) if (!shallowerThan((v as Record<string, unknown>)[k], depth - 1)) return false;
  return true;
}

function eventsField(
  w: CopyWriter, span: Span, traceId: string, spanId: string, eHi: number, eLo: number, conversationId: string | null,
  resource: ResourceInfo, evaluations: EvaluationRow[], rejections: Rejections, policy: EvaluationPolicy,
): void {
  const open = w.jsonbOpen();
  w.byte(91);
  for (let i = 0; i < span.events.length; i++) {
    const e = span.events[i] as SpanEvent;
    const time = toBigInt(e.timeUnixNano);
    if (i > 0) w.byte(44);
    w.raw(`{"time_unix_nano":"${time}","name":`);
    w.jsonString(e.name);
    w.raw(',"attributes":');
    writeAttributes(w, e.attributes);
    w.raw(`,"dropped_attributes_count":${e.droppedAttributesCount >>> 0}}`);
    if (e.name === EVALUATION_EVENT) {
      try {
        const f = readEvaluation(e.attributes);
        const row = evaluationRow(f, {
          traceId,
          spanId,
          timeNs: time === 0n ? (BigInt(eHi) << 32n) | BigInt(eLo) : time,
          channel: 'span_event',
          serviceName: resource.serviceName,
          attributesJson: attributesJson(e.attributes),
          policy,
        });
        row.conversation_id = conversationId;
        evaluations.push(row);
        if (f.badSource !== null) rejections.warn(`unknown ${ATTR.feedbackSource} ${JSON.stringify(f.badSource)} stored as NULL`);
      } catch (err) {
        if (!(err instanceof RejectedItem)) throw err;
        // The span is fine and keeps the event in `events`; only the verdict is not extracted.
        rejections.warn(`span event not stored as an evaluation: ${err.message}`);
      }
    }
  }
  w.byte(93);
  w.close(open);
}

function linksField(w: CopyWriter, links: readonly SpanLink[]): void {
  if (links.length === 0) return w.jsonb('[]');
  const open = w.jsonbOpen();
  w.byte(91);
  for (let i = 0; i < links.length; i++) {
    const l = links[i] as SpanLink;
    if (i > 0) w.byte(44);
    const traceId = optionalId(l.traceId, 16, 'link trace_id');
    const spanId = optionalId(l.spanId, 8, 'link span_id');
    w.raw(`{"trace_id":${traceId === null ? 'null' : `"${traceId}"`},"span_id":${spanId === null ? 'null' : `"${spanId}"`},"trace_state":`);
    w.jsonString(l.traceState);
    w.raw(',"attributes":');
    writeAttributes(w, l.attributes);
    w.raw(`,"dropped_attributes_count":${l.droppedAttributesCount >>> 0},"flags":${l.flags >>> 0}}`);
  }
  w.byte(93);
  w.close(open);
}

