/**
 * The story of the hour: who writes in, about what, when, and how they react.
 *
 * - Customers open conversations across the hour about orders, refunds,
 *   cancellations, returns, warranties and sign-in trouble, and ask one to
 *   three follow-ups. Each message is a run; the runs of a conversation share
 *   its `gen_ai.conversation.id`.
 * - Half-way through, support-agent 1.5.0 replaces 1.4.0 (a cheaper model,
 *   a shorter prompt), and answers get worse.
 * - Incidents: the order service is down for a few minutes, the model
 *   provider rate-limits for two, and one model request hangs.
 * - Customers react to what they read: after an unhelpful answer some ask
 *   the same question again (Verdict's `repeat` rule), some get angry (its
 *   `user_frustration` rule), some click thumbs down, and some reopen the
 *   ticket later. The LLM judge grades most answers.
 *
 * Everything is drawn from the seeded Random, so a seed replays the same hour.
 */
import type { Message } from './fake-model.ts';
import type { Run, SupportAgent } from './agent.ts';
import type { SimClock } from './clock.ts';
import type { FeedbackClient } from './feedback.ts';
import { grade, type RelevanceJudge } from './judge.ts';
import type { Random } from './random.ts';
import type { Order, Window } from './tools.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface Hour {
  start: number;
  end: number;
  /** support-agent 1.5.0 replaces 1.4.0 at this time. */
  deployAt: number;
  /** Nothing may be stamped later than this (it is in the past when the demo runs). */
  latest: number;
}

export interface ConversationPlan {
  id: string;
  startAt: number;
  intent: string;
  customer: { name: string; email: string };
  order: Order;
  messages: Turn[];
}

interface Turn {
  text: string;
  kind: 'question' | 'closing' | 'frustration' | 'reask';
}

export interface Plan {
  hour: Hour;
  conversations: ConversationPlan[];
  orderServiceOutage: Window | null;
  rateLimited: Window | null;
  hangAt: number | null;
}

interface Intent {
  name: string;
  weight: number;
  statuses: Order['status'][];
  openings: string[];
  followUps: string[];
}

const INTENTS: Intent[] = [
  {
    name: 'order_status', weight: 30, statuses: ['shipped', 'in_transit', 'in_transit', 'processing'],
    openings: ['Hi, where is my order #{order}? It was supposed to arrive yesterday.', 'Can you check the status of order {order}?', "My package for order #{order} still hasn't shown up. Where is it?"],
    followUps: ['Can you send me the tracking number?', 'Will it arrive before the weekend?', 'Can you change the delivery address to {address}?', 'Which carrier is delivering it?'],
  },
  {
    name: 'refund', weight: 20, statuses: ['delivered'],
    openings: ["I'd like a refund for order #{order}, the {item} isn't what I expected.", 'The {item} in order {order} arrived damaged. Can I get my money back?'],
    followUps: ['How long until the money is back on my card?', 'Do I need to send it back first?', 'Is the return shipping free?'],
  },
  {
    name: 'cancel', weight: 10, statuses: ['processing', 'processing', 'shipped'],
    openings: ['Please cancel order #{order}, I ordered the wrong size.', 'Can you cancel my order {order}? I found it cheaper elsewhere.'],
    followUps: ['Will I be charged a cancellation fee?', 'How long do I have to return it, then?'],
  },
  {
    name: 'address', weight: 8, statuses: ['processing', 'shipped'],
    openings: ['I moved last week. Can you change the delivery address for order #{order} to {address}?'],
    followUps: ['When will it arrive?', 'Can you send me the tracking number?'],
  },
  {
    name: 'returns', weight: 15, statuses: ['delivered'],
    openings: ["What's your return policy for items bought on sale?", 'How long do I have to return a jacket?'],
    followUps: ['Does that include shoes?', 'Can I return it to a store instead of mailing it?', 'How do I print the return label?'],
  },
  {
    name: 'warranty', weight: 7, statuses: ['delivered'],
    openings: ['Does the Alpine 2 tent come with a warranty?', 'My backpack strap tore after three months. Is that covered by the warranty?'],
    followUps: ['How do I make a warranty claim?', 'Does the warranty cover the zipper too?'],
  },
  {
    name: 'sign_in', weight: 10, statuses: ['delivered'],
    openings: ["I can't log in and the password reset email never arrives. My email is {email}."],
    followUps: ['Still nothing, I checked my spam folder too.', 'How long is the reset link valid?'],
  },
];

