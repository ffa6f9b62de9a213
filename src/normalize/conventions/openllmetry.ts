/**
 * OpenLLMetry (Traceloop: @traceloop/node-server-sdk, traceloop-sdk):
 * fourth in the order of precedence. Its LLM spans use the GenAI names
 * (the tables above); its workflow, task, agent and tool spans have their
 * own. Source: traceloop/openllmetry-js packages/ai-semantic-conventions
 * (SpanAttributes: traceloop.span.kind, traceloop.entity.name / .input /
 * .output, traceloop.association.properties.*, llm.request.type;
 * TraceloopSpanKindValues), and the captured export of 0.27.0.
 */
import { parseEmbeddedJson } from '../../common/json-budget.ts';
import { liftedText } from '../context.ts';
import { isObject } from '../../common/util.ts';
import { toMessages } from '../message-shape.ts';
import { COL, CONTENT, type Convention } from './lift.ts';
import { operation } from './read.ts';

/** traceloop.span.kind → gen_ai.operation.name; `task` has no GenAI counterpart. */
export const TRACELOOP_KINDS: Readonly<Record<string, string>> = {
  workflow: 'invoke_workflow',
  agent: 'invoke_agent',
  tool: 'execute_tool',
};

/** Entity input and output are JSON.stringify of the function's arguments and return value (JSON past the limits: nothing is read from it). */
function parsed(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return parseEmbeddedJson(v, v, undefined);
}

/** A tool's arguments from the entity input ({args: [...], kwargs: {...}}): the keyword arguments, else the only positional one. */
function toolArguments(input: unknown): unknown {
  if (!isObject(input) || !Array.isArray(input.args) || !isObject(input.kwargs)) return input;
  if (input.args.length === 0 && Object.keys(input.kwargs).length > 0) return input.kwargs;
  if (input.args.length === 1 && Object.keys(input.kwargs).length === 0) return input.args[0];
  return input;
}

const present = (v: unknown) => (v === undefined || v === null || v === '' ? null : { value: v });

export const OPENLLMETRY: Convention = {
  name: 'OpenLLMetry (Traceloop)',
  source: 'traceloop/openllmetry-js packages/ai-semantic-conventions',
  attributes: {
    'traceloop.span.kind': { stash: 'kind', doc: 'operation: workflow → invoke_workflow, agent → invoke_agent, tool → execute_tool (task: none)' },
    'llm.request.type': { column: 'operation', read: operation, doc: 'operation (older versions: chat, completion → text_completion, embedding → embeddings)' },
    'traceloop.entity.name': { stash: 'name', doc: 'agent name on agent spans, tool name on tool spans' },
    'traceloop.entity.input': { stash: 'input', doc: 'input messages (the function\'s arguments, JSON); tool arguments on tool spans' },
    'traceloop.entity.output': { stash: 'output', doc: 'output messages (the return value, JSON); tool result on tool spans' },
    'traceloop.association.properties.session_id': { column: 'conversationId' },
    'traceloop.association.properties.conversation_id': { column: 'conversationId' },
    'traceloop.association.properties.thread_id': { column: 'conversationId' },
    'traceloop.association.properties.user_id': { column: 'userId' },
  },
  finish(x) {
    const kind = x.stash.kind;
    const name = typeof x.stash.name === 'string' ? liftedText(x.stash.name) : null;
    if (typeof kind === 'string') x.offer(COL.operation, TRACELOOP_KINDS[kind]);
    if (kind === 'agent') x.offer(COL.agentName, name);
    const input = parsed(x.stash.input);
    const output = parsed(x.stash.output);
    if (kind === 'tool') {
      x.offer(COL.toolName, name);
      x.offerContent(CONTENT.toolArguments, () => present(toolArguments(input)));
      x.offerContent(CONTENT.toolResult, () => present(output));
      return;
    }
    if (input !== undefined) x.offerContent(CONTENT.input, () => present(toMessages(input, 'input')));
    if (output !== undefined) x.offerContent(CONTENT.output, () => present(toMessages(output, 'output')));
  },
};
