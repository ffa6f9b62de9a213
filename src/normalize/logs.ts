/**
 * ExportLogsServiceRequest → log rows, and evaluation rows for records that
 * are gen_ai.evaluation.result events. Nothing is silently dropped: a record
 * is stored, turned into an evaluation, or counted as rejected with a reason.
 */
import type { ExportLogsServiceRequest, KeyValue, LogRecord } from '../otlp/types.ts';
import { clean, cleanDeep } from '../common/text.ts';
import { contentKey } from '../common/util.ts';
import { anyValueJson, attributesJson, MAX_DEPTH, scalarOf, toBigInt, toJs, TooDeepError } from './anyvalue.ts';
import { shallowerThan } from './content.ts';
import { eventFragments, isMessageEvent, type Fragment } from './message-events.ts';
import { lastUserText } from './message-shape.ts';
import { optionalText, resourceInfo, resourceRow, scopeInfo, type ResourceInfo, type ScopeInfo } from './context.ts';
import { evaluationRow, readEvaluation, type EvaluationPolicy } from './evaluations.ts';
import { ATTR, EVALUATION_EVENT } from './genai.ts';
import { optionalId } from './ids.ts';
import { RejectedItem, Rejections } from './rejections.ts';
import { emptyBatch, type Batch, type LogRow, type MessageRow } from '../model/rows.ts';
import type { Derived, Normalized } from './spans.ts';

/** Sees every log record that is stored or turned into an evaluation (rules read user messages here). */
export type LogObserver = (record: LogRecord, facts: LogFacts, out: Derived) => void;

export interface LogFacts {
  traceId: string | null;
  spanId: string | null;
  eventName: string;
  serviceName: string | null;
  timeUnixNano: bigint;
  /** The last user message the record carries (a GenAI message event), whole; else null. */
  userText: string | null;
}

export interface LogNormalizeOptions {
  policy: EvaluationPolicy;
  observers?: readonly LogObserver[];
}

const MAX_NS = (1n << 63n) - 1n;

/**
 * Log records counted in the order this receiver read them: message events
 * of one model call often share a millisecond, and may come in more than one
 * export request, so their order is kept by this count (see MessageRow.seq).
 */
let arrivals = 0;

export function normalizeLogs(req: ExportLogsServiceRequest, opts: LogNormalizeOptions, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): Normalized {
  const batch = emptyBatch();
  const rejections = new Rejections();
  for (const rl of req.resourceLogs) {
    let resource: ResourceInfo;
    let scopes: ScopeInfo[];
    try {
      resource = resourceInfo(rl.resource, rl.schemaUrl);
      scopes = rl.scopeLogs.map((sl) => scopeInfo(sl.scope, sl.schemaUrl));
    } catch (err) {
      if (!(err instanceof TooDeepError)) throw err;
      const n = rl.scopeLogs.reduce((sum, sl) => sum + sl.logRecords.length, 0);
      for (let i = 0; i < n; i++) rejections.reject('log record', `resource or scope attributes: ${err.message}`);
      continue;
    }
    const logsBefore = batch.logs.length;
    rl.scopeLogs.forEach((sl, i) => {
      const scope = scopes[i] as ScopeInfo;
      for (const record of sl.logRecords) {
        try {
          addRecord(record, resource, scope, batch, rejections, opts, nowNs, arrivals++);
        } catch (err) {
          if (!(err instanceof RejectedItem || err instanceof TooDeepError)) throw err;
          rejections.reject('log record', err.message);
        }
      }
    });
    if (batch.logs.length > logsBefore && !batch.resources.some((r) => r.resource_id === resource.id)) batch.resources.push(resourceRow(resource));
  }
  return { batch, rejections };
}

