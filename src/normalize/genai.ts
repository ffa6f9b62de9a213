/**
 * GenAI semantic-convention names Verdict reads for verdicts and content
 * attributes. The names lifted into span columns, from every convention,
 * are in conventions/.
 *
 * Source: open-telemetry/semantic-conventions-genai, model/gen-ai/*.yaml
 * (Development status; moved out of semantic-conventions v1.41.0 without
 * renames). Deprecated names are mapped as `model/gen-ai/deprecated/
 * registry-deprecated.yaml` says.
 */

export const EVALUATION_EVENT = 'gen_ai.evaluation.result';

export const ATTR = {
  responseId: 'gen_ai.response.id',

  evaluationName: 'gen_ai.evaluation.name',
  evaluationScoreValue: 'gen_ai.evaluation.score.value',
  evaluationScoreLabel: 'gen_ai.evaluation.score.label',
  evaluationExplanation: 'gen_ai.evaluation.explanation',
  /** The never-released draft of PR #2563 used one attribute; some emitters still do. */
  evaluationScoreDraft: 'gen_ai.evaluation.score',
  errorType: 'error.type',
  /** Deprecated LogRecord attribute that carried the event name before the event_name field (semconv v1.30.0). */
  eventName: 'event.name',
  /** Verdict's own: which kind of feedback an evaluation is (user, indirect, llm_judge, rule, reviewer). */
  feedbackSource: 'verdict.feedback.source',
  serviceName: 'service.name',
  serviceVersion: 'service.version',
} as const;

/**
 * Content attributes that may arrive as a JSON string (SDKs without complex
 * attribute support) or as a structured AnyValue; both are stored as JSON.
 */
export const CONTENT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.tool.definitions',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
]);

export const FEEDBACK_SOURCES = ['user', 'indirect', 'llm_judge', 'rule', 'reviewer'] as const;
export type FeedbackSource = (typeof FEEDBACK_SOURCES)[number];

export function isFeedbackSource(s: unknown): s is FeedbackSource {
  return typeof s === 'string' && (FEEDBACK_SOURCES as readonly string[]).includes(s);
}
