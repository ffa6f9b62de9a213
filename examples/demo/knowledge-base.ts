/**
 * The help-center search: a second service (`kb-search`) that the agent calls
 * over "HTTP" for retrieval. It is here to show context propagation across
 * services: the agent injects its context into the request headers (W3C
 * `traceparent`), the service extracts it, and its SERVER span becomes a
 * child of the agent's retrieval span, in the same trace, under another
 * `service.name`.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import type { SimClock } from './clock.ts';
import type { Random } from './random.ts';

export interface Article {
  id: string;
  title: string;
  content: string;
}

export interface Hit extends Article {
  score: number;
}

export const ARTICLES: readonly Article[] = [
  { id: 'kb-returns', title: 'Returns', content: 'You can return unworn items within 30 days of delivery for a full refund. Sale items can be returned within 14 days. Return shipping is free with the prepaid label from your account page, and you can also return items at any Northwind store.' },
  { id: 'kb-refunds', title: 'Refunds', content: 'Once we receive your return, the refund goes back to the original payment method within 5-7 business days. Items that arrived damaged are refunded without sending them back.' },
  { id: 'kb-cancellations', title: 'Cancelling an order', content: 'Orders can be cancelled free of charge until they ship; there is no cancellation fee. A shipped order cannot be cancelled: return it within 30 days instead for a full refund.' },
  { id: 'kb-warranty', title: 'Warranty', content: 'Tents, backpacks and sleeping bags have a 2-year warranty against manufacturing defects. To make a warranty claim, send photos of the defect and your order number through the warranty form; we reply within 3 business days.' },
  { id: 'kb-shipping', title: 'Shipping and delivery', content: 'Standard delivery takes 3-5 business days after dispatch and express delivery 1-2 business days. Tracking numbers are emailed when the order ships.' },
  { id: 'kb-footwear', title: 'Footwear returns', content: 'Shoes and boots can be returned within 30 days if they were only worn indoors. Sale footwear follows the 14-day sale rule.' },
  { id: 'kb-account', title: 'Signing in', content: 'Password-reset emails can take up to 10 minutes to arrive and are sometimes filtered as spam. Reset links expire after 24 hours.' },
];

const STOP = new Set(['the', 'a', 'an', 'i', 'my', 'do', 'does', 'is', 'it', 'to', 'of', 'for', 'and', 'can', 'you', 'have', 'how', 'what', 'that', 'in', 'on', 'me', 'your', 'was', 'be', 'with', 'this', 'are', 'hi']);
const words = (text: string) => text.toLowerCase().match(/[a-z]+/g)?.filter((w) => !STOP.has(w)).map((w) => w.replace(/s$/, '')) ?? [];

/** The kb-search service: one request handler, instrumented as an HTTP server would be. */
export class KnowledgeBaseService {
  static readonly ADDRESS = 'kb-search.internal';
  readonly #tracer: Tracer;
  readonly #clock: SimClock;
  readonly #random: Random;

  constructor(tracer: Tracer, clock: SimClock, random: Random) {
    this.#tracer = tracer;
    this.#clock = clock;
    this.#random = random;
  }

  /** POST /search: `headers` are the request's, with the caller's trace context in them. */
  async search(headers: Record<string, string>, body: { query: string; top_k: number }): Promise<Hit[]> {
    // What an HTTP server instrumentation does: continue the caller's trace.
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    await this.#clock.sleep(this.#random.int(3, 8)); // the network hop
    return this.#tracer.startActiveSpan(
      'POST /search',
      {
        kind: SpanKind.SERVER,
        startTime: this.#clock.now(),
        attributes: { 'http.request.method': 'POST', 'http.route': '/search', 'url.path': '/search', 'server.address': KnowledgeBaseService.ADDRESS, 'server.port': 8080 },
      },
      parent,
      async (span) => {
        const query = new Set(words(body.query));
        const hits = ARTICLES.map((a) => {
          const terms = words(`${a.title} ${a.content}`);
          const overlap = terms.filter((t) => query.has(t)).length;
          return { ...a, score: Math.round((overlap / Math.sqrt(terms.length)) * 1000) / 1000 };
        })
          .filter((h) => h.score > 0)
          .sort((x, y) => y.score - x.score)
          .slice(0, body.top_k);
        await this.#clock.sleep(this.#random.int(25, 90));
        span.setAttribute('http.response.status_code', 200);
        span.end(this.#clock.now());
        return hits;
      },
    );
  }
}

/** The agent's side: a client that sends its trace context with the request. */
export async function searchHelpCenter(service: KnowledgeBaseService, query: string, topK: number): Promise<Hit[]> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  propagation.inject(context.active(), headers); // adds traceparent
  return service.search(headers, { query, top_k: topK });
}
