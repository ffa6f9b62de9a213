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
import type { Batch, EvaluationRow, ResourceRow, SpanFact, SpanRef, TargetFacts, TurnRow } from '../model/rows.ts';
import type { ExportTraceServiceRequest, Int64, KeyValue, Span, SpanEvent, SpanLink } from '../otlp/types.ts';
import { attributesJson, toBigInt, TooDeepError, writeAnyValue, writeAttributes } from './anyvalue.ts';
import { writeContentKept, type WrittenContent } from './content.ts';
import { envelopeFields, optionalText, resourceInfo, resourceRow, scopeInfo, type ResourceInfo } from './context.ts';
import { annotationVerdict } from './conventions/annotations.ts';
import { langsmithFailure } from './conventions/langsmith.ts';
import { COL, Lift } from './conventions/lift.ts';
import { DEPRECATED_INDEX, finishLift, liftAttribute } from './conventions/registry.ts';
import { evaluationId, evaluationRow, readEvaluation, type EvaluationPolicy } from './evaluations.ts';
import { ATTR, CONTENT_ATTRIBUTES, EVALUATION_EVENT } from './genai.ts';
import { INFERENCE_OPERATIONS, writeGenAiFields } from './genai-columns.ts';
import { optionalId, requiredId } from './ids.ts';
import { mayBeStoredOnce, STORED_ONCE } from './stored-once.ts';
import { eventFragments, isMessageEvent } from './message-events.ts';
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
  /** The last user message of the span's input, whole, from whichever convention carried it. */
  userText: string | null;
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

/** What one request's spans share while they are normalised: where derived rows and rejections go, the policy, and the lifting state. */
interface RequestState {
  derived: Derived;
  facts: SpanFact[];
  rejections: Rejections;
  opts: NormalizeOptions;
  lift: Lift;
  contentless: SpanRef[];
}

/** The resource and scope a span belongs to: its facts, and their COPY encoding (the same for every span under them). */
interface Envelope {
  resource: ResourceInfo;
  fields: Buffer;
}

export function normalizeTraces(req: ExportTraceServiceRequest, opts: NormalizeOptions): Normalized {
  const w = new CopyWriter();
  const state: RequestState = { derived: { evaluations: [], turns: [] }, facts: [], rejections: new Rejections(), opts, lift: new Lift(), contentless: [] };
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
        const contentlessBefore = state.contentless.length;
        try {
          spanRow(w, span, envelope, state);
        } catch (err) {
          if (!(err instanceof RejectedItem || err instanceof TooDeepError)) throw err;
          // Nothing of a rejected span is kept: its row, and what its events and observers derived.
          w.rollback(mark);
          evaluations.length = evaluationsBefore;
          turns.length = turnsBefore;
          facts.length = factsBefore;
          state.contentless.length = contentlessBefore;
          state.rejections.reject('span', err.message);
        }
      }
    }
  }
  return {
    batch: { spans: w.finish(), facts, resources: [...resources.values()], logs: [], evaluations, turns, messages: [], contentless: state.contentless },
    rejections: state.rejections,
  };
}

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
  let statusCode = STATUS[status?.code ?? 0] ?? String(status?.code);
  let statusMessage = optionalText(status?.message);
  if (statusCode !== 'error' && span.events.length > 0 && hasException(span)) {
    const failure = langsmithFailure(span);
    if (failure !== null) [statusCode, statusMessage] = ['error', statusMessage ?? clean(failure)];
  }
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
  w.ascii(statusCode);
  w.text(statusMessage);
  w.int8(span.flags >>> 0);
  w.field(envelope.fields);

  const lift = state.lift;
  lift.reset(name, span.attributes);
  const open = w.jsonbOpen();
  const storedOnce = spanAttributes(w, span.attributes, lift);
  w.close(open);
  const resource = envelope.resource;
  const eventVerdicts = state.derived.evaluations.length;
  eventsField(w, span, { traceId, spanId, end }, resource, state);
  linksField(w, span.links);
  // Nothing dropped, no events, no links: NULL, no bytes (the view shows 0 and []).
  w.int8(span.droppedAttributesCount === 0 ? null : span.droppedAttributesCount >>> 0);
  w.int8(span.droppedEventsCount === 0 ? null : span.droppedEventsCount >>> 0);
  w.int8(span.droppedLinksCount === 0 ? null : span.droppedLinksCount >>> 0);
  finishLift(lift);
  writeGenAiFields(w, lift);
  if (storedOnce === 0) w.null();
  else w.int4(storedOnce);

  const operation = lift.text(COL.operation);
  const conversationId = lift.text(COL.conversationId);
  const target: TargetFacts = {
    trace_id: traceId, span_id: spanId, span_name: name, service_name: resource.serviceName, service_version: resource.serviceVersion,
    operation_name: operation, request_model: lift.text(COL.requestModel), response_model: lift.text(COL.responseModel),
    agent_name: lift.text(COL.agentName), conversation_id: conversationId,
  };
  // Verdicts from the span's events judge it, on its thread (known only now that every convention has spoken).
  for (let i = eventVerdicts; i < state.derived.evaluations.length; i++) {
    const row = state.derived.evaluations[i] as EvaluationRow;
    row.conversation_id = conversationId;
    row.target = target;
  }
  if (lift.annotations !== null) annotationRows(lift, { traceId, spanId, end, conversationId, facts: target }, resource, state);
  if (!lift.hasContent && operation !== null && INFERENCE_OPERATIONS.has(operation)) state.contentless.push({ trace_id: traceId, span_id: spanId });
  const startNs = nanosBigInt(start);
  const endNs = nanosBigInt(end);
  state.facts.push(spanFact(target, lift, parentSpanId === null, startNs, endNs, Number(duration), statusCode === 'error'));

  const observers = state.opts.observers;
  if (observers && observers.length > 0) {
    const facts: SpanFacts = {
      traceId, spanId, name, statusCode, durationNs: Number(duration), serviceName: resource.serviceName, operation,
      conversationId, responseId: lift.text(COL.responseId), userText: lift.userText,
      startTimeUnixNano: startNs, endTimeUnixNano: endNs,
    };
    for (const observe of observers) observe(span, facts, state.derived);
  }
}

