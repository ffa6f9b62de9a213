/**
 * Reviewer bearer tokens (the `review.reviewers` section of the config
 * file), separate from the ingest tokens: a reviewer token names its
 * reviewer and opens only /v1/review/*, and an ingest token opens nothing
 * there. Compared as digests in constant time, like auth.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { UnauthenticatedError } from '../errors.ts';
import type { Reviewer } from '../review/config.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export class ReviewerAuth {
  readonly #reviewers: () => readonly Reviewer[];

  /** Reads the reviewers on each call, so a reloaded config takes effect at once. */
  constructor(reviewers: () => readonly Reviewer[]) {
    this.#reviewers = reviewers;
  }

  /** The reviewer's name for the request's bearer token; throws UnauthenticatedError (401) otherwise. */
  reviewerOf(req: IncomingMessage): string {
    const header = req.headers.authorization;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) throw new UnauthenticatedError(header ? 'the Authorization header must be "Bearer <reviewer token>"' : 'missing reviewer token: send Authorization: Bearer <reviewer token> (review.reviewers in the config file)');
    const d = digest(m[1]!);
    let found: string | null = null;
    for (const r of this.#reviewers()) if (timingSafeEqual(digest(r.token), d)) found ??= r.name;
    if (found === null) throw new UnauthenticatedError('not a reviewer token (ingest tokens do not open the review API)');
    return found;
  }
}
