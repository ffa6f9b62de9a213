/**
 * OpenInference (Arize: @arizeai/openinference-* instrumentations):
 * third in the order of precedence. Source: Arize-ai/openinference
 * spec/semantic_conventions.md and openinference-semantic-conventions
 * SemanticConventions; where values sit in the captured exports of
 * instrumentation-openai 4.2.7 and instrumentation-langchain 4.1.1.
 *
 * The kind marker says what a span is; the response ID and response model
 * are only inside the LLM span's output.value JSON (OpenAI's body, or
 * LangChain's generations); LangChain's agent, provider and thread are in
 * the `metadata` JSON.
 */
import { parseEmbeddedJson } from '../../common/json-budget.ts';
import { isObject } from '../../common/util.ts';
import { liftedText } from '../context.ts';
import { finishReason, jsonish, toMessages, type Message } from '../message-shape.ts';
import { ANNOTATION_PREFIXES, collectAnnotation, type Annotation, type AnnotationScope } from './annotations.ts';
import { Flattened } from './flattened.ts';
import { COL, CONTENT, type Convention, type FinishContext, type PrefixTarget } from './lift.ts';
import { provider, tokens } from './read.ts';
import { providerName } from './values.ts';

/** openinference.span.kind → gen_ai.operation.name; kinds without a GenAI counterpart (RERANKER, GUARDRAIL, EVALUATOR, PROMPT) leave it NULL. */
export const OPENINFERENCE_KINDS: Readonly<Record<string, string>> = {
  LLM: 'chat',
  EMBEDDING: 'embeddings',
  TOOL: 'execute_tool',
  AGENT: 'invoke_agent',
  CHAIN: 'invoke_workflow',
  RETRIEVER: 'retrieval',
};

function flat(stash: Record<string, unknown>, key: string): Flattened {
  let f = stash[key] as Flattened | undefined;
  if (f === undefined) {
    f = new Flattened();
    stash[key] = f;
  }
  return f;
}

function annotations(scope: AnnotationScope, kind: string): PrefixTarget {
  return {
    doc: `${scope === 'span' ? 'verdicts on the span' : `verdicts on the ${scope}`} (verdict.evaluations)`,
    apply(stash, rest, v) {
      let m = stash.annotations as Map<string, Annotation> | undefined;
      if (m === undefined) {
        m = new Map();
        stash.annotations = m;
      }
      collectAnnotation(m, scope, kind, rest, v);
    },
  };
}

const stashed = (stash: Record<string, unknown>, key: string): string | undefined => (typeof stash[key] === 'string' ? (stash[key] as string) : undefined);

/** A JSON object from a stashed string, or undefined. */
function object(stash: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const s = stashed(stash, key);
  if (s === undefined || s.charCodeAt(0) !== 123) return undefined;
  const v = parseEmbeddedJson(s, undefined, undefined);
  return isObject(v) ? v : undefined;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? liftedText(v) : null);

/** The response ID and model inside an LLM span's output: OpenAI's body ({id, model}) or LangChain's generations. */
function responseOf(output: Record<string, unknown>): { id: string | null; model: string | null } {
  if (typeof output.id === 'string') return { id: str(output.id), model: str(output.model) };
  const g = Array.isArray(output.generations) ? output.generations.flat()[0] : undefined;
  const kwargs = isObject(g) && isObject(g.message) && isObject(g.message.kwargs) ? g.message.kwargs : undefined;
  if (kwargs === undefined) return { id: null, model: null };
  const meta = isObject(kwargs.response_metadata) ? kwargs.response_metadata : {};
  return { id: str(kwargs.id), model: str(meta.model_name ?? meta.model) };
}

/** A LangChain tool's output is its serialised ToolMessage: the result is its content, with the call ID beside it. */
function toolOutput(v: unknown): { result: unknown; callId: string | null } {
  const msg = isObject(v) && isObject(v.output) ? v.output : v;
  if (isObject(msg) && msg.lc === 1 && isObject(msg.kwargs)) return { result: jsonish(msg.kwargs.content), callId: str(msg.kwargs.tool_call_id) };
  return { result: v, callId: null };
}

