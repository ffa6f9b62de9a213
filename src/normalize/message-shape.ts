/**
 * Message content in one shape: the GenAI conventions' input/output messages
 * (semantic-conventions-genai, gen-ai-input-messages.json and
 * gen-ai-output-messages.json):
 *
 *   [{ role, parts: [{ type: 'text', content }
 *                  | { type: 'tool_call', id, name, arguments }
 *                  | { type: 'tool_call_response', id, response } | …],
 *      name?, finish_reason? (output messages) }]
 *
 * and the shapes other emitters use, converted to it: OpenAI chat request
 * and response bodies (`messages`, `choices`, `tool_calls`), the AI SDK's
 * prompt messages (`tool-call` / `tool-result` content blocks), LangChain's
 * serialised messages (`{lc: 1, type: 'constructor', id: [..., 'AIMessage'], kwargs}`)
 * and generations, Anthropic-style `tool_use` / `tool_result` blocks, and
 * plain strings. Tool calls keep their arguments (parsed when they are a
 * JSON string) and tool results their response.
 *
 * Nothing here is on the hot path of spans that already use the one shape:
 * those are stored as sent (see `isOneShape`).
 */
import { parseEmbeddedJson } from '../common/json-budget.ts';
import { isObject } from '../common/util.ts';

export interface Part {
  type: string;
  [field: string]: unknown;
}

export interface Message {
  role: string;
  parts: Part[];
  name?: string;
  finish_reason?: string;
}

export type Direction = 'input' | 'output';

/** The one shape already: an array of messages that each have a string role and an array of parts. */
export function isOneShape(v: unknown): v is Message[] {
  if (!Array.isArray(v) || v.length === 0) return false;
  for (const m of v) {
    if (!isObject(m) || typeof m.role !== 'string' || !Array.isArray(m.parts)) return false;
  }
  return true;
}

/** Roles as other emitters spell them → the conventions' system, user, assistant, tool. */
const ROLES: Readonly<Record<string, string>> = {
  system: 'system', developer: 'system',
  user: 'user', human: 'user',
  assistant: 'assistant', ai: 'assistant', model: 'assistant', bot: 'assistant',
  tool: 'tool', function: 'tool',
};

/** LangChain message classes (langchain_core.messages) → roles. */
const LANGCHAIN_CLASSES: Readonly<Record<string, string>> = {
  HumanMessage: 'user', HumanMessageChunk: 'user',
  AIMessage: 'assistant', AIMessageChunk: 'assistant',
  SystemMessage: 'system', SystemMessageChunk: 'system',
  ToolMessage: 'tool', ToolMessageChunk: 'tool', FunctionMessage: 'tool', FunctionMessageChunk: 'tool',
};

/**
 * Finish reasons as providers and SDKs spell them → the conventions' values
 * (stop, length, content_filter, tool_call, error); others are kept.
 */
const FINISH_REASONS: Readonly<Record<string, string>> = {
  stop: 'stop', end_turn: 'stop', stop_sequence: 'stop', STOP: 'stop',
  length: 'length', max_tokens: 'length', MAX_TOKENS: 'length',
  content_filter: 'content_filter', 'content-filter': 'content_filter', SAFETY: 'content_filter',
  tool_call: 'tool_call', tool_calls: 'tool_call', 'tool-calls': 'tool_call', function_call: 'tool_call', tool_use: 'tool_call',
  error: 'error',
};

export function finishReason(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return FINISH_REASONS[v] ?? v;
}

/**
 * A JSON string holding an object or array → that value; anything else as it
 * is. JSON past the embedded-JSON limits (common/json-budget.ts) is not
 * parsed: it stays the string, or with `tooBig: 'nothing'` becomes undefined.
 */
export function jsonish(v: unknown, tooBig: 'string' | 'nothing' = 'string'): unknown {
  if (typeof v !== 'string') return v;
  const c = v.trimStart().charCodeAt(0);
  if (c !== 123 && c !== 91) return v;
  return parseEmbeddedJson(v, v, tooBig === 'string' ? v : undefined);
}

const text = (content: string): Part => ({ type: 'text', content });

