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
import { CopyWriter } from '../common/copy-binary.ts';
import { clean } from '../common/text.ts';
import { SPAN_COLUMNS } from '../model/columns.ts';
import type { Batch, EvaluationRow, ResourceRow, SpanFact, TargetFacts, TurnRow } from '../model/rows.ts';
import { anyValueCase, type AnyValue, type ExportTraceServiceRequest, type Int64, type KeyValue, type Span, type SpanEvent, type SpanLink } from '../otlp/types.ts';
import { attributesJson, int64Number, scalarOf, toBigInt, TooDeepError, writeAnyValue, writeAttributes } from './anyvalue.ts';
import { writeContent } from './content.ts';
import { envelopeFields, liftedText, optionalText, resourceInfo, resourceRow, scopeInfo, type ResourceInfo } from './context.ts';
import { evaluationRow, readEvaluation, type EvaluationPolicy } from './evaluations.ts';
import { ATTR, CONTENT_ATTRIBUTES, EVALUATION_EVENT, PROVIDER_RENAMES } from './genai.ts';
import { optionalId, requiredId } from './ids.ts';
import { RejectedItem, Rejections } from './rejections.ts';

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

/** What one request's spans share while they are normalised: where derived rows and rejections go, and the policy. */
interface RequestState {
  derived: Derived;
  facts: SpanFact[];
  rejections: Rejections;
  opts: NormalizeOptions;
}

/** The resource and scope a span belongs to: its facts, and their COPY encoding (the same for every span under them). */
interface Envelope {
  resource: ResourceInfo;
  fields: Buffer;
}

export function normalizeTraces(req: ExportTraceServiceRequest, opts: NormalizeOptions): Normalized {
  const w = new CopyWriter();
  const state: RequestState = { derived: { evaluations: [], turns: [] }, facts: [], rejections: new Rejections(), opts };
  const { evaluations, turns } = state.derived;
  const facts = state.facts;
  const resources = new Map<string, ResourceRow>();
  for (const rs of req.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      let envelope: Envelope;
      try {
        const resource = resourceInfo(rs.resource, rs.schemaUrl);
        envelope = { resource, fields: envelopeFields(resource, scopeInfo(ss.scope, ss.schemaUrl)) };
        if (ss.spans.length > 0 && !resources.has(resource.id)) resources.set(resource.id, resourceRow(resource));
      } catch (err) {
        if (!(err instanceof TooDeepError)) throw err;
        for (let i = 0; i < ss.spans.length; i++) state.rejections.reject('span', `resource or scope attributes: ${err.message}`);
        continue;
      }
      for (const span of ss.spans) {
        const mark = w.mark();
        const evaluationsBefore = evaluations.length;
        const turnsBefore = turns.length;
        const factsBefore = facts.length;
        try {
          spanRow(w, span, envelope, state);
        } catch (err) {
          if (!(err instanceof RejectedItem || err instanceof TooDeepError)) throw err;
          // Nothing of a rejected span is kept: its row, and what its events and observers derived.
          w.rollback(mark);
          evaluations.length = evaluationsBefore;
          turns.length = turnsBefore;
          facts.length = factsBefore;
          state.rejections.reject('span', err.message);
        }
      }
    }
  }
  return { batch: { spans: w.finish(), facts, resources: [...resources.values()], logs: [], evaluations, turns }, rejections: state.rejections };
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

const noGenAi = (): GenAi => ({
  operation: null, provider: null, system: null, requestModel: null, responseModel: null, responseId: null, conversationId: null,
  agentName: null, toolName: null, inputTokens: null, outputTokens: null, promptTokens: null, completionTokens: null,
});

/** A fixed64 nanosecond time as the two 32-bit halves it is encoded from. */
interface Nanos {
  hi: number;
  lo: number;
}

/** The halves of a span time; RejectedItem if it does not fit PostgreSQL's bigint. */
function nanos(v: Int64, field: string): Nanos {
  let hi: number;
  let lo: number;
  if (typeof v === 'object') [hi, lo] = [v.high >>> 0, v.low >>> 0];
  else if (typeof v === 'bigint') [hi, lo] = [Number(v >> 32n), Number(v & 0xffffffffn)];
  else {
    hi = Math.floor(v / TWO_32);
    lo = v - hi * TWO_32;
  }
  // fixed64 goes to 2^64-1; PostgreSQL bigint (nanoseconds) to 2^63-1, the year 2262.
  if (hi >= 0x80000000) throw new RejectedItem(`${field} ${toBigInt(v)} is past the year 2262`);
  return { hi, lo };
}

const nanosBigInt = (t: Nanos): bigint => (BigInt(t.hi) << 32n) | BigInt(t.lo);

/** Unix microseconds from nanosecond halves, exactly: 2^32 = 1000 × 4294967 + 296. */
function micros(t: Nanos): number {
  if (t.hi < 2_000_000_000) return t.hi * 4294967 + Math.floor((t.hi * 296 + t.lo) / 1000);
  return Number(nanosBigInt(t) / 1000n);
}

/** end − start in nanoseconds: a safe number in the common case, a bigint for absurd spans. */
function durationOf(start: Nanos, end: Nanos): number | bigint {
  const dHi = end.hi - start.hi;
  if (dHi > -0x100000 && dHi < 0x100000) return dHi * TWO_32 + (end.lo - start.lo);
  return nanosBigInt(end) - nanosBigInt(start);
}