function finish(x: FinishContext): void {
  const { stash, lift } = x;
  const kind = stashed(stash, 'kind');
  const metadata = object(stash, 'metadata');
  const agentInMetadata = str(metadata?.lc_agent_name);

  // LangChain's createAgent root is a CHAIN named after the agent.
  if (kind === 'CHAIN' && agentInMetadata !== null && lift.name === agentInMetadata) x.offer(COL.operation, 'invoke_agent');
  if (kind !== undefined) x.offer(COL.operation, OPENINFERENCE_KINDS[kind], 1);
  if (kind === 'AGENT') x.offer(COL.agentName, liftedText(lift.name));
  x.offer(COL.agentName, agentInMetadata, 1);
  if (metadata) {
    x.offer(COL.conversationId, str(metadata.thread_id ?? metadata.session_id ?? metadata.conversation_id));
    x.offer(COL.userId, str(metadata.user_id));
    x.offer(COL.provider, typeof metadata.ls_provider === 'string' ? providerName(metadata.ls_provider) : null);
  }

  // Models: the request's is in the invocation parameters; llm.model_name is the request's, except that the
  // OpenAI instrumentation overwrites it with the response's once a call completes.
  const invocationModel = str(object(stash, 'invocation')?.model);
  const modelName = str(stashed(stash, 'modelName'));
  x.offer(COL.requestModel, invocationModel);
  x.offer(COL.requestModel, modelName, 1);
  x.offer(COL.requestModel, str(metadata?.ls_model_name), 2);
  if (invocationModel !== null && modelName !== null && modelName !== invocationModel) x.offer(COL.responseModel, modelName);
  if (kind === 'LLM' && (x.wants(COL.responseId, 1) || x.wants(COL.responseModel, 1))) {
    const body = object(stash, 'output');
    if (body) {
      const r = responseOf(body);
      x.offer(COL.responseId, r.id, 1);
      x.offer(COL.responseModel, r.model, 1);
    }
  }

  // input.value / output.value: text, or JSON (a request or response body, a tool's arguments or result).
  const input = jsonish(stash.input);
  const output = jsonish(stash.output);
  if (kind === 'TOOL') {
    // traceTool without tool attributes: the tool's name is only the span's.
    x.offer(COL.toolName, liftedText(lift.name), 1);
    if (input !== undefined && input !== '') x.offerContent(CONTENT.toolArguments, () => ({ value: input }));
    if (output !== undefined && output !== '') {
      const { result, callId } = toolOutput(output);
      x.offer(COL.toolCallId, callId);
      if (result !== undefined && result !== null) x.offerContent(CONTENT.toolResult, () => ({ value: result }));
    }
    return;
  }
  const inputs = stash.input_messages as Flattened | undefined;
  const outputs = stash.output_messages as Flattened | undefined;
  // The flattened messages are the convention's own; but where an instrumentation drops fields from them
  // (LangChain: tool call IDs, system content held as blocks), the raw input.value / output.value say more.
  if (inputs) {
    x.offerContent(CONTENT.input, () => complete(inputs.toMessages('input')));
    x.offerContent(CONTENT.input, () => nullable(inputs.toMessages('input')), 2);
  }
  if (outputs) {
    const reason = finishReason(stash.finishReason);
    x.offerContent(CONTENT.output, () => complete(outputs.toMessages('output', reason)));
    x.offerContent(CONTENT.output, () => nullable(outputs.toMessages('output', reason)), 2);
  }
  if (input !== undefined) x.offerContent(CONTENT.input, () => nullable(toMessages(input, 'input')), 1);
  if (output !== undefined) x.offerContent(CONTENT.output, () => nullable(toMessages(output, 'output')), 1);

  const verdicts = stash.annotations as Map<string, Annotation> | undefined;
  if (verdicts) lift.annotations = [...verdicts.values()];
}

const nullable = (value: unknown[] | null) => (value === null ? null : { value });

/** Messages with nothing dropped: no message without parts, no tool call or result without its ID; else null. */
function complete(messages: Message[] | null) {
  if (messages === null) return null;
  for (const m of messages) {
    if (m.parts.length === 0) return null;
    for (const p of m.parts) if ((p.type === 'tool_call' || p.type === 'tool_call_response') && (p.id === null || p.id === undefined)) return null;
  }
  return { value: messages };
}

export const OPENINFERENCE: Convention = {
  name: 'OpenInference',
  source: 'Arize-ai/openinference spec/semantic_conventions.md',
  attributes: {
    'openinference.span.kind': { stash: 'kind', doc: 'operation: LLM → chat, EMBEDDING → embeddings, TOOL → execute_tool, AGENT → invoke_agent, CHAIN → invoke_workflow (invoke_agent for LangChain\'s agent root), RETRIEVER → retrieval' },
    'llm.invocation_parameters': { stash: 'invocation', doc: 'request model: its `model` (JSON)' },
    'llm.model_name': { stash: 'modelName', doc: 'request model (response model when it differs from the invocation parameters\' `model`)' },
    'embedding.model_name': { column: 'requestModel' },
    'llm.provider': { column: 'provider', read: provider },
    'llm.system': { column: 'provider', read: provider },
    'llm.token_count.prompt': { column: 'inputTokens', read: tokens },
    'llm.token_count.completion': { column: 'outputTokens', read: tokens },
    'session.id': { column: 'conversationId' },
    'tool.name': { column: 'toolName' },
    'llm.finish_reason': { stash: 'finishReason', doc: 'finish_reason of the output messages' },
    'input.value': { stash: 'input', doc: 'input messages (request body, messages, or text); tool arguments on TOOL spans' },
    'output.value': { stash: 'output', doc: 'output messages; on LLM spans also response ID and response model (`id`, `model`, or LangChain\'s generations); tool result on TOOL spans' },
    metadata: { stash: 'metadata', doc: 'LangChain run metadata (JSON): agent (`lc_agent_name`), conversation (`thread_id`, `session_id`, `conversation_id`), user (`user_id`), provider (`ls_provider`), request model (`ls_model_name`)' },
  },
  prefixes: {
    'llm.input_messages.': { doc: 'input messages, one attribute per field', apply: (stash, rest, v) => flat(stash, 'input_messages').add(rest, v) },
    'llm.output_messages.': { doc: 'output messages, one attribute per field', apply: (stash, rest, v) => flat(stash, 'output_messages').add(rest, v) },
    ...Object.fromEntries(ANNOTATION_PREFIXES.map(([prefix, scope, kind]) => [prefix, annotations(scope, kind)])),
  },
  finish,
};