/** Content blocks (a string, or an array of blocks in any of the known spellings) → parts. */
function contentParts(content: unknown, out: Part[]): void {
  if (typeof content === 'string') {
    if (content !== '') out.push(text(content));
    return;
  }
  if (!Array.isArray(content)) return;
  for (const b of content) {
    if (typeof b === 'string') {
      if (b !== '') out.push(text(b));
      continue;
    }
    if (!isObject(b)) continue;
    switch (b.type) {
      case 'text':
      case 'input_text':
      case 'output_text':
        if (typeof b.text === 'string') out.push(text(b.text));
        else if (typeof b.content === 'string') out.push(text(b.content));
        break;
      case 'tool-call': // AI SDK
        out.push({ type: 'tool_call', id: b.toolCallId ?? null, name: b.toolName ?? null, arguments: jsonish(b.input ?? b.args) });
        break;
      case 'tool-result': // AI SDK: output is {type: 'json' | 'text' | …, value}
        out.push({ type: 'tool_call_response', id: b.toolCallId ?? null, response: isObject(b.output) && 'value' in b.output ? b.output.value : (b.output ?? b.result) });
        break;
      case 'tool_use': // Anthropic
        out.push({ type: 'tool_call', id: b.id ?? null, name: b.name ?? null, arguments: jsonish(b.input) });
        break;
      case 'tool_result':
        out.push({ type: 'tool_call_response', id: b.tool_use_id ?? null, response: b.content });
        break;
      case 'image_url': {
        const url = isObject(b.image_url) ? b.image_url.url : b.image_url;
        if (typeof url === 'string') out.push({ type: 'uri', modality: 'image', uri: url });
        break;
      }
      default:
        // Already a part of the one shape (tool_call, reasoning, blob, …), or something new: kept as sent.
        if (typeof b.type === 'string') out.push(b as Part);
    }
  }
}

/** OpenAI-style tool calls ({id, function: {name, arguments}}) or LangChain's ({id, name, args}) → tool_call parts. */
function toolCallParts(calls: unknown, out: Part[]): void {
  if (!Array.isArray(calls)) return;
  for (const c of calls) {
    if (!isObject(c)) continue;
    const fn = isObject(c.function) ? c.function : c;
    out.push({ type: 'tool_call', id: c.id ?? null, name: fn.name ?? null, arguments: jsonish(fn.arguments ?? c.args ?? c.input) });
  }
}

/** One message in any known spelling → the one shape, or null when it is not a message. */
export function toMessage(m: unknown, direction: Direction): Message | null {
  if (typeof m === 'string') return { role: direction === 'input' ? 'user' : 'assistant', parts: m === '' ? [] : [text(m)] };
  if (!isObject(m)) return null;
  if (typeof m.role === 'string' && Array.isArray(m.parts)) return m as unknown as Message;
  let role: string | undefined;
  let body: Record<string, unknown> = m;
  if (m.lc === 1 && Array.isArray(m.id) && isObject(m.kwargs)) {
    // LangChain's serialised form: the class name is the role.
    body = m.kwargs;
    role = LANGCHAIN_CLASSES[String(m.id.at(-1))] ?? (typeof body.role === 'string' ? ROLES[body.role] : undefined);
  } else if (typeof m.role === 'string') {
    role = ROLES[m.role] ?? m.role;
  } else if (typeof m.type === 'string' && ROLES[m.type] && ('content' in m || 'tool_calls' in m)) {
    role = ROLES[m.type]; // LangChain's plain message dicts: {type: 'human' | 'ai' | …, content}
  }
  if (role === undefined) return null;
  const parts: Part[] = [];
  if (role === 'tool' && !Array.isArray(body.content)) {
    // A tool message's content is the tool's result (its blocks, when it has them, say so themselves).
    parts.push({ type: 'tool_call_response', id: body.tool_call_id ?? body.id ?? null, response: body.content ?? null });
  } else {
    contentParts(body.content, parts);
  }
  // LangChain keeps parsed calls in tool_calls and the provider's in additional_kwargs; one of them is enough.
  const calls = Array.isArray(body.tool_calls) && body.tool_calls.length > 0 ? body.tool_calls : isObject(body.additional_kwargs) ? body.additional_kwargs.tool_calls : undefined;
  toolCallParts(calls, parts);
  const out: Message = { role, parts };
  if (typeof body.name === 'string' && body.name !== '' && role !== 'tool') out.name = body.name;
  if (direction === 'output') {
    const reason = finishReason(body.finish_reason ?? (isObject(body.response_metadata) ? body.response_metadata.finish_reason : undefined));
    if (reason) out.finish_reason = reason;
  }
  return out;
}

function messagesOf(list: unknown[], direction: Direction, nested = false): Message[] | null {
  const out: Message[] = [];
  for (const item of list) {
    if (Array.isArray(item)) {
      // LangChain's chat model input: one list of messages per prompt (one level, no deeper).
      const inner = nested ? null : messagesOf(item, direction, true);
      if (inner === null) return null;
      out.push(...inner);
      continue;
    }
    const m = toMessage(item, direction);
    if (m === null) return null;
    out.push(m);
  }
  return out.length > 0 ? out : null;
}

/**
 * Whatever a span, event or log record holds as its input or output → the
 * one shape, or null when it holds no recognisable messages. A plain string
 * is one user message (input) or one assistant message (output).
 */
