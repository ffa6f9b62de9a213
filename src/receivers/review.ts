/**
 * The review API under /v1/review/ (reviewer tokens, reviewers.ts) and the
 * review page at /review (static files, no build step):
 *
 *   GET  /v1/review/queues                       queues with their open items by reason and today's counts
 *   POST /v1/review/queues/{queue}/claim         the next item, leased to the reviewer, with its run ({item: null} when empty)
 *   GET  /v1/review/items/{id}                   an item with its run
 *   POST /v1/review/items/{id}/submit            verdicts and correction; again: the same answer, stored once
 *   POST /v1/review/items/{id}/skip | /release   finish without verdicts | give back to the queue
 *   GET  /v1/review/traces/{trace_id}            any run, with the queues it is in
 *   POST /v1/review/traces/{trace_id}/submit     an ad-hoc verdict on any run (?queue= picks the form)
 *
 * Verdicts go through the same group commit as every other verdict, and
 * the item is marked done once they are committed.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import { BadRequestError, ConflictError, MethodNotAllowedError, NotFoundError, UnsupportedMediaTypeError } from '../errors.ts';
import type { Ingest } from '../ingest.ts';
import { emptyBatch, type EvaluationRow } from '../model/rows.ts';
import type { QueueConfig, ReviewConfig } from '../review/config.ts';
import { claimNext, finishItem, getItem, itemsOfTrace, queueCounts, releaseItem, type Item } from '../review/items.ts';
import { parseSubmission } from '../review/submission.ts';
import { loadTrajectory } from '../review/trajectory.ts';
import type { Database } from '../store/schema.ts';
import { readBody } from './body.ts';
import { sendJson, type Route } from './http.ts';
import type { ReviewerAuth } from './reviewers.ts';

export interface ReviewRouteOptions {
  db: () => Kysely<Database>;
  config: () => ReviewConfig;
  auth: ReviewerAuth;
  ingest: Ingest;
  maxBodyBytes: number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;

export function reviewApiRoute(opts: ReviewRouteOptions): Route {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    let parts: string[];
    try {
      parts = path.slice('/v1/review/'.length).split('/').map(decodeURIComponent);
    } catch {
      throw new BadRequestError(`the path ${path} is not valid percent-encoding`);
    }
    const reviewer = opts.auth.reviewerOf(req);
    const method = req.method ?? 'GET';
    const want = (m: string) => {
      if (method !== m) throw new MethodNotAllowedError(`${method} is not allowed on ${path}; supported: ${m}`, m);
    };
    const [kind, key, action, extra] = parts;
    if (extra !== undefined) throw new NotFoundError(`no review route ${path}`);

    if (kind === 'queues' && key === undefined) {
      want('GET');
      return sendJson(res, 200, { reviewer, queues: await listQueues(opts) });
    }
    if (kind === 'queues' && key !== undefined && action === 'claim') {
      want('POST');
      const q = queueNamed(opts.config(), key);
      const item = await claimNext(opts.db(), q, reviewer);
      return sendJson(res, 200, item ? await itemView(opts, item, q) : { item: null });
    }
    if (kind === 'items' && key !== undefined) {
      const item = await getItem(opts.db(), key);
      if (!item) throw new NotFoundError(`no review item ${JSON.stringify(key)}`);
      const q = queueNamed(opts.config(), item.queue);
      if (action === undefined) {
        want('GET');
        return sendJson(res, 200, await itemView(opts, item, q));
      }
      want('POST');
      if (action === 'submit') return submitItem(opts, req, res, item, q, reviewer);
      if (action === 'skip') {
        if (item.state === 'skipped' && item.reviewer === reviewer) return sendJson(res, 200, { state: 'skipped' });
        holdsLease(item, reviewer);
        if (!(await finishItem(opts.db(), item.id, reviewer, 'skipped', null))) throw lostLease(item);
        return sendJson(res, 200, { state: 'skipped' });
      }
      if (action === 'release') {
        if (!(await releaseItem(opts.db(), item.id, reviewer))) throw new ConflictError(`review item ${item.id} is not claimed by ${reviewer}`);
        return sendJson(res, 200, { state: 'pending' });
      }
    }
    if (kind === 'traces' && key !== undefined) {
      const traceId = key.toLowerCase();
      if (!TRACE_ID.test(traceId)) throw new BadRequestError(`trace ID ${JSON.stringify(key)} must be 32 hex characters`);
      if (action === undefined) {
        want('GET');
        const trajectory = await loadTrajectory(opts.db(), traceId);
        if (!trajectory) throw new NotFoundError(`no run with trace ID ${traceId} is stored`);
        const items = await itemsOfTrace(opts.db(), traceId);
        return sendJson(res, 200, { item: null, items: items.map(publicItem), forms: forms(opts.config()), trajectory });
      }
      if (action === 'submit') {
        want('POST');
        const cfg = opts.config();
        const queueName = new URL(req.url ?? '/', 'http://localhost').searchParams.get('queue');
        const q = queueName ? queueNamed(cfg, queueName) : cfg.queues[0];
        if (!q) throw new NotFoundError('no review queue is configured, so there is no verdict form (review.queues in the config file)');
        const rows = parseSubmission(await readJson(req, opts.maxBodyBytes), { traceId, reviewer, form: q.form, item: null, nowMs: Date.now() });
        await write(opts, rows);
        return sendJson(res, 200, { verdict_ids: rows.map((r) => r.id) });
      }
    }
    throw new NotFoundError(`no review route ${path}`);
  };
}

function queueNamed(cfg: ReviewConfig, name: string): QueueConfig {
  const q = cfg.queues.find((x) => x.name === name);
  if (!q) throw new NotFoundError(`no review queue ${JSON.stringify(name)}; queues: ${cfg.queues.map((x) => x.name).join(', ') || '(none configured)'}`);
  return q;
}

async function listQueues(opts: ReviewRouteOptions) {
  const queues = opts.config().queues;
  const counts = await queueCounts(opts.db(), queues.map((q) => q.name));
  return queues.map((q) => ({ name: q.name, description: q.description, daily_cap: q.dailyCap, lease_seconds: q.leaseMs / 1000, form: q.form, ...counts.get(q.name)! }));
}

const forms = (cfg: ReviewConfig) => cfg.queues.map((q) => ({ queue: q.name, form: q.form }));

const publicItem = (i: Item) => ({
  id: i.id, queue: i.queue, trace_id: i.trace_id, reason: i.reason, detail: i.detail, state: i.state === 'claimed' && !i.leased ? 'pending' : i.state,
  reviewer: i.reviewer, lease_until: i.lease_until, created_at: i.created_at, finished_at: i.finished_at, verdict_ids: i.verdict_ids,
});

async function itemView(opts: ReviewRouteOptions, item: Item, q: QueueConfig) {
  // A run whose spans were pruned after it was queued still shows the item, without its trajectory.
  return { item: publicItem(item), form: q.form, trajectory: await loadTrajectory(opts.db(), item.trace_id) };
}

function holdsLease(item: Item, reviewer: string): void {
  if (item.state === 'claimed' && item.reviewer === reviewer && item.leased) return;
  throw lostLease(item, reviewer);
}

function lostLease(item: Item, reviewer?: string): ConflictError {
  if (item.state === 'done' || item.state === 'skipped') return new ConflictError(`review item ${item.id} is already ${item.state === 'done' ? 'reviewed' : 'skipped'}${item.reviewer ? ` by ${item.reviewer}` : ''}`);
  if (item.state === 'claimed' && item.leased && item.reviewer !== reviewer) return new ConflictError(`review item ${item.id} is claimed by another reviewer`);
  return new ConflictError(`the lease on review item ${item.id} expired and it went back to the queue; claim it again`);
}

async function submitItem(opts: ReviewRouteOptions, req: IncomingMessage, res: ServerResponse, item: Item, q: QueueConfig, reviewer: string): Promise<void> {
  const body = await readJson(req, opts.maxBodyBytes);
  // Submitting again (a retry after a lost answer) answers as the first time did.
  if (item.state === 'done' && item.reviewer === reviewer) return sendJson(res, 200, { state: 'done', verdict_ids: item.verdict_ids });
  holdsLease(item, reviewer);
  const rows = parseSubmission(body, { traceId: item.trace_id, reviewer, form: q.form, item: { id: item.id, queue: q.name, reason: item.reason }, nowMs: Date.now() });
  await write(opts, rows);
  const ids = rows.map((r) => r.id);
  if (!(await finishItem(opts.db(), item.id, reviewer, 'done', ids))) {
    // The lease ran out while the verdicts were written, and the item was claimed again or finished:
    // the verdicts stand (they are the reviewer's), and the answer says the item moved on.
    const now = await getItem(opts.db(), item.id);
    if (!(now?.state === 'done' && now.reviewer === reviewer)) throw new ConflictError(`your verdicts on review item ${item.id} were stored, but its lease expired meanwhile and it went back to the queue`);
  }
  sendJson(res, 200, { state: 'done', verdict_ids: ids });
}

async function write(opts: ReviewRouteOptions, rows: EvaluationRow[]): Promise<void> {
  const batch = emptyBatch();
  batch.evaluations = rows;
  await opts.ingest.write(batch, 1024, 'http');
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const mediaType = String(req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') throw new UnsupportedMediaTypeError(`unsupported media type ${JSON.stringify(mediaType)}; the review API takes application/json`);
  const body = await readBody(req, max);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

const PAGE_DIR = new URL('./review-page/', import.meta.url);
const FILES: Record<string, { file: string; type: string }> = {
  'review.js': { file: 'review.js', type: 'text/javascript; charset=utf-8' },
  'review.css': { file: 'review.css', type: 'text/css; charset=utf-8' },
};

/** The page's files, read once; every other path under /review is the page itself (it routes in the browser). */
export function reviewPageRoute(): Route {
  const cache = new Map<string, Buffer>();
  const read = (file: string) => {
    let b = cache.get(file);
    if (!b) cache.set(file, (b = readFileSync(new URL(file, PAGE_DIR))));
    return b;
  };
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowedError(`${req.method} is not allowed on the review page; supported: GET`, 'GET, HEAD');
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const asset = FILES[path.slice('/review/'.length)];
    const body = read(asset ? asset.file : 'index.html');
    res.writeHead(200, {
      'Content-Type': asset ? asset.type : 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-cache',
      // The page loads only its own files and talks only to this origin.
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