/** What the summaries and rollups need of a stored span. */
function spanFact(t: TargetFacts, lift: Lift, root: boolean, startNs: bigint, endNs: bigint, durationNs: number, error: boolean): SpanFact {
  const input = lift.value(COL.inputTokens);
  const output = lift.value(COL.outputTokens);
  return {
    traceId: t.trace_id, spanId: t.span_id, root, name: t.span_name, startNs, endNs, startUs: Number(startNs / 1000n), durationNs, error,
    serviceName: t.service_name, serviceVersion: t.service_version, operation: t.operation_name, requestModel: t.request_model,
    responseModel: t.response_model, agentName: t.agent_name, toolName: lift.text(COL.toolName), conversationId: t.conversation_id,
    responseId: lift.text(COL.responseId), userId: lift.text(COL.userId),
    inputTokens: input === null ? null : BigInt(input), outputTokens: output === null ? null : BigInt(output),
    modelCall: t.operation_name !== null && INFERENCE_OPERATIONS.has(t.operation_name), inputText: lift.inputText, outputText: lift.outputText,
  };
}

function hasException(span: Span): boolean {
  for (const e of span.events) if (e.name === 'exception') return true;
  return false;
}

/**
 * Writes the attributes as a JSON object, and feeds each to the conventions
 * (conventions/registry.ts). Content attributes sent as JSON strings are
 * written as the JSON they hold, parsed once for both, and their bytes are
 * kept for the content columns.
 */
function spanAttributes(w: CopyWriter, kvs: readonly KeyValue[], lift: Lift): number {
  w.byte(123); // {
  let wrote = false;
  // Keys stored once (in their column only), and keys seen: a repeated key is written, and then its last value stands, as in jsonb.
  let once = 0;
  let seen = 0;
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i] as KeyValue;
    const key = kv.key;
    const s = mayBeStoredOnce(key) ? STORED_ONCE.get(key) : undefined;
    if (s !== undefined) {
      const first = (seen & s.bit) === 0;
      seen |= s.bit;
      if (first && s.holds(kv.value)) {
        once |= s.bit;
        liftAttribute(lift, key, kv.value, undefined);
        continue;
      }
      once &= ~s.bit;
    }
    if (wrote) w.byte(44);
    wrote = true;
    w.jsonString(key);
    w.byte(58);
    // Content attributes are all gen_ai.*: one character test spares the set lookup for the rest.
    let written: WrittenContent | undefined;
    if (key.charCodeAt(6) === 46 /* . */ && CONTENT_ATTRIBUTES.has(key)) written = writeContentKept(w, kv.value);
    else writeAnyValue(w, kv.value, 0);
    liftAttribute(lift, key, kv.value, written);
  }
  w.byte(125);
  return once;
}