/** Intents whose first message makes the agent call lookup_order (which the order service's outage breaks). */
const LOOKUP_INTENTS = new Set(['order_status', 'refund']);
const CLOSINGS = ["Thanks, that's all!", 'Great, thank you.', 'Perfect, thanks for your help.'];
/** Worded so that examples/rules.yaml's user_frustration rule fires on each. */
const FRUSTRATIONS = ['This is awful, I already gave you my order number.', 'Horrible service. I just want a straight answer.', 'this sucks, nobody can tell me anything', 'wtf, that is not what I asked'];
const FIRST = ['Ava', 'Liam', 'Maya', 'Noah', 'Zoe', 'Ethan', 'Lena', 'Omar', 'Iris', 'Hugo', 'Nina', 'Theo', 'Sara', 'Jonas', 'Mila', 'Ravi'];
const LAST = ['Garcia', 'Nguyen', 'Smith', 'Kowalski', 'Okafor', 'Larsen', 'Rossi', 'Tanaka', 'Dubois', 'Silva', 'Meyer', 'Haddad'];
const STREETS = ['Elm Street', 'Harbor Road', 'Maple Avenue', 'Cedar Lane', 'Birch Way', 'Mill Road'];
const CITIES = ['Springfield', 'Riverton', 'Lakewood', 'Fairview', 'Ashland'];
const ITEMS = [
  { name: 'Alpine 2 tent', price: '289.00' }, { name: 'trail boots', price: '149.00' }, { name: 'rain jacket', price: '129.00' },
  { name: 'down sleeping bag', price: '219.00' }, { name: 'merino base layer', price: '64.50' }, { name: 'trekking poles', price: '79.95' },
];
const CARRIERS = ['UPS', 'FedEx', 'USPS', 'DHL'];

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function weighted<T extends { weight: number }>(random: Random, items: readonly T[]): T {
  let x = random.next() * items.reduce((s, i) => s + i.weight, 0);
  for (const i of items) if ((x -= i.weight) < 0) return i;
  return items[items.length - 1] as T;
}

/** Lays out the hour: conversations, their customers and orders, the deploy and the incidents. */
export function planHour(random: Random, count: number, now: number, newId: () => string): Plan {
  // The deploy falls on the hour, half an hour into the traffic, which ends at least a minute ago: the
  // releases are then first seen in different hours, which the hourly learning-loop reports need to
  // tell a before from an after (as they would for a deploy long after the previous one).
  const deployAt = Math.floor((now - 31 * MINUTE) / HOUR) * HOUR;
  const hour: Hour = { start: deployAt - 30 * MINUTE, end: deployAt + 30 * MINUTE, deployAt, latest: now - 5_000 };
  const orderIds = random.sample(Array.from({ length: 9000 }, (_, i) => String(41000 + i)), count);
  const conversations: ConversationPlan[] = [];
  for (let i = 0; i < count; i++) {
    const intent = weighted(random, INTENTS);
    const [first, last] = [random.pick(FIRST), random.pick(LAST)];
    const email = `${first}.${last}@example.com`.toLowerCase();
    const item = random.pick(ITEMS);
    const quantity = random.chance(0.2) ? 2 : 1;
    const status = random.pick(intent.statuses);
    const carrier = status === 'processing' ? null : random.pick(CARRIERS);
    const days = status === 'delivered' ? -random.int(2, 9) : status === 'processing' ? random.int(4, 7) : random.int(1, 4);
    const order: Order = {
      order_id: orderIds[i] as string, status, items: [{ name: item.name, quantity, price: item.price }],
      total: (Number(item.price) * quantity).toFixed(2), currency: 'USD', carrier,
      tracking_number: carrier === null ? null : carrier === 'UPS' ? `1Z${random.int(100_000, 999_999)}A${random.int(10_000_000, 99_999_999)}` : String(random.int(100_000_000, 999_999_999)) + random.int(100, 999),
      estimated_delivery: isoDate(now + days * 86_400_000), email,
      shipping_address: `${random.int(2, 980)} ${random.pick(STREETS)}, ${random.pick(CITIES)}`,
    };
    const fill = (t: string) =>
      t.replace('{order}', order.order_id).replace('{email}', email).replace('{item}', item.name)
        .replace('{address}', `${random.int(2, 980)} ${random.pick(STREETS)}, ${random.pick(CITIES)}`);
    const messages: Turn[] = [
      { text: fill(random.pick(intent.openings)), kind: 'question' },
      ...random.sample(intent.followUps, random.int(1, Math.min(3, intent.followUps.length))).map((t) => ({ text: fill(t), kind: 'question' as const })),
      ...(random.chance(0.8) ? [{ text: random.pick(CLOSINGS), kind: 'closing' as const }] : []),
    ];
    // Traffic picks up as the hour goes on (and conversations started late are cut short by its end).
    const startAt = hour.start + Math.floor(random.next() ** 0.7 * 52 * MINUTE);
    conversations.push({ id: newId(), startAt, intent: intent.name, customer: { name: `${first} ${last}`, email }, order, messages });
  }
  conversations.sort((a, b) => a.startAt - b.startAt);
  // Someone is always waiting when the hour starts.
  if (conversations[0]) conversations[0].startAt = hour.start + random.int(0, MINUTE);

  // Incidents start with a conversation's first message, so each one is sure to be hit.
  const before = conversations.filter((c) => c.startAt < hour.deployAt - 5 * MINUTE);
  const after = conversations.filter((c) => c.startAt >= hour.deployAt);
  const outageOn = pickFrom(random, before.filter((c) => LOOKUP_INTENTS.has(c.intent))) ?? pickFrom(random, conversations.filter((c) => LOOKUP_INTENTS.has(c.intent)));
  const limitedOn = pickFrom(random, after) ?? pickFrom(random, conversations);
  const hangOn = pickFrom(random, after.filter((c) => c !== limitedOn)) ?? pickFrom(random, conversations);
  return {
    hour,
    conversations,
    orderServiceOutage: outageOn ? { from: outageOn.startAt - 30_000, to: outageOn.startAt + 4 * MINUTE } : null,
    rateLimited: limitedOn ? { from: limitedOn.startAt - 5_000, to: limitedOn.startAt + 2 * MINUTE } : null,
    hangAt: hangOn ? hangOn.startAt : null,
  };
}

