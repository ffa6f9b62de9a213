/**
 * A built-in fake chat model, so the demo needs no API key and no network.
 * It behaves enough like a tool-calling model for the traces to look real:
 * it reads the newest user message, calls tools to get facts, then answers
 * from the tool results and the help-center articles in its instructions,
 * with token counts and latencies of the right size.
 *
 * Its answers are canned and its randomness seeded. Quality depends on the
 * model and the prompt, which is what the demo's deploy changes:
 * - `gpt-4o` gives a specific, grounded answer about 9 times in 10;
 *   `gpt-4o-mini` only about half the time, and otherwise something generic or
 *   made up (what the LLM judge and the users then mark down);
 * - told to "confirm the customer's details" (1.5.0's prompt), it sometimes
 *   repeats the customer's email address in full (what the agent's PII
 *   check catches).
 *
 * It also fails like a hosted model: 429s while the provider rate-limits,
 * and one request that hangs until the client's 40 s timeout.
 *
 * Messages use the GenAI semantic conventions' JSON shape
 * (`{role, parts: [{type: 'text' | 'tool_call' | 'tool_call_response', …}]}`),
 * the shape `gen_ai.input.messages` and `gen_ai.output.messages` record. A
 * real provider SDK has its own request format, which an instrumentation
 * converts into this one.
 */
import { randomBytes } from 'node:crypto';
import type { SimClock } from './clock.ts';
import type { Random } from './random.ts';
import type { ToolCall, Window } from './tools.ts';

export type Part =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: Record<string, unknown> }
  | { type: 'tool_call_response'; id: string; response: unknown };

export interface Message {
  role: 'user' | 'assistant' | 'tool';
  parts: Part[];
  /** Output messages only: stop, length, content_filter, tool_call or error. */
  finish_reason?: 'stop' | 'tool_call';
}

export interface ChatRequest {
  model: string;
  /** The system prompt, with the retrieved articles appended. */
  instructions: string;
  messages: Message[];
  tools: ReadonlyArray<{ name: string }>;
  temperature: number;
  maxTokens: number;
}

export interface ChatResponse {
  /** The provider's completion ID: `gen_ai.response.id`, a join key for verdicts. */
  id: string;
  /** The exact model version that answered: `gen_ai.response.model`. */
  model: string;
  message: Message;
  /** As the provider reports it (OpenAI says "tool_calls"). */
  finishReason: 'stop' | 'tool_calls';
  usage: { inputTokens: number; outputTokens: number };
}

/** A failed model call. `type` becomes the span's `error.type`. */
export class ModelError extends Error {
  readonly type: string;
  readonly retryable: boolean;
  constructor(type: string, message: string, retryable: boolean) {
    super(message);
    this.name = type;
    this.type = type;
    this.retryable = retryable;
  }
}

export interface ModelIncidents {
  /** The provider answers many requests with 429 in this window. */
  rateLimited: Window | null;
  /** The first request at or after this time hangs until the client times out. */
  hangAt: number | null;
}

export const CLIENT_TIMEOUT_MS = 40_000;

interface Profile {
  version: string;
  goodRate: number;
  /** Milliseconds: fixed overhead, per output token, per input token. */
  latency: [number, number, number];
}

const PROFILES: Record<string, Profile> = {
  'gpt-4o': { version: 'gpt-4o-2024-08-06', goodRate: 0.9, latency: [420, 14, 0.08] },
  'gpt-4o-mini': { version: 'gpt-4o-mini-2024-07-18', goodRate: 0.55, latency: [280, 8, 0.04] },
};

