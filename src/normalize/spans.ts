/**
 * ExportTraceServiceRequest → span rows, plus evaluation rows for span events
 * named gen_ai.evaluation.result. Spans that cannot be stored are counted for
 * partial success; everything else in the request is kept.
 */
import type { AnyValue, ExportTraceServiceRequest, KeyValue, Span, SpanEvent, SpanLink } from '../otlp/types.ts';
import { anyValueJson, attributesJson, clean, int64Number, jsonString, scalarOf, toBigInt, TooDeepError } from './anyvalue.ts';
import { liftedText, optionalText, resourceInfo, scopeInfo, type ResourceInfo, type ScopeInfo } from './context.ts';
import { evaluationRow, readEvaluation, type EvaluationPolicy } from './evaluations.ts';
import { ATTR, CONTENT_ATTRIBUTES, EVALUATION_EVENT, PROVIDER_RENAMES } from './genai.ts';
import { optionalId, requiredId } from './ids.ts';
import { RejectedItem, Rejections } from './rejections.ts';
import { emptyBatch, type Batch, type EvaluationRow, type SpanRow } from './rows.ts';

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];
const INT64_MAX = 9223372036854775807n;

export interface Normalized {
  batch: Batch;
  rejections: Rejections;
}

export function normalizeTraces(req: ExportTraceServiceRequest, policy: EvaluationPolicy): Normalized {
  const batch = emptyBatch();
  const rejections = new Rejections();
  for (const rs of req.resourceSpans) {
    let resource: ResourceInfo;
    try {
      resource = resourceInfo(rs.resource, rs.schemaUrl);
    } catch (err) {
      rejectAll(rejections, rs.scopeSpans.reduce((n, ss) => n + ss.spans.length, 0), 'resource attributes', err);
      continue;
    }
    for (const ss of rs.scopeSpans) {
      let scope: ScopeInfo;
      try {
        scope = scopeInfo(ss.scope, ss.schemaUrl);
      } catch (err) {
        rejectAll(rejections, ss.spans.length, 'scope attributes', err);
        continue;
      }
      for (const span of ss.spans) {
        try {
          batch.spans.push(spanRow(span, resource, scope, batch.evaluations, rejections, policy));
        } catch (err) {
          if (!(err instanceof RejectedItem || err instanceof TooDeepError)) throw err;
          rejections.reject('span', err.message);
        }
      }
    }
  }
  return { batch, rejections };
}

function rejectAll(rejections: Rejections, n: number, where: string, err: unknown): void {
  if (!(err instanceof TooDeepError)) throw err;
  for (let i = 0; i < n; i++) rejections.reject('span', `${where}: ${err.message}`);
}

/** GenAI columns lifted from span attributes while they are turned into JSON. */
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

function spanRow(span: Span, resource: ResourceInfo, scope: ScopeInfo, evaluations: EvaluationRow[], rejections: Rejections, policy: EvaluationPolicy): SpanRow {
  const traceId = requiredId(span.traceId, 16, 'trace_id');
  const spanId = requiredId(span.spanId, 8, 'span_id');
  const parentSpanId = optionalId(span.parentSpanId, 8, 'parent_span_id');
  const start = toBigInt(span.startTimeUnixNano);
  const end = toBigInt(span.endTimeUnixNano);
  // fixed64 goes to 2^64-1, Postgres bigint (and timestamptz in ns) to 2^63-1: the year 2262.
  if (start > INT64_MAX) throw new RejectedItem(`start_time_unix_nano ${start} is past the year 2262`);
  if (end > INT64_MAX) throw new RejectedItem(`end_time_unix_nano ${end} is past the year 2262`);

  const g: GenAi = {
    operation: null, provider: null, system: null, requestModel: null, responseModel: null, responseId: null,
    conversationId: null, agentName: null, toolName: null, inputTokens: null, outputTokens: null, promptTokens: null, completionTokens: null,
  };
  const attributes = spanAttributes(span.attributes, g);

  const status = span.status;
  const row: SpanRow = {
    trace_id: traceId,
    span_id: spanId,
    parent_span_id: parentSpanId,
    trace_state: optionalText(span.traceState),
    name: clean(span.name),
    kind: KINDS[span.kind] ?? String(span.kind),
    start_time_unix_nano: start,
    end_time_unix_nano: end,
    status_code: STATUS[status?.code ?? 0] ?? String(status?.code),
    status_message: optionalText(status?.message),
    flags: span.flags >>> 0,
    service_name: resource.serviceName,
    scope_name: scope.name,
    scope_version: scope.version,
    scope_attributes: scope.attributes,
    resource_attributes: resource.attributes,
    attributes,
    events: '[]',
    links: linksJson(span.links),
    dropped_attributes_count: span.droppedAttributesCount >>> 0,
    dropped_events_count: span.droppedEventsCount >>> 0,
    dropped_links_count: span.droppedLinksCount >>> 0,
    resource_schema_url: resource.schemaUrl,
    scope_schema_url: scope.schemaUrl,
    gen_ai_operation_name: g.operation,
    gen_ai_provider_name: g.provider ?? (g.system === null ? null : (PROVIDER_RENAMES[g.system] ?? g.system)),
    gen_ai_request_model: g.requestModel,
    gen_ai_response_model: g.responseModel,
    gen_ai_response_id: g.responseId,
    gen_ai_conversation_id: g.conversationId,
    gen_ai_agent_name: g.agentName,
    gen_ai_tool_name: g.toolName,
    gen_ai_input_tokens: g.inputTokens ?? g.promptTokens,
    gen_ai_output_tokens: g.outputTokens ?? g.completionTokens,
  };
  if (span.events.length > 0) row.events = eventsJson(span, row, resource, evaluations, rejections, policy);
  return row;
}