/** Writes one span's row in SPAN_COLUMNS order; throws RejectedItem when it cannot be stored. */
function spanRow(w: CopyWriter, span: Span, envelope: Envelope, state: RequestState): void {
  const traceId = requiredId(span.traceId, 16, 'trace_id');
  const spanId = requiredId(span.spanId, 8, 'span_id');
  const parentSpanId = optionalId(span.parentSpanId, 8, 'parent_span_id');
  const start = nanos(span.startTimeUnixNano, 'start_time_unix_nano');
  const end = nanos(span.endTimeUnixNano, 'end_time_unix_nano');
  const duration = durationOf(start, end);
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
  w.timestampMicros(micros(start));
  w.timestampMicros(micros(end));
  w.int8Parts(start.hi, start.lo);
  w.int8Parts(end.hi, end.lo);
  w.int8(duration);
  w.ascii(statusCode);
  w.text(optionalText(status?.message));
  w.int8(span.flags >>> 0);
  w.field(envelope.fields);

  const g = noGenAi();
  const open = w.jsonbOpen();
  spanAttributes(w, span.attributes, g);
  w.close(open);
  const resource = envelope.resource;
  const provider = g.provider ?? (g.system === null ? null : (PROVIDER_RENAMES[g.system] ?? g.system));
  const target: TargetFacts = {
    trace_id: traceId, span_id: spanId, span_name: name, service_name: resource.serviceName, service_version: resource.serviceVersion,
    operation_name: g.operation, request_model: g.requestModel, response_model: g.responseModel, agent_name: g.agentName, conversation_id: g.conversationId,
  };
  eventsField(w, span, { facts: target, end }, resource, state);
  linksField(w, span.links);
  w.int8(span.droppedAttributesCount >>> 0);
  w.int8(span.droppedEventsCount >>> 0);
  w.int8(span.droppedLinksCount >>> 0);
  genAiFields(w, g, provider);

  const startNs = nanosBigInt(start);
  const endNs = nanosBigInt(end);
  state.facts.push(spanFact(target, g, parentSpanId === null, startNs, endNs, Number(duration), statusCode === 'error'));

  const observers = state.opts.observers;
  if (observers && observers.length > 0) {
    const facts: SpanFacts = {
      traceId, spanId, name, statusCode, durationNs: Number(duration), serviceName: resource.serviceName, operation: g.operation,
      conversationId: g.conversationId, responseId: g.responseId, startTimeUnixNano: startNs, endTimeUnixNano: endNs,
    };
    for (const observe of observers) observe(span, facts, state.derived);
  }
}

/** The gen_ai_* columns: the current attribute names first, then the deprecated ones they replaced. */
function genAiFields(w: CopyWriter, g: GenAi, provider: string | null): void {
  w.text(g.operation);
  w.text(provider);
  w.text(g.requestModel);
  w.text(g.responseModel);
  w.text(g.responseId);
  w.text(g.conversationId);
  w.text(g.agentName);
  w.text(g.toolName);
  w.int8(g.inputTokens ?? g.promptTokens);
  w.int8(g.outputTokens ?? g.completionTokens);
}

function spanFact(t: TargetFacts, g: GenAi, root: boolean, startNs: bigint, endNs: bigint, durationNs: number, error: boolean): SpanFact {
  const input = g.inputTokens ?? g.promptTokens;
  const output = g.outputTokens ?? g.completionTokens;
  return {
    traceId: t.trace_id, spanId: t.span_id, root, name: t.span_name, startNs, endNs, durationNs, error,
    serviceName: t.service_name, serviceVersion: t.service_version, operation: g.operation, requestModel: g.requestModel,
    responseModel: g.responseModel, agentName: g.agentName, toolName: g.toolName, conversationId: g.conversationId, responseId: g.responseId,
    inputTokens: input === null ? null : BigInt(input), outputTokens: output === null ? null : BigInt(output),
  };
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

/** What a span event needs to know of its span to become a verdict. */
interface EventTarget {
  /** The span, judged by the verdicts among its events. */
  facts: TargetFacts;
  /** The span's end: the time of an evaluation event that has none. */
  end: Nanos;
}

function eventsField(w: CopyWriter, span: Span, target: EventTarget, resource: ResourceInfo, state: RequestState): void {
  if (span.events.length === 0) return w.jsonb('[]');
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
    if (e.name === EVALUATION_EVENT) evaluationEvent(e, time, target, resource, state);
  }
  w.byte(93);
  w.close(open);
}

/** A gen_ai.evaluation.result span event → a verdict on its span (the event stays in `events` either way). */
function evaluationEvent(e: SpanEvent, time: bigint, target: EventTarget, resource: ResourceInfo, state: RequestState): void {
  try {
    const f = readEvaluation(e.attributes);
    const row = evaluationRow(f, {
      traceId: target.facts.trace_id,
      spanId: target.facts.span_id,
      timeNs: time === 0n ? nanosBigInt(target.end) : time,
      channel: 'span_event',
      serviceName: resource.serviceName,
      attributesJson: attributesJson(e.attributes),
      policy: state.opts.policy,
    });
    row.conversation_id = target.facts.conversation_id;
    row.target = target.facts;
    state.derived.evaluations.push(row);
    if (f.badSource !== null) state.rejections.warn(`unknown ${ATTR.feedbackSource} ${JSON.stringify(f.badSource)} stored as NULL`);
  } catch (err) {
    if (!(err instanceof RejectedItem)) throw err;
    // The span is fine and keeps the event in `events`; only the verdict is not extracted.
    state.rejections.warn(`span event not stored as an evaluation: ${err.message}`);
  }
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