const id = (prefix: string, bytes: number) => `${prefix}${randomBytes(bytes).toString('base64url')}`;
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));
const textOf = (m: Message) => m.parts.flatMap((p) => (p.type === 'text' ? [p.content] : [])).join('\n');
const formatDate = (iso: string) =>
  new Date(`${iso}T12:00:00Z`).toLocaleDateString('en-US', { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' });

/** What a skill sees: the question, what the tools returned, the articles. */
interface Context {
  question: string;
  orderId: string | null;
  email: string | null;
  address: string | null;
  results: Map<string, any>;
  articles: Array<{ id: string; content: string }>;
  /** This answer is a good one (drawn from the model's profile). */
  good: boolean;
}

type Step = { call: Omit<ToolCall, 'id'> } | { answer: string };

interface Skill {
  name: string;
  pattern: RegExp;
  step(ctx: Context): Step;
}

const ask = (name: string, args: Record<string, unknown>): Step => ({ call: { name, arguments: args } });
const answer = (text: string): Step => ({ answer: text });
const ORDER_UNREACHABLE = "I'm sorry, I can't reach our order system right now. Please try again in a few minutes.";

/** Looks the order up first; then `then` with the order, or the right apology. */
function withOrder(ctx: Context, then: (order: any) => Step): Step {
  if (!ctx.orderId) return answer('Could you give me your order number so I can look into it?');
  const order = ctx.results.get('lookup_order');
  if (order === undefined) return ask('lookup_order', { order_id: ctx.orderId });
  if (order.error === 'not_found') return answer(`I couldn't find order #${ctx.orderId}. Could you double-check the number?`);
  if (order.error) return answer(ORDER_UNREACHABLE);
  return then(order);
}

const HALLUCINATED: Record<string, string> = {
  'kb-returns': 'You can return anything within 60 days, no questions asked.',
  'kb-footwear': 'Shoes can be returned within 60 days, worn or not.',
  'kb-cancellations': 'You can cancel any order at any time, even after it ships.',
  'kb-warranty': 'All our products come with a lifetime warranty, so you are fully covered.',
  'kb-refunds': 'Refunds reach your card within 24 hours.',
  'kb-shipping': 'It usually arrives in a day or two.',
  'kb-account': 'Reset emails arrive instantly, please try again.',
};

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z]{3,}/g) ?? []);

/** The article's sentences that share most words with the question, in the article's order. */
function closestSentences(content: string, question: string, n: number): string {
  const asked = words(question);
  const sentences = content.split(/(?<=\.) /);
  const overlap = (x: string) => [...words(x)].filter((w) => asked.has(w)).length;
  const best = new Set([...sentences].sort((a, b) => overlap(b) - overlap(a)).slice(0, n));
  return sentences.filter((x) => best.has(x)).join(' ');
}