/** As Verdict's repeat rule compares messages: case, punctuation and spacing do not count. */
const normalise = (t: string) => t.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}]+/gu, ' ').replace(/\s+/g, ' ').trim();

const pickFrom = <T>(random: Random, items: T[]): T | null => (items.length === 0 ? null : random.pick(items));

/** What the demo sent and planted, for its summary (and for the test that checks Verdict stored it all). */
export interface Tally {
  runs: Run[];
  runsByConversation: Map<string, Run[]>;
  /** Verdicts sent, by source. */
  sent: { user: number; llm_judge: number; rule: number; indirect: number; reviewer: number };
  /** Messages that examples/rules.yaml's user_frustration rule flags. */
  frustrated: number;
  /** The verdict sources each trace got (sent or planted), to pick a run worth opening. */
  sources: Map<string, Set<string>>;
  /** Answers the judge graded, and how many it found not relevant, by release. */
  judged: Map<string, { graded: number; notRelevant: number }>;
}

export function newTally(): Tally {
  return { runs: [], runsByConversation: new Map(), sent: { user: 0, llm_judge: 0, rule: 0, indirect: 0, reviewer: 0 }, frustrated: 0, sources: new Map(), judged: new Map() };
}

export const mark = (tally: Tally, traceId: string, source: string) => tally.sources.set(traceId, (tally.sources.get(traceId) ?? new Set()).add(source));

export interface Cast {
  clock: SimClock;
  random: Random;
  hour: Hour;
  /** The agent release that serves requests at a time. */
  agentAt(time: number): SupportAgent;
  judge: RelevanceJudge;
  feedback: FeedbackClient;
}