/** OpenInference annotations and evaluations on a span → verdicts on the span, its trace or its session. */
function annotationRows(
  lift: Lift, target: { traceId: string; spanId: string; end: Nanos; conversationId: string | null; facts: TargetFacts }, resource: ResourceInfo, state: RequestState,
): void {
  const timeNs = nanosBigInt(target.end);
  for (const a of lift.annotations ?? []) {
    const v = annotationVerdict(a);
    if (typeof v === 'string') {
      state.rejections.warn(`span attribute not stored as an evaluation: ${v}`);
      continue;
    }
    const f = { name: clean(v.name), scoreValue: v.score, scoreLabel: v.label === null ? null : clean(v.label), explanation: v.explanation === null ? null : clean(v.explanation), responseId: null, errorType: null, source: v.source, badSource: null };
    // A session verdict judges the thread; a trace verdict the run; otherwise the span.
    const traceId = a.scope === 'session' ? null : target.traceId;
    const spanId = a.scope === 'span' ? target.spanId : null;
    if (a.scope === 'session' && target.conversationId === null) {
      state.rejections.warn(`span attribute not stored as an evaluation: a session ${a.kind} on a span without a session`);
      continue;
    }
    const row = evaluationRow(f, { traceId, spanId, timeNs, channel: 'span_attribute', serviceName: resource.serviceName, attributesJson: JSON.stringify(cleanValues(v.attributes)), policy: state.opts.policy });
    row.conversation_id = target.conversationId;
    // A verdict on this span is resolved here; one on the run or the thread is resolved when written.
    if (a.scope === 'span') row.target = target.facts;
    // The id of a session verdict has no trace or span in it: name the thread instead.
    if (a.scope === 'session') row.id = evaluationId(f, `session:${target.conversationId}`, null, timeNs);
    state.derived.evaluations.push(row);
  }
}

function cleanValues(o: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  for (const k of Object.keys(o)) if (typeof o[k] === 'string') o[k] = clean(o[k] as string);
  return o;
}

/** What a span event needs to know of its span to become a verdict. */
interface EventTarget {
  traceId: string;
  spanId: string;
  /** The span's end: the time of an evaluation event that has none. */
  end: Nanos;
}

function eventsField(w: CopyWriter, span: Span, target: EventTarget, resource: ResourceInfo, state: RequestState): void {
  if (span.events.length === 0) return w.null();
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
    else if (e.name.startsWith('gen_ai.') && isMessageEvent(e.name)) messageEvent(e, state.lift);
  }
  w.byte(93);
  w.close(open);
}

/** A gen_ai.evaluation.result span event → a verdict on its span (the event stays in `events` either way). */
function evaluationEvent(e: SpanEvent, time: bigint, target: EventTarget, resource: ResourceInfo, state: RequestState): void {
  try {
    const f = readEvaluation(e.attributes);
    const row = evaluationRow(f, {
      traceId: target.traceId,
      spanId: target.spanId,
      timeNs: time === 0n ? nanosBigInt(target.end) : time,
      channel: 'span_event',
      serviceName: resource.serviceName,
      attributesJson: attributesJson(e.attributes),
      policy: state.opts.policy,
    });
    state.derived.evaluations.push(row);
    if (f.badSource !== null) state.rejections.warn(`unknown ${ATTR.feedbackSource} ${JSON.stringify(f.badSource)} stored as NULL`);
  } catch (err) {
    if (!(err instanceof RejectedItem)) throw err;
    // The span is fine and keeps the event in `events`; only the verdict is not extracted.
    state.rejections.warn(`span event not stored as an evaluation: ${err.message}`);
  }
}

/** Message content in a span event (older conventions): read by the deprecated GenAI convention's finish step. */
function messageEvent(e: SpanEvent, lift: Lift): void {
  const fragments = eventFragments(e.name, e.attributes, undefined);
  if (fragments.length === 0) return;
  (lift.events ??= []).push(...fragments);
  lift.seen |= 1 << DEPRECATED_INDEX;
}

function linksField(w: CopyWriter, links: readonly SpanLink[]): void {
  if (links.length === 0) return w.null();
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
