/**
 * The body of POST /v1/feedback (verdicts from places that run no
 * OpenTelemetry SDK: a thumbs-down in a web page, a ticket system's webhook,
 * a reviewer's tool), validated and turned into evaluation rows.
 *
 * The body is one verdict or an array of them. Each names exactly one target:
 * a span (trace_id + span_id), a trace (trace_id), a completion (response_id,
 * i.e. gen_ai.response.id) or a thread (conversation_id, i.e.
 * gen_ai.conversation.id). A target that has not arrived yet is fine: the
 * verdict is kept and the views join it when the target arrives. A request
 * with any invalid verdict is refused whole (400, one message per bad field)
 * and stores nothing; an `id` makes a retry idempotent.
 */
import type { JsonLimits } from '../common/json-budget.ts';
import { clean, cleanDeep, fitsUtf8 } from '../common/text.ts';
import { contentKey } from '../common/util.ts';
import { BadRequestError } from '../errors.ts';
import type { EvaluationRow } from '../model/rows.ts';
import type { EvaluationPolicy } from '../normalize/evaluations.ts';
import { FEEDBACK_SOURCES, isFeedbackSource } from '../normalize/genai.ts';

const FIELDS = new Set(['id', 'trace_id', 'span_id', 'response_id', 'conversation_id', 'name', 'score_value', 'score_label', 'explanation', 'correction', 'source', 'time', 'attributes']);
const MAX_VERDICTS = 1000;
/** UTF-8 bytes: identifiers and labels are indexed, and a B-tree entry must stay well under PostgreSQL's ~2.7 kB. */
const MAX_TEXT = 1024;

/**
 * The most a feedback body may nest and hold, checked before it is parsed: a
 * thousand verdicts of a dozen fields, with attributes, fit with room to
 * spare; a nesting bomb does not.
 */
export const FEEDBACK_JSON_LIMITS: JsonLimits = { maxDepth: 64, maxNodes: 200_000 };

type Violation = { field: string; description: string };

/** Validates a feedback body and turns it into evaluation rows; throws one BadRequestError listing every bad field. */
export function parseFeedback(body: unknown, policy: EvaluationPolicy, nowMs: number): EvaluationRow[] {
  const many = Array.isArray(body);
  const items = many ? body : [body];
  if (items.length === 0) throw new BadRequestError('the request holds no verdicts');
  if (items.length > MAX_VERDICTS) throw new BadRequestError(`at most ${MAX_VERDICTS} verdicts per request, got ${items.length}`);
  const violations: Violation[] = [];
  const rows = items.map((item, i) => parseOne(item, many ? `[${i}].` : '', violations, policy, nowMs));
  if (violations.length > 0) {
    throw new BadRequestError(violations.map((v) => `${v.field}: ${v.description}`).join('; '), violations);
  }
  return rows as EvaluationRow[];
}

function parseOne(item: unknown, at: string, out: Violation[], policy: EvaluationPolicy, nowMs: number): EvaluationRow | null {
  const bad = (field: string, description: string) => void out.push({ field: `${at}${field}`, description });
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    out.push({ field: at === '' ? '(body)' : at.slice(0, -1), description: 'must be an object' });
    return null;
  }
  const v = item as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!FIELDS.has(k)) bad(k, `unknown field (expected ${[...FIELDS].join(', ')})`);

  const traceId = hexId(v, 'trace_id', 32, bad);
  const spanId = hexId(v, 'span_id', 16, bad);
  const responseId = text(v, 'response_id', bad);
  const conversationId = text(v, 'conversation_id', bad);
  const given = (k: string) => v[k] !== undefined && v[k] !== null;
  const targets = [given('trace_id') ? (given('span_id') ? 'span' : 'trace') : null, given('response_id') ? 'completion' : null, given('conversation_id') ? 'thread' : null].filter((t) => t !== null);
  if (given('span_id') && !given('trace_id')) bad('span_id', 'needs trace_id: a span is named by trace_id and span_id');
  else if (targets.length === 0) bad('target', 'name exactly one target: trace_id (+ span_id), response_id or conversation_id');
  else if (targets.length > 1) bad('target', `name exactly one target, got ${targets.join(' and ')}`);

  const name = text(v, 'name', bad);
  if (name === null && v.name === undefined) bad('name', 'is required');
  let score: number | null = null;
  if (v.score_value !== undefined && v.score_value !== null) {
    if (typeof v.score_value !== 'number' || !Number.isFinite(v.score_value)) bad('score_value', 'must be a finite number');
    else score = v.score_value;
  }
  const label = text(v, 'score_label', bad);
  if (score === null && label === null && v.score_value === undefined && v.score_label === undefined) bad('score_value', 'give score_value, score_label or both');
  const explanation = text(v, 'explanation', bad, 64 * 1024);
  // A reviewer's correction: what the answer should have been (the eval export's expected output).
  const correction = text(v, 'correction', bad, 64 * 1024);
  let source = 'user';
  if (v.source !== undefined && v.source !== null) {
    if (!isFeedbackSource(v.source)) bad('source', `must be one of ${FEEDBACK_SOURCES.join(', ')}`);
    else source = v.source;
  }
  let timeMs = nowMs;
  if (v.time !== undefined && v.time !== null) {
    const t = typeof v.time === 'string' && /^\d{4}-\d\d-\d\dT/.test(v.time) ? Date.parse(v.time) : NaN;
    if (!Number.isFinite(t)) bad('time', 'must be an RFC 3339 timestamp such as 2026-11-27T10:15:00Z');
    else timeMs = t;
  }
  let attributes = '{}';
  if (v.attributes !== undefined && v.attributes !== null) {
    if (typeof v.attributes !== 'object' || Array.isArray(v.attributes)) bad('attributes', 'must be an object');
    else attributes = JSON.stringify(cleanDeep(v.attributes));
  }
  const id = text(v, 'id', bad, 256);
  if (name === null) return null;

  const timeNs = BigInt(timeMs) * 1_000_000n;
  return {
    id: id ?? contentKey('api', traceId, spanId, responseId, conversationId, name, String(timeNs), score, label, explanation),
    trace_id: traceId,
    span_id: traceId === null ? null : spanId,
    response_id: responseId,
    conversation_id: conversationId,
    name,
    score_value: score,
    score_label: label,
    explanation,
    error_type: null,
    time_unix_nano: timeNs,
    channel: 'api',
    source,
    polarity: policy.polarityFor(name, label, score),
    service_name: null,
    attributes,
    target: null,
    correction,
  };
}

function text(v: Record<string, unknown>, key: string, bad: (f: string, d: string) => void, max = MAX_TEXT): string | null {
  const x = v[key];
  if (x === undefined || x === null) return null;
  if (typeof x !== 'string' || x.trim() === '') {
    bad(key, 'must be a non-empty string');
    return null;
  }
  if (!fitsUtf8(x, max)) {
    bad(key, `must be at most ${max} bytes in UTF-8`);
    return null;
  }
  return clean(x);
}

function hexId(v: Record<string, unknown>, key: string, length: number, bad: (f: string, d: string) => void): string | null {
  const x = v[key];
  if (x === undefined || x === null) return null;
  if (typeof x !== 'string' || !new RegExp(`^[0-9a-fA-F]{${length}}$`).test(x) || /^0+$/.test(x)) {
    bad(key, `must be ${length} hex characters, not all zero`);
    return null;
  }
  return x.toLowerCase();
}