function spanAttributes(kvs: readonly KeyValue[], g: GenAi): string {
  if (kvs.length === 0) return '{}';
  let out = '{';
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i] as KeyValue;
    const key = kv.key;
    if (i > 0) out += ',';
    out += jsonString(key);
    out += ':';
    // Only gen_ai.* keys need a second look; the prefix test keeps the rest cheap.
    if (key.length > 7 && key.charCodeAt(6) === 46 /* . */ && key.startsWith('gen_ai.')) {
      out += CONTENT_ATTRIBUTES.has(key) ? contentJson(kv.value) : anyValueJson(kv.value);
      liftGenAi(key, kv.value, g);
    } else {
      out += anyValueJson(kv.value);
    }
  }
  return `${out}}`;
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
  if (v.value === 'intValue') return int64Number(v.intValue!) ?? toBigInt(v.intValue!);
  const s = scalarOf(v);
  if (typeof s === 'number' && Number.isSafeInteger(s)) return s;
  if (typeof s === 'string' && /^\d{1,15}$/.test(s)) return Number(s);
  return null;
}

/**
 * A content attribute (gen_ai.input.messages, ...) sent as a JSON string is
 * stored as the JSON it contains, so both encodings read the same in SQL.
 * A string that is not JSON stays a string.
 */
export function contentJson(v: AnyValue | null | undefined): string {
  if (v?.value !== 'stringValue') return anyValueJson(v);
  const s = v.stringValue as string;
  const first = s.trimStart().charCodeAt(0);
  if (first !== 91 /* [ */ && first !== 123 /* { */) return anyValueJson(v);
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return anyValueJson(v);
  }
  if (!shallowerThan(parsed, 64)) return anyValueJson(v);
  // Re-serialise only when the text holds something jsonb refuses (\u escapes may be NUL or lone surrogates).
  if (s.includes('\\u') || s.includes('\0') || !s.isWellFormed()) return JSON.stringify(cleanDeep(parsed));
  return s;
}

function shallowerThan(v: unknown, depth: number): boolean {
  if (depth === 0) return false;
  if (Array.isArray(v)) return v.every((x) => shallowerThan(x, depth - 1));
  if (v !== null && typeof v === 'object') return Object.values(v).every((x) => shallowerThan(x, depth - 1));
  return true;
}

function cleanDeep(v: unknown): unknown {
  if (typeof v === 'string') return clean(v);
  if (Array.isArray(v)) return v.map(cleanDeep);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[clean(k)] = cleanDeep(x);
    return o;
  }
  return v;
}

function eventsJson(span: Span, row: SpanRow, resource: ResourceInfo, evaluations: EvaluationRow[], rejections: Rejections, policy: EvaluationPolicy): string {
  let out = '[';
  for (let i = 0; i < span.events.length; i++) {
    const e = span.events[i] as SpanEvent;
    const time = toBigInt(e.timeUnixNano);
    const attrs = attributesJson(e.attributes);
    if (i > 0) out += ',';
    out += `{"time_unix_nano":"${time}","name":${jsonString(e.name)},"attributes":${attrs},"dropped_attributes_count":${e.droppedAttributesCount >>> 0}}`;
    if (e.name === EVALUATION_EVENT) {
      try {
        const f = readEvaluation(e.attributes);
        const ev = evaluationRow(f, {
          traceId: row.trace_id,
          spanId: row.span_id,
          timeNs: time === 0n ? row.end_time_unix_nano : time,
          channel: 'span_event',
          serviceName: resource.serviceName,
          attributesJson: attrs,
          policy,
        });
        ev.conversation_id = row.gen_ai_conversation_id;
        evaluations.push(ev);
        if (f.badSource !== null) rejections.warn(`unknown ${ATTR.feedbackSource} ${JSON.stringify(f.badSource)} stored as NULL`);
      } catch (err) {
        if (!(err instanceof RejectedItem)) throw err;
        // The span itself is fine and is stored with the event in `events`; only the verdict is not extracted.
        rejections.warn(`span event not stored as an evaluation: ${err.message}`);
      }
    }
  }
  return `${out}]`;
}

function linksJson(links: readonly SpanLink[]): string {
  if (links.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < links.length; i++) {
    const l = links[i] as SpanLink;
    if (i > 0) out += ',';
    const traceId = optionalId(l.traceId, 16, 'link trace_id');
    const spanId = optionalId(l.spanId, 8, 'link span_id');
    out += `{"trace_id":${traceId === null ? 'null' : `"${traceId}"`},"span_id":${spanId === null ? 'null' : `"${spanId}"`},"trace_state":${jsonString(l.traceState)},"attributes":${attributesJson(l.attributes)},"dropped_attributes_count":${l.droppedAttributesCount >>> 0},"flags":${l.flags >>> 0}}`;
  }
  return `${out}]`;
}