export function toMessages(v: unknown, direction: Direction): Message[] | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v === '' ? null : [toMessage(v, direction) as Message];
  if (Array.isArray(v)) return isOneShape(v) ? v : messagesOf(v, direction);
  if (!isObject(v)) return null;
  if (Array.isArray(v.messages)) return direction === 'output' ? afterLastUser(messagesOf(v.messages, direction)) : messagesOf(v.messages, direction);
  if (Array.isArray(v.choices)) return choices(v.choices);
  if (Array.isArray(v.generations)) return generations(v.generations);
  if (typeof v.input === 'string' && direction === 'input') return toMessages(v.input, direction);
  if (typeof v.prompt === 'string' && direction === 'input') return toMessages(v.prompt, direction);
  for (const key of ['outputs', 'output', 'text', 'answer'] as const) {
    if (typeof v[key] === 'string' && direction === 'output') return toMessages(v[key], direction);
  }
  if (Array.isArray(v.args) && isObject(v.kwargs)) {
    // Traceloop's entity input: the wrapped function's positional and keyword arguments.
    if (v.args.length === 1) return toMessages(v.args[0], direction);
    if (v.args.length === 0 && Object.keys(v.kwargs).length === 1) return toMessages(Object.values(v.kwargs)[0], direction);
    return null;
  }
  const m = toMessage(v, direction);
  return m === null ? null : [m];
}

/** An agent's final state often repeats its input: what it produced is what follows the last user message. */
function afterLastUser(list: Message[] | null): Message[] | null {
  if (list === null) return null;
  let i = list.length - 1;
  while (i >= 0 && list[i]?.role !== 'user') i--;
  const rest = i < 0 ? list : list.slice(i + 1);
  return rest.length > 0 ? rest : null;
}

/** OpenAI chat completion choices → output messages. */
function choices(list: unknown[]): Message[] | null {
  const out: Message[] = [];
  for (const c of list) {
    if (!isObject(c)) continue;
    const m = toMessage(isObject(c.message) ? { role: 'assistant', ...c.message } : typeof c.text === 'string' ? c.text : null, 'output');
    if (m === null) continue;
    const reason = finishReason(c.finish_reason);
    if (reason) m.finish_reason = reason;
    out.push(m);
  }
  return out.length > 0 ? out : null;
}

/** LangChain LLMResult generations ([[{text, message, generationInfo}]]) → output messages. */
function generations(list: unknown[]): Message[] | null {
  const out: Message[] = [];
  for (const g of list.flat()) {
    if (!isObject(g)) continue;
    const m = toMessage(g.message ?? g.text, 'output');
    if (m === null) continue;
    const reason = finishReason(isObject(g.generationInfo) ? g.generationInfo.finish_reason : undefined);
    if (reason && !m.finish_reason) m.finish_reason = reason;
    out.push(m);
  }
  return out.length > 0 ? out : null;
}

/** System instructions are a list of parts; a plain string is one text part. */
export function toSystemParts(v: unknown): Part[] | null {
  if (typeof v === 'string') return v === '' ? null : [text(v)];
  if (Array.isArray(v)) {
    const parts: Part[] = [];
    // Parts, content blocks in other spellings, or (some emitters) system messages holding parts.
    for (const x of v) contentParts(isObject(x) && Array.isArray(x.parts) ? x.parts : [x], parts);
    return parts.length > 0 ? parts : null;
  }
  return null;
}

/** The text parts of one message, joined by newlines ('' when it has none). */
export function textOf(m: unknown): string {
  if (!isObject(m)) return '';
  if (Array.isArray(m.parts)) {
    let out = '';
    for (const p of m.parts) {
      if (isObject(p) && p.type === 'text' && typeof p.content === 'string' && p.content !== '') out += (out ? '\n' : '') + p.content;
    }
    return out;
  }
  // Bodies of the older message events ({content}) and OpenAI-style messages.
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content)) {
    const parts: Part[] = [];
    contentParts(m.content, parts);
    return textOf({ parts });
  }
  return '';
}

/** The answer: the text of the last message that has text (verdict.answer_text), or null. */
export function answerText(messages: unknown): string | null {
  if (!Array.isArray(messages)) return null;
  for (let i = messages.length - 1; i >= 0; i--) {
    const t = textOf(messages[i]);
    if (t !== '') return t;
  }
  return null;
}

/** The text of the last user message that has text (tool results sent as user messages are skipped), or null. */
export function lastUserText(messages: unknown): string | null {
  if (!Array.isArray(messages)) return null;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isObject(m) && m.role === 'user') {
      const t = textOf(m);
      if (t !== '') return t;
    }
  }
  return null;
}