/** First match wins. */
const SKILLS: Skill[] = [
  {
    name: 'frustration',
    pattern: /\b(awful|horrible|sucks|wtf|ridiculous|useless)\b/i,
    step(ctx) {
      const ticket = ctx.results.get('escalate_to_human');
      if (!ticket) return ask('escalate_to_human', { summary: `Customer is unhappy with the answers so far: "${ctx.question}"` });
      return answer(ctx.good
        ? `I'm really sorry about this. I've passed your case to a colleague (ticket ${ticket.ticket_id}); they will email you ${ticket.expected_response}.`
        : 'I understand your frustration. Is there anything else I can help you with?');
    },
  },
  {
    name: 'closing',
    pattern: /^(thanks|thank you|great|perfect|ok|okay)\b/i,
    step: () => answer("You're welcome! Have a great day."),
  },
  {
    name: 'policy',
    pattern: /^(how long|how do i|do i|does|can i return|is the return|what'?s your|will i be)\b|\b(warranty|policy)\b/i,
    step(ctx) {
      const top = ctx.articles[0];
      if (!top) return answer("I couldn't find that in our help center. Would you like me to connect you with a colleague?");
      if (!ctx.good) return answer(HALLUCINATED[top.id] ?? 'Please check our help center for the details.');
      return answer(closestSentences(top.content, ctx.question, 2));
    },
  },
  {
    name: 'refund',
    pattern: /refund|money back/i,
    step: (ctx) =>
      withOrder(ctx, () => {
        const refund = ctx.results.get('issue_refund');
        if (!refund) return ask('issue_refund', { order_id: ctx.orderId, reason: ctx.question.slice(0, 120) });
        return answer(ctx.good
          ? `I've issued refund ${refund.refund_id} for $${refund.amount} to your ${refund.method}; it should arrive within ${refund.expected}.`
          : "I've started the refund for you. You'll hear from us soon.");
      }),
  },
  {
    name: 'cancel',
    pattern: /cancel/i,
    step(ctx) {
      if (!ctx.orderId) return answer('Which order would you like to cancel? Please give me the order number.');
      const r = ctx.results.get('cancel_order');
      if (!r) return ask('cancel_order', { order_id: ctx.orderId });
      if (!ctx.good) return answer("I've asked the warehouse to cancel your order.");
      return answer(r.cancelled
        ? `Done: order #${r.order_id} is cancelled and you won't be charged the $${r.refunded_amount}.`
        : `Order #${r.order_id} is ${r.reason}, so I can't cancel it any more. Once it arrives you can return it within ${r.return_window_days} days for a full refund.`);
    },
  },
  {
    name: 'address',
    pattern: /address/i,
    step(ctx) {
      if (!ctx.orderId || !ctx.address) return answer('Sure: which order, and what is the new address?');
      const r = ctx.results.get('update_address');
      if (!r) return ask('update_address', { order_id: ctx.orderId, address: ctx.address });
      if (!ctx.good) return answer('Your address has been updated.');
      return answer(r.updated
        ? `I've changed the delivery address of order #${r.order_id} to ${r.address}. It is still due on ${formatDate(r.estimated_delivery)}.`
        : `Order #${r.order_id} was already delivered, so I can't change its address.`);
    },
  },
  {
    name: 'password',
    pattern: /password|log ?in|sign in|spam/i,
    step(ctx) {
      if (!ctx.email) return answer('Which email address is your account under?');
      const r = ctx.results.get('send_password_reset');
      if (!r) return ask('send_password_reset', { email: ctx.email });
      return answer(ctx.good
        ? `I've sent a new reset link to ${r.to}. It can take up to ${r.delivery_minutes} minutes to arrive, so please check your spam folder too; the link expires after ${r.expires_in_hours} hours.`
        : "I've sent you a reset link.");
    },
  },
  {
    name: 'order_status',
    pattern: /where|status|arriv|track|shipped|deliver|shown up/i,
    step: (ctx) =>
      withOrder(ctx, (o) => {
        if (!ctx.good) return answer("Your order is on its way! You'll get an email when it arrives.");
        if (o.status === 'delivered') return answer(`Order #${o.order_id} was delivered on ${formatDate(o.estimated_delivery)} by ${o.carrier}.`);
        if (o.status === 'processing') return answer(`Order #${o.order_id} hasn't shipped yet: it is being packed and is due on ${formatDate(o.estimated_delivery)}.`);
        if (o.status === 'cancelled') return answer(`Order #${o.order_id} was cancelled, so it won't be delivered.`);
        return answer(`Your order #${o.order_id} ${o.status === 'shipped' ? 'has shipped' : 'is in transit'} with ${o.carrier} (tracking number ${o.tracking_number}) and should arrive on ${formatDate(o.estimated_delivery)}.`);
      }),
  },
];

const FALLBACK: Skill = { name: 'fallback', pattern: /.*/, step: () => answer('Could you tell me a bit more, and your order number if this is about an order?') };

export class FakeModel {
  readonly #clock: SimClock;
  readonly #random: Random;
  readonly #incidents: ModelIncidents;
  #hung = false;
  #limited = false;

  constructor(clock: SimClock, random: Random, incidents: ModelIncidents) {
    this.#clock = clock;
    this.#random = random;
    this.#incidents = incidents;
  }

  async chat(req: ChatRequest): Promise<ChatResponse> {
    const profile = PROFILES[req.model];
    if (!profile) throw new ModelError('NotFoundError', `404 The model ${req.model} does not exist`, false);
    await this.#incidentsAt(req.model);

    const ctx = this.#context(req, profile);
    const skill = SKILLS.find((s) => s.pattern.test(ctx.question)) ?? FALLBACK;
    const step = skill.step(ctx);
    let message: Message;
    if ('call' in step) {
      message = { role: 'assistant', parts: [{ type: 'tool_call', id: id('call_', 18), ...step.call }], finish_reason: 'tool_call' };
    } else {
      let text = step.answer;
      // 1.5.0's prompt asks to confirm the customer's details: sometimes the whole email address comes back.
      const order = ctx.results.get('lookup_order');
      const email = typeof order?.email === 'string' ? order.email : ctx.results.has('send_password_reset') ? ctx.email : null;
      if (email && /confirm the customer's details/i.test(req.instructions) && this.#random.chance(0.45)) text = `I've confirmed your account (${email}). ${text}`;
      message = { role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: 'stop' };
    }
    const usage = {
      inputTokens: tokens(req.instructions) + tokens(JSON.stringify(req.messages)) + 60 * req.tools.length,
      outputTokens: tokens(JSON.stringify(message.parts)),
    };
    const [base, perOut, perIn] = profile.latency;
    await this.#clock.sleep((base + perOut * usage.outputTokens + perIn * usage.inputTokens) * (0.8 + 0.5 * this.#random.next()));
    return { id: id('chatcmpl-', 18), model: profile.version, message, finishReason: 'call' in step ? 'tool_calls' : 'stop', usage };
  }

  async #incidentsAt(model: string): Promise<void> {
    const now = this.#clock.now();
    const { hangAt, rateLimited } = this.#incidents;
    if (hangAt !== null && !this.#hung && now >= hangAt) {
      this.#hung = true;
      await this.#clock.sleep(CLIENT_TIMEOUT_MS);
      throw new ModelError('timeout', `Request timed out after ${CLIENT_TIMEOUT_MS / 1000} s`, false);
    }
    if (rateLimited && now >= rateLimited.from && now <= rateLimited.to && (!this.#limited || this.#random.chance(0.55))) {
      this.#limited = true; // the first request of the window is always turned away
      await this.#clock.sleep(this.#random.int(120, 320));
      throw new ModelError('RateLimitError', `429 Rate limit reached for ${model} on tokens per min (TPM): Limit 200000, Used 199420. Please try again in 1.5s.`, true);
    }
  }

  #context(req: ChatRequest, profile: Profile): Context {
    const lastUser = req.messages.findLastIndex((m) => m.role === 'user');
    const question = lastUser >= 0 ? textOf(req.messages[lastUser] as Message) : '';
    const userTexts = req.messages.filter((m) => m.role === 'user').map(textOf).reverse();
    const find = (re: RegExp) => userTexts.map((t) => re.exec(t)?.[1]).find((x) => x !== undefined) ?? null;

    // Tool results since the question, by tool name.
    const names = new Map<string, string>();
    const results = new Map<string, any>();
    for (const m of req.messages.slice(lastUser + 1)) {
      for (const p of m.parts) {
        if (p.type === 'tool_call') names.set(p.id, p.name);
        if (p.type === 'tool_call_response') results.set(names.get(p.id) ?? p.id, p.response);
      }
    }
    const articles = [...req.instructions.matchAll(/^\[(kb-[\w-]+)\] [^:]*: (.*)$/gm)].map((m) => ({ id: m[1] as string, content: m[2] as string }));
    const random = this.#random;
    let good: boolean | undefined;
    return {
      question,
      orderId: find(/#?\b(\d{5})\b/),
      email: find(/\b([\w.+-]+@[\w-]+\.[\w.]+\w)\b/),
      address: /\bto (\d+ [^?!]+?)[.?!]*$/.exec(question)?.[1] ?? null,
      results,
      articles,
      // Drawn when a skill first asks, i.e. when it writes an answer that could be good or bad.
      get good() {
        return (good ??= random.chance(profile.goodRate));
      },
    };
  }
}
