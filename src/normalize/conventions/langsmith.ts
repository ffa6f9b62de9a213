/**
 * LangSmith in OpenTelemetry mode (langsmith SDK, LANGSMITH_OTEL_ENABLED):
 * last in the order of precedence. Its model calls carry the GenAI names;
 * the run's kind, thread, user and usage are its own, and the raw request
 * and response are in gen_ai.prompt / gen_ai.completion (the deprecated
 * table reads them as messages). Source: langchain-ai/langsmith-sdk
 * js/src/experimental/otel (the run-to-span translator and its attribute
 * constants), and the captured export of langsmith 0.12.0.
 */
import { scalarOf } from '../anyvalue.ts';
import { jsonish } from '../message-shape.ts';
import type { KeyValue, Span } from '../../otlp/types.ts';
import { COL, CONTENT, type Convention } from './lift.ts';
import { provider } from './read.ts';
import { isObject } from '../../common/util.ts';

/** langsmith.span.kind (the run type) → gen_ai.operation.name; prompt and parser runs have no GenAI counterpart. */
export const LANGSMITH_KINDS: Readonly<Record<string, string>> = {
  llm: 'chat',
  chain: 'invoke_workflow',
  tool: 'execute_tool',
  embedding: 'embeddings',
  retriever: 'retrieval',
};

const KIND = 'langsmith.span.kind';

function attribute(kvs: readonly KeyValue[], key: string): unknown {
  for (const kv of kvs) if (kv.key === key) return scalarOf(kv.value);
  return undefined;
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

export const LANGSMITH: Convention = {
  name: 'LangSmith (OpenTelemetry mode)',
  source: 'langchain-ai/langsmith-sdk js/src/experimental/otel',
  attributes: {
    [KIND]: { stash: 'kind', doc: 'operation: llm → chat, chain → invoke_workflow, tool → execute_tool, embedding → embeddings, retriever → retrieval' },
    'langsmith.metadata.thread_id': { column: 'conversationId' },
    'langsmith.metadata.session_id': { column: 'conversationId' },
    'langsmith.metadata.conversation_id': { column: 'conversationId' },
    'langsmith.metadata.user_id': { column: 'userId' },
    'langsmith.metadata.ls_provider': { column: 'provider', read: provider },
    'langsmith.metadata.ls_model_name': { column: 'requestModel' },
    'langsmith.usage_metadata': { stash: 'usage', doc: 'input and output tokens (`input_tokens`, `output_tokens`, JSON)' },
  },
  finish(x) {
    const kind = x.stash.kind;
    if (typeof kind === 'string') x.offer(COL.operation, LANGSMITH_KINDS[kind]);
    const usage = jsonish(x.stash.usage);
    if (isObject(usage)) {
      x.offer(COL.inputTokens, count(usage.input_tokens));
      x.offer(COL.outputTokens, count(usage.output_tokens));
    }
    if (kind === 'tool') {
      // A tool run's inputs and outputs are its arguments and result.
      const args = jsonish(attribute(x.lift.attributes, 'gen_ai.prompt'));
      const result = jsonish(attribute(x.lift.attributes, 'gen_ai.completion'));
      if (args !== undefined) x.offerContent(CONTENT.toolArguments, () => ({ value: args }));
      if (result !== undefined) x.offerContent(CONTENT.toolResult, () => ({ value: result }));
    }
  },
};

/**
 * LangSmith exports a failed run with status OK and an `exception` event
 * (the translator never sets ERROR): such a span is stored as failed, with
 * the exception's message. Returns that message, or null when the span is
 * not one of these. Only called for spans that have an exception event.
 */
export function langsmithFailure(span: Span): string | null {
  if (attribute(span.attributes, KIND) === undefined) return null;
  for (const e of span.events) {
    if (e.name !== 'exception') continue;
    const message = attribute(e.attributes, 'exception.message');
    return typeof message === 'string' && message !== '' ? message : 'exception';
  }
  return null;
}