function addRecord(
  r: LogRecord,
  resource: ResourceInfo,
  scope: ScopeInfo,
  batch: Batch,
  rejections: Rejections,
  opts: LogNormalizeOptions,
  nowNs: bigint,
  seq: number,
): void {
  const policy = opts.policy;
  // OTLP: absent or zero IDs mean "not associated with a trace"; a span ID without a trace ID cannot be joined either.
  const traceId = optionalId(r.traceId, 16, 'trace_id');
  const spanId = traceId === null ? null : optionalId(r.spanId, 8, 'span_id');
  const time = toBigInt(r.timeUnixNano);
  const observed = toBigInt(r.observedTimeUnixNano);
  const attributes = attributesJson(r.attributes);
  const eventName = r.eventName || legacyEventName(r.attributes);
  // GenAI message events: their content, in the one shape, for their span (and the rules).
  const fragments = eventName.startsWith('gen_ai.') && isMessageEvent(eventName) ? eventFragments(eventName, r.attributes, r.body ? toJs(r.body) : undefined) : [];
  if (opts.observers && opts.observers.length > 0) {
    const input = fragments.find((f) => f.kind === 'input');
    const facts: LogFacts = { traceId, spanId, eventName, serviceName: resource.serviceName, timeUnixNano: time || observed || nowNs, userText: input ? lastUserText(input.value) : null };
    for (const observe of opts.observers) observe(r, facts, batch);
  }

  if (eventName === EVALUATION_EVENT) {
    const f = readEvaluation(r.attributes);
    // The SDK's span-event bridge uses Timestamp, else ObservedTimestamp: the same rule keeps both copies' ids equal.
    batch.evaluations.push(
      evaluationRow(f, { traceId, spanId, timeNs: time || observed || nowNs, channel: 'log', serviceName: resource.serviceName, attributesJson: attributes, policy }),
    );
    if (f.badSource !== null) rejections.warn(`unknown ${ATTR.feedbackSource} ${JSON.stringify(f.badSource)} stored as NULL`);
    return;
  }

  // fixed64 goes to 2^64-1; Postgres bigint (nanoseconds) to 2^63-1, the year 2262. Only a log row keeps the
  // nanoseconds: a verdict keeps a timestamptz, as it does from a span event at the same time (stored once from both).
  if (time > MAX_NS) throw new RejectedItem(`time_unix_nano ${time} is past the year 2262`);
  if (observed > MAX_NS) throw new RejectedItem(`observed_time_unix_nano ${observed} is past the year 2262`);
  const body = r.body ? anyValueJson(r.body) : null;
  const row: LogRow = {
    id: '',
    trace_id: traceId,
    span_id: spanId,
    time_unix_nano: time,
    observed_time_unix_nano: observed,
    severity_number: r.severityNumber,
    severity_text: optionalText(r.severityText),
    event_name: eventName ? clean(eventName) : null,
    body,
    attributes,
    resource_id: resource.id,
    service_name: resource.serviceName,
    scope_name: scope.name,
    scope_version: scope.version,
    scope_attributes: scope.attributes,
    flags: r.flags >>> 0,
    dropped_attributes_count: r.droppedAttributesCount >>> 0,
    scope_schema_url: scope.schemaUrl,
  };
  row.id = logId(row, resource.attributes);
  // A collector sets the observed time when the record reaches it (logs data model); after hashing, so retries keep their id.
  if (observed === 0n) row.observed_time_unix_nano = nowNs;
  if (time === 0n && observed === 0n) row.timeless = true;
  batch.logs.push(row);
  // Content needs a span to go to; without one it stays in the record only.
  if (traceId !== null && spanId !== null) {
    for (const f of fragments) {
      const m = messageRow(f, row.id, traceId, spanId, time || observed || nowNs, seq);
      if (m !== null) batch.messages.push(m);
    }
  }
}

function messageRow(f: Fragment, logId: string, traceId: string, spanId: string, timeNs: bigint, seq: number): MessageRow | null {
  if (!shallowerThan(f.value, MAX_DEPTH)) return null;
  return { log_id: logId, kind: f.kind, trace_id: traceId, span_id: spanId, time_unix_nano: timeNs, seq, content: JSON.stringify(cleanDeep(f.value)) };
}

function legacyEventName(kvs: readonly KeyValue[]): string {
  for (const kv of kvs) {
    if (kv.key === ATTR.eventName) {
      const v = scalarOf(kv.value);
      return typeof v === 'string' ? v : '';
    }
  }
  return '';
}

function logId(r: LogRow, resourceAttributes: string): string {
  return contentKey(
    r.trace_id, r.span_id, String(r.time_unix_nano), String(r.observed_time_unix_nano), r.severity_number, r.severity_text,
    r.event_name, r.body, r.attributes, resourceAttributes, r.scope_name, r.scope_version, r.flags,
  );
}
