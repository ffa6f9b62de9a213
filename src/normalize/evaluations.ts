/**
 * `gen_ai.evaluation.result` events → evaluation rows.
 *
 * The event carries everything in attributes (semantic-conventions-genai
 * model/gen-ai/events.yaml): gen_ai.evaluation.name (required),
 * .score.value, .score.label, .explanation, gen_ai.response.id and
 * error.type. It arrives as a log record (the convention) or as a span event
 * (older emitters, and the SDK's event-to-span-event bridge, which sends the
 * same evaluation both ways). The row id hashes what the evaluation says, not
 * how it came, so the two deliveries collapse to one row.
 */
import type { KeyValue } from '../otlp/types.ts';
import { clean } from '../common/text.ts';
import { contentKey } from '../common/util.ts';
import { scalarOf } from './anyvalue.ts';
import { liftedText } from './context.ts';
import { ATTR, isFeedbackSource } from './genai.ts';
import { RejectedItem } from './rejections.ts';
import type { Channel, EvaluationRow, Polarity } from '../model/rows.ts';

/** Decides what the emitter did not say: which source a verdict is from, and its polarity. */
export interface EvaluationPolicy {
  /** The feedback source of an OTLP evaluation without verdict.feedback.source, or null when unknown. */
  sourceFor(name: string, serviceName: string | null): string | null;
  /** positive / negative / neutral from the label or score, or null when unknown. */
  polarityFor(name: string, label: string | null, score: number | null): Polarity | null;
}

/** Knows nothing: every source and polarity stays NULL unless the emitter set it. */
export const NO_POLICY: EvaluationPolicy = {
  sourceFor: () => null,
  polarityFor: () => null,
};

export interface EvaluationFields {
  name: string;
  scoreValue: number | null;
  scoreLabel: string | null;
  explanation: string | null;
  responseId: string | null;
  errorType: string | null;
  /** verdict.feedback.source as sent, when valid. */
  source: string | null;
  /** Set when verdict.feedback.source was sent but is not a known source. */
  badSource: string | null;
}

function text(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return clean(String(v));
}

/** Reads the evaluation attributes; throws RejectedItem when the event is not a usable evaluation. */
export function readEvaluation(kvs: readonly KeyValue[]): EvaluationFields {
  let name: unknown;
  let score: unknown;
  let draftScore: unknown;
  const f: EvaluationFields = { name: '', scoreValue: null, scoreLabel: null, explanation: null, responseId: null, errorType: null, source: null, badSource: null };
  for (const kv of kvs) {
    switch (kv.key) {
      case ATTR.evaluationName:
        name = scalarOf(kv.value);
        break;
      case ATTR.evaluationScoreValue:
        score = scalarOf(kv.value);
        break;
      case ATTR.evaluationScoreDraft:
        draftScore = scalarOf(kv.value);
        break;
      case ATTR.evaluationScoreLabel:
        f.scoreLabel = text(scalarOf(kv.value));
        break;
      case ATTR.evaluationExplanation:
        f.explanation = text(scalarOf(kv.value));
        break;
      case ATTR.responseId:
        // Indexed like the spans' column: an oversized ID stays in the attributes only.
        f.responseId = liftedText(scalarOf(kv.value));
        break;
      case ATTR.errorType:
        f.errorType = text(scalarOf(kv.value));
        break;
      case ATTR.feedbackSource: {
        const s = scalarOf(kv.value);
        if (isFeedbackSource(s)) f.source = s;
        else if (s !== undefined) f.badSource = String(s);
        break;
      }
      default:
    }
  }
  if (typeof name !== 'string' || name.trim() === '') {
    throw new RejectedItem(`${ATTR.evaluationName} is missing from a ${'gen_ai.evaluation.result'} event`);
  }
  f.name = clean(name);
  if (score === undefined && typeof draftScore === 'number') score = draftScore;
  if (score !== undefined) {
    if (typeof score === 'bigint') score = Number(score);
    if (typeof score !== 'number') throw new RejectedItem(`${ATTR.evaluationScoreValue} must be a number, got ${typeof score}`);
    if (!Number.isFinite(score)) throw new RejectedItem(`${ATTR.evaluationScoreValue} must be a finite number, got ${score}`);
    f.scoreValue = score;
  }
  return f;
}

/** The idempotency key of an evaluation: what it says about what, not how it arrived. */
export function evaluationId(f: EvaluationFields, traceId: string | null, spanId: string | null, timeNs: bigint): string {
  return contentKey(traceId, spanId, f.name, String(timeNs), f.scoreValue, f.scoreLabel, f.explanation, f.responseId);
}

export interface EvaluationContext {
  traceId: string | null;
  spanId: string | null;
  timeNs: bigint;
  channel: Channel;
  serviceName: string | null;
  attributesJson: string;
  policy: EvaluationPolicy;
}

export function evaluationRow(f: EvaluationFields, c: EvaluationContext): EvaluationRow {
  return {
    id: evaluationId(f, c.traceId, c.spanId, c.timeNs),
    trace_id: c.traceId,
    span_id: c.spanId,
    response_id: f.responseId,
    conversation_id: null,
    name: f.name,
    score_value: f.scoreValue,
    score_label: f.scoreLabel,
    explanation: f.explanation,
    error_type: f.errorType,
    time_unix_nano: c.timeNs,
    channel: c.channel,
    source: f.source ?? c.policy.sourceFor(f.name, c.serviceName),
    polarity: c.policy.polarityFor(f.name, f.scoreLabel, f.scoreValue),
    service_name: c.serviceName,
    attributes: c.attributesJson,
    target: null,
  };
}
