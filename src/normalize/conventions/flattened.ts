/**
 * Messages flattened into one attribute per field, as older conventions
 * send them because attribute values could not be structured:
 *
 *   gen_ai.prompt.<i>.role / .content / .tool_call_id / .tool_calls.<j>.{id,name,arguments}
 *   gen_ai.completion.<i>.role / .content / .finish_reason / .tool_calls.<j>.…   (OpenLLMetry; semconv ≤ 1.26)
 *   llm.input_messages.<i>.message.role / .content / .tool_call_id / .name
 *     .tool_calls.<j>.tool_call.{id,function.name,function.arguments}
 *     .contents.<k>.message_content.{type,text}                                   (OpenInference)
 *
 * Both spellings reduce to the same fields once the wrapper segments
 * (`message`, `tool_call`, `function`, `message_content`) are dropped.
 */
import { scalarOf } from '../anyvalue.ts';
import { toMessage, type Direction, type Message } from '../message-shape.ts';
import type { AnyValue } from '../../otlp/types.ts';

interface FlatMessage {
  role?: string;
  content?: string;
  name?: string;
  toolCallId?: string;
  finishReason?: string;
  calls?: Map<number, Record<string, unknown>>;
  blocks?: Map<number, Record<string, unknown>>;
}

const WRAPPERS: ReadonlySet<string> = new Set(['message', 'tool_call', 'function', 'message_content']);
/** More messages or calls than this in one span is not a conversation but an attack on memory. */
const MAX_INDEX = 10_000;

function index(s: string | undefined): number {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return -1;
  const n = Number(s);
  return n < MAX_INDEX ? n : -1;
}

export class Flattened {
  readonly #messages = new Map<number, FlatMessage>();

  /** One attribute: `rest` is the key after the prefix, e.g. `2.message.tool_calls.0.tool_call.function.name`. */
  add(rest: string, v: AnyValue | null | undefined): void {
    const segments = rest.split('.').filter((s) => !WRAPPERS.has(s));
    const i = index(segments[0]);
    const value = scalarOf(v);
    if (i < 0 || value === undefined) return;
    let m = this.#messages.get(i);
    if (m === undefined) {
      m = {};
      this.#messages.set(i, m);
    }
    const field = segments[1];
    const s = String(value);
    switch (field) {
      case 'role': m.role = s; break;
      case 'content': m.content = s; break;
      case 'name': m.name = s; break;
      case 'tool_call_id': m.toolCallId = s; break;
      case 'finish_reason': m.finishReason = s; break;
      case 'tool_calls':
      case 'contents': {
        const j = index(segments[2]);
        const sub = segments.at(-1);
        if (j < 0 || sub === undefined || segments.length < 4) return;
        const map = field === 'tool_calls' ? (m.calls ??= new Map()) : (m.blocks ??= new Map());
        let entry = map.get(j);
        if (entry === undefined) {
          entry = {};
          map.set(j, entry);
        }
        entry[sub === 'url' ? 'url' : sub] = s;
        break;
      }
      default:
    }
  }

  get size(): number {
    return this.#messages.size;
  }

  /** The messages in index order, in the one shape; `finishReason` applies to output messages that do not carry their own. */
  toMessages(direction: Direction, finishReason?: string): Message[] | null {
    const out: Message[] = [];
    for (const i of [...this.#messages.keys()].sort((a, b) => a - b)) {
      const f = this.#messages.get(i) as FlatMessage;
      const content = f.content ?? (f.blocks ? [...f.blocks.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b) : undefined);
      const raw: Record<string, unknown> = { role: f.role ?? (direction === 'input' ? 'user' : 'assistant'), content };
      if (f.name !== undefined) raw.name = f.name;
      if (f.toolCallId !== undefined) raw.tool_call_id = f.toolCallId;
      if (f.calls) raw.tool_calls = [...f.calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
      if (direction === 'output') raw.finish_reason = f.finishReason ?? finishReason;
      const m = toMessage(raw, direction);
      if (m !== null) out.push(m);
    }
    return out.length > 0 ? out : null;
  }
}
