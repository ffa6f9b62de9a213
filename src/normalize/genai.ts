/**
 * GenAI semantic-convention names Verdict reads, in one place.
 *
 * Source: open-telemetry/semantic-conventions-genai, model/gen-ai/*.yaml
 * (Development status; moved out of semantic-conventions v1.41.0 without
 * renames). Deprecated names are mapped as `model/gen-ai/deprecated/
 * registry-deprecated.yaml` says.
 */

export const EVALUATION_EVENT = 'gen_ai.evaluation.result';

export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  /** Deprecated since v1.37.0 in favour of gen_ai.provider.name (some values changed, see PROVIDER_RENAMES). */
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  conversationId: 'gen_ai.conversation.id',
  agentName: 'gen_ai.agent.name',
  toolName: 'gen_ai.tool.name',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  /** Renamed to gen_ai.usage.input_tokens in v1.27.0. */
  promptTokens: 'gen_ai.usage.prompt_tokens',
  /** Renamed to gen_ai.usage.output_tokens in v1.27.0. */
  completionTokens: 'gen_ai.usage.completion_tokens',
  inputMessages: 'gen_ai.input.messages',

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
 * gen_ai.system values that changed when it became gen_ai.provider.name
 * (semconv v1.37.0; semconv-genai model/gen-ai/deprecated/registry-deprecated.yaml).
 */
export const PROVIDER_RENAMES: Readonly<Record<string, string>> = {
  xai: 'x_ai',
  'az.ai.inference': 'azure.ai.inference',
  'az.ai.openai': 'azure.ai.openai',
  vertex_ai: 'gcp.vertex_ai',
  gemini: 'gcp.gemini',
};

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
