/**
 * The export's three line formats, from one run as the export query reads it:
 *
 * - `verdict`: everything: the input messages (GenAI conventions' shape, as
 *   stored), the final output, the tool calls in order, a summary of the
 *   spans, every verdict, and a reviewer's correction as `expected_output`.
 * - `messages`: `{"messages": [...]}`, the chat-messages JSONL that
 *   fine-tuning and eval tools read (roles system, user, assistant, tool;
 *   content as text; an assistant's tool calls as `tool_calls` with
 *   `function.arguments` a JSON string). The last message is the assistant's
 *   answer: the reviewer's correction when there is one, else what the run said.
 * - `dataset`: `{input, expected_output, metadata}`, the item shape of
 *   dataset and experiment tools: the input messages, the correction, and
 *   the run's output, tool calls, verdicts and IDs as metadata.
 */
import type { ExportFormat } from './options.ts';

/** One run as the export query returns it. */
export interface RunDocument {
  start_ns: string;
  trace_id: string;
  start_time: Date;
  duration_ms: number;
  service_name: string | null;
  service_version: string | null;
  agent_name: string | null;
  model: string | null;
  conversation_id: string | null;
  user_id: string | null;
  span_count: number;
  error_count: number;
  input_tokens: number | null;
  output_tokens: number | null;
  root_system: unknown;
  root_input: unknown;
  root_output: unknown;
  root_input_text: string | null;
  root_output_text: string | null;
  call_system: unknown;
  call_input: unknown;
  call_input_text: string | null;
  call_output: unknown;
  call_output_text: string | null;
  tool_calls: unknown[];
  operations: Record<string, number> | null;
  verdicts: unknown[];
  correction: string | null;
}

interface Part {
  type?: string;
  content?: unknown;
  id?: string;
  name?: string;
  arguments?: unknown;
  response?: unknown;
}
interface GenAiMessage {
  role?: string;
  parts?: Part[];
}
/** A chat message as fine-tuning files hold it. */
export interface ChatMessage {
  role: string;
  content: string | null;
  tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

const asList = (v: unknown): GenAiMessage[] => (Array.isArray(v) ? (v as GenAiMessage[]).filter((m) => typeof m === 'object' && m !== null) : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

/** The text parts of a message (or of system instructions), joined by blank lines. */
function textOf(parts: Part[] | undefined): string {
  return (parts ?? []).filter((p) => p.type === 'text' && p.content !== undefined).map((p) => text(p.content)).join('\n\n');
}

/** GenAI-shaped messages as chat messages; parts with no chat counterpart (reasoning, files) are left out. */
export function toChat(messages: unknown): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of asList(messages)) {
    const role = m.role ?? 'user';
    const parts = Array.isArray(m.parts) ? m.parts : [];
    if (role === 'tool') {
      // One chat message per tool response (each answers one call).
      for (const p of parts.filter((x) => x.type === 'tool_call_response')) out.push({ role: 'tool', tool_call_id: p.id ?? '', content: text(p.response) });
      continue;
    }
    const calls = parts.filter((p) => p.type === 'tool_call');
    const content = textOf(parts);
    const msg: ChatMessage = { role, content: content === '' && calls.length > 0 ? null : content };
    if (calls.length > 0) {
      msg.tool_calls = calls.map((p) => ({ id: p.id ?? '', type: 'function', function: { name: p.name ?? '', arguments: typeof p.arguments === 'string' ? p.arguments : JSON.stringify(p.arguments ?? {}) } }));
    }
    out.push(msg);
  }
  return out;
}

/** The run's input: system instructions and messages of its root, else of its first model call; else its input text as one user message. */
function inputOf(r: RunDocument): { system: unknown; messages: unknown[] } {
  const system = r.root_system ?? r.call_system ?? null;
  const messages = asList(r.root_input).length > 0 ? asList(r.root_input) : asList(r.call_input);
  const fallback = r.root_input_text ?? r.call_input_text;
  return { system, messages: messages.length > 0 ? messages : fallback ? [{ role: 'user', parts: [{ type: 'text', content: fallback }] }] : [] };
}

function outputOf(r: RunDocument): { messages: unknown[]; text: string | null } {
  const messages = asList(r.root_output).length > 0 ? asList(r.root_output) : asList(r.call_output);
  return { messages, text: r.root_output_text ?? r.call_output_text ?? null };
}

/** The input as chat messages, the system instructions first unless the messages carry their own. */
function chatInput(r: RunDocument): ChatMessage[] {
  const { system, messages } = inputOf(r);
  const chat = toChat(messages);
  const instructions = Array.isArray(system) ? textOf(system as Part[]) : '';
  if (instructions !== '' && !chat.some((m) => m.role === 'system')) chat.unshift({ role: 'system', content: instructions });
  return chat;
}

export function formatRun(r: RunDocument, format: ExportFormat, cursor: string): unknown {
  const output = outputOf(r);
  if (format === 'messages') {
    const answer = r.correction ?? output.text;
    const last: ChatMessage[] = answer !== null ? [{ role: 'assistant', content: answer }] : toChat(output.messages.slice(-1));
    return { messages: [...chatInput(r), ...last] };
  }
  if (format === 'dataset') {
    return {
      input: { messages: chatInput(r) },
      expected_output: r.correction,
      metadata: {
        trace_id: r.trace_id, cursor, start_time: r.start_time, service_name: r.service_name, agent_name: r.agent_name, model: r.model,
        output: output.text, tool_calls: r.tool_calls, verdicts: r.verdicts,
      },
    };
  }
  return {
    trace_id: r.trace_id,
    cursor,
    start_time: r.start_time,
    service_name: r.service_name,
    service_version: r.service_version,
    agent_name: r.agent_name,
    model: r.model,
    conversation_id: r.conversation_id,
    user_id: r.user_id,
    input: inputOf(r),
    output,
    tool_calls: r.tool_calls,
    spans: {
      count: r.span_count, errors: r.error_count, duration_ms: r.duration_ms, input_tokens: r.input_tokens, output_tokens: r.output_tokens,
      operations: r.operations ?? {},
    },
    verdicts: r.verdicts,
    expected_output: r.correction,
  };
}