/** One conversation, message by message, with the customer reacting to each answer. */
export async function playConversation(plan: ConversationPlan, cast: Cast, tally: Tally): Promise<void> {
  const { clock, random, hour, judge, feedback } = cast;
  clock.set(plan.startAt);
  const queue = [...plan.messages];
  const history: Message[] = [];
  const runs: Run[] = [];
  let angry = false;
  let unhappyRuns = 0;
  const reasked = new Set<string>();

  for (let turn = queue.shift(); turn; turn = queue.shift()) {
    if (clock.now() > hour.end - MINUTE) break; // the hour is over; the customer has left
    const run = await cast.agentAt(clock.now()).handle(plan.id, turn.text, history);
    runs.push(run);
    tally.runs.push(run);
    if (turn.kind === 'frustration') {
      tally.frustrated++;
      mark(tally, run.traceId, 'rule');
    }
    if (run.erroredGenAiSpans > 0 || run.piiFlagged) mark(tally, run.traceId, 'rule');
    if (run.piiFlagged) tally.sent.rule++;

    // The judge grades nine answers in ten, a few seconds to a minute later.
    const g = grade(run, random);
    if (g && random.chance(0.9)) {
      judge.report(run, g, Math.min(run.end + random.int(4_000, 60_000), hour.latest));
      tally.sent.llm_judge++;
      mark(tally, run.traceId, 'llm_judge');
      const j = tally.judged.get(run.version) ?? { graded: 0, notRelevant: 0 };
      tally.judged.set(run.version, { graded: j.graded + 1, notRelevant: j.notRelevant + (g.label === 'not_relevant' ? 1 : 0) });
      // A support lead spot-checks one grade in four, and sees it the judge's way four times in five.
      if (random.chance(0.25)) {
        const label = random.chance(0.8) ? g.label : random.pick(['relevant', 'partially_relevant', 'not_relevant'].filter((l) => l !== g.label));
        if (feedback.review(run, label as string, Math.min(run.end + random.int(60_000, 300_000), hour.latest))) {
          tally.sent.reviewer++;
          mark(tally, run.traceId, 'reviewer');
        }
      }
    }
    const unhappy = run.failed || g?.label === 'not_relevant';
    if (unhappy) unhappyRuns++;

    // Some customers click a thumb: unhappy ones more often.
    if (random.chance(unhappy ? 0.45 : 0.25)) {
      const up = unhappy ? random.chance(0.1) : random.chance(0.92);
      feedback.thumbs(run, up, Math.min(run.end + random.int(5_000, 90_000), hour.latest), random.chance(0.3) ? 'response' : 'trace');
      tally.sent.user++;
      mark(tally, run.traceId, 'user');
    }

    history.push({ role: 'user', parts: [{ type: 'text', content: turn.text }] }, { role: 'assistant', parts: [{ type: 'text', content: run.answer }] });

    // After an unhelpful answer: ask the same again (always after an outright failure), or lose patience.
    const key = normalise(turn.text);
    if (unhappy && turn.kind !== 'frustration' && !reasked.has(key) && (run.failed || random.chance(0.5))) {
      reasked.add(key);
      queue.unshift({ text: random.pick([turn.text, turn.text.toLowerCase(), turn.text.replace(/[.?!]*$/, '??')]), kind: 'reask' });
    } else if (unhappy && !angry && random.chance(0.4)) {
      angry = true;
      queue.unshift({ text: random.pick(FRUSTRATIONS), kind: 'frustration' });
    }
    await clock.sleep(random.int(15_000, 100_000)); // reading the answer, typing the next message
  }
  tally.runsByConversation.set(plan.id, runs);

  // The helpdesk sees some unhappy customers come back: an indirect verdict on the last run.
  const last = runs.at(-1);
  if (last && unhappyRuns > 0 && random.chance(0.4)) reopen(cast, tally, last);
}

function reopen(cast: Cast, tally: Tally, run: Run): void {
  cast.feedback.ticketReopened(run, Math.min(run.end + cast.random.int(3 * MINUTE, 20 * MINUTE), cast.hour.latest));
  tally.sent.indirect++;
  mark(tally, run.traceId, 'indirect');
}

/** At least one reopened ticket, so every kind of verdict shows up even in a small demo. */
export function ensureReopened(cast: Cast, tally: Tally): void {
  if (tally.sent.indirect > 0) return;
  const conversations = [...tally.runsByConversation.values()];
  const last = (conversations.find((rs) => rs.some((r) => r.failed)) ?? conversations[0])?.at(-1);
  if (last) reopen(cast, tally, last);
}

/**
 * Questions asked again later in the same conversation, counted as
 * Verdict's repeat rule counts them: each earlier run of a repeated question
 * gets one indirect verdict.
 */
export function countRepeats(tally: Tally): number {
  let repeats = 0;
  for (const runs of tally.runsByConversation.values()) {
    const seen = new Map<string, Run[]>();
    for (const r of runs) seen.set(normalise(r.question), [...(seen.get(normalise(r.question)) ?? []), r]);
    for (const same of seen.values()) {
      repeats += same.length - 1;
      for (const r of same.slice(0, -1)) mark(tally, r.traceId, 'indirect');
    }
  }
  return repeats;
}
