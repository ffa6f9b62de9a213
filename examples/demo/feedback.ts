/**
 * Verdicts from systems that run no OpenTelemetry SDK, sent to Verdict's
 * `POST /v1/feedback` (docs/feedback.md):
 *
 * - the customer's thumbs up or down from the chat widget (source `user`):
 *   the web page knows the trace ID of the run it showed, so it names the
 *   run; the mobile app only kept the completion's `gen_ai.response.id`, so
 *   it names the completion, and Verdict finds the span with that ID;
 * - "ticket reopened" from the helpdesk (source `indirect`): nobody rated
 *   the answer, but the customer came back, which says it did not help;
 * - a support lead's spot checks of the judge (source `reviewer`): the same
 *   `Relevance` grade on the same answer, so Verdict can tell how far the
 *   judge agrees with people (docs/closing-the-loop.md).
 *
 * Each verdict has its own `id`, so a retried request stores nothing twice.
 */
import { randomUUID } from 'node:crypto';
import type { Run } from './agent.ts';

export interface FeedbackVerdict {
  id: string;
  trace_id?: string;
  span_id?: string;
  response_id?: string;
  name: string;
  score_value?: number;
  score_label: string;
  explanation?: string;
  source: 'user' | 'indirect' | 'reviewer';
  /** RFC 3339; when the verdict was made (by default Verdict uses the arrival time). */
  time: string;
}

const BATCH = 500; // the API takes up to 1000 verdicts per request

/** Verdict did not take the feedback: a message for the user, not a bug. */
export class DeliveryError extends Error {}

export class FeedbackClient {
  readonly pending: FeedbackVerdict[] = [];
  readonly #url: string;
  readonly #headers: Record<string, string>;

  constructor(endpoint: string, token?: string) {
    this.#url = `${endpoint}/v1/feedback`;
    this.#headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  }

  thumbs(run: Run, up: boolean, at: number, via: 'trace' | 'response'): FeedbackVerdict {
    const target = via === 'response' && run.answered ? { response_id: run.answered.responseId } : { trace_id: run.traceId };
    return this.#add({
      ...target,
      name: 'user_rating',
      score_value: up ? 1 : 0,
      score_label: up ? 'thumbs_up' : 'thumbs_down',
      ...(up ? {} : { explanation: 'The customer clicked "Not helpful".' }),
      source: 'user',
      time: new Date(at).toISOString(),
    });
  }

  /** A reviewer's own Relevance grade of the answer the judge graded. */
  review(run: Run, label: string, at: number): FeedbackVerdict | null {
    if (!run.answered) return null;
    const span = run.answered.spanContext;
    return this.#add({
      trace_id: span.traceId,
      span_id: span.spanId,
      name: 'Relevance',
      score_label: label,
      source: 'reviewer',
      time: new Date(at).toISOString(),
    });
  }

  ticketReopened(run: Run, at: number): FeedbackVerdict {
    const minutes = Math.max(1, Math.round((at - run.end) / 60_000));
    return this.#add({
      trace_id: run.traceId,
      name: 'ticket_reopened',
      score_label: 'reopened',
      explanation: `The customer reopened the ticket ${minutes} minutes after the chat ended.`,
      source: 'indirect',
      time: new Date(at).toISOString(),
    });
  }

  /** Sends everything pending; returns how many verdicts Verdict accepted. */
  async send(): Promise<number> {
    let accepted = 0;
    for (let i = 0; i < this.pending.length; i += BATCH) {
      let res: Response;
      try {
        res = await fetch(this.#url, { method: 'POST', headers: this.#headers, body: JSON.stringify(this.pending.slice(i, i + BATCH)) });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new DeliveryError(`Cannot send feedback to ${this.#url} (${cause}).`);
      }
      const text = await res.text();
      if (!res.ok) throw new DeliveryError(`POST ${this.#url} answered ${res.status}: ${text.slice(0, 300)}`);
      accepted += (JSON.parse(text) as { accepted: number }).accepted;
    }
    return accepted;
  }

  #add(v: Omit<FeedbackVerdict, 'id'>): FeedbackVerdict {
    const verdict = { id: randomUUID(), ...v };
    this.pending.push(verdict);
    return verdict;
  }
}
