/**
 * The current OpenTelemetry GenAI conventions: first in the order of
 * precedence. Source: open-telemetry/semantic-conventions-genai,
 * model/gen-ai/registry.yaml (and semantic-conventions model/user for
 * user.id).
 */
import type { Convention } from './lift.ts';
import { messages, operation, provider, systemParts, tokens, toolValue } from './read.ts';

export const GEN_AI: Convention = {
  name: 'OpenTelemetry GenAI',
  source: 'semantic-conventions-genai model/gen-ai/registry.yaml',
  attributes: {
    'gen_ai.operation.name': { column: 'operation', read: operation },
    'gen_ai.provider.name': { column: 'provider', read: provider },
    'gen_ai.request.model': { column: 'requestModel' },
    'gen_ai.response.model': { column: 'responseModel' },
    'gen_ai.response.id': { column: 'responseId' },
    'gen_ai.conversation.id': { column: 'conversationId' },
    'gen_ai.agent.name': { column: 'agentName' },
    'gen_ai.tool.name': { column: 'toolName' },
    'gen_ai.tool.call.id': { column: 'toolCallId' },
    'gen_ai.usage.input_tokens': { column: 'inputTokens', read: tokens },
    'gen_ai.usage.output_tokens': { column: 'outputTokens', read: tokens },
    'user.id': { column: 'userId' },
    'gen_ai.input.messages': { content: 'input', read: messages('input') },
    'gen_ai.output.messages': { content: 'output', read: messages('output') },
    'gen_ai.system_instructions': { content: 'system', read: systemParts },
    'gen_ai.tool.call.arguments': { content: 'toolArguments', read: toolValue },
    'gen_ai.tool.call.result': { content: 'toolResult', read: toolValue },
  },
};
