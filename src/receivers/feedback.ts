/**
 * POST /v1/feedback on the HTTP port: reads a JSON body within the size
 * limit, validates it (feedback/parse.ts) and writes the verdicts through the
 * same group commit as OTLP data, answering after they are committed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError, MethodNotAllowedError, UnsupportedMediaTypeError } from '../errors.ts';
import { FEEDBACK_JSON_LIMITS, parseFeedback } from '../feedback/parse.ts';
import { checkJsonLimits } from '../otlp/json.ts';
import type { Ingest } from '../ingest.ts';
import { emptyBatch } from '../model/rows.ts';
import type { EvaluationPolicy } from '../normalize/evaluations.ts';
import { readBody } from './body.ts';
import type { ReceiveBudget } from './receiving.ts';
import { sendJson, type Route } from './http.ts';

export interface FeedbackOptions {
  ingest: Ingest;
  policy: EvaluationPolicy;
  maxBodyBytes: number;
  maxInflateRatio?: number;
  receiveBudget?: ReceiveBudget;
}

export function feedbackRoute(opts: FeedbackOptions): Route {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') throw new MethodNotAllowedError(`${req.method} is not allowed on /v1/feedback; supported: POST`, 'POST');
    const mediaType = String(req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
    if (mediaType !== 'application/json') throw new UnsupportedMediaTypeError(`unsupported media type ${JSON.stringify(mediaType)}; /v1/feedback takes application/json`);
    const body = await readBody(req, opts.maxBodyBytes, opts.maxInflateRatio, opts.receiveBudget, (prefix) => checkJsonLimits(prefix, FEEDBACK_JSON_LIMITS));
    checkJsonLimits(body, FEEDBACK_JSON_LIMITS);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
    }
    const rows = parseFeedback(parsed, opts.policy, Date.now());
    const batch = emptyBatch();
    batch.evaluations = rows;
    await opts.ingest.write(batch, body.length, 'http');
    if (res.headersSent) return; // answered 503 at the drain deadline
    sendJson(res, 200, { accepted: rows.length, ids: rows.map((r) => r.id) });
  };
}
