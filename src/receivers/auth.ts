/**
 * Bearer-token authentication for ingest and feedback: HTTP `Authorization:
 * Bearer <token>`, gRPC `authorization` metadata (as the Collector's
 * bearertokenauth extension expects them). Health, readiness and metrics stay
 * open; so do CORS preflights, which browsers send without credentials.
 * The review page and API have tokens of their own.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metadata } from '@grpc/grpc-js';
import { ConfigError } from '../errors.ts';
import { UnauthenticatedError } from '../errors.ts';
import type { Middleware } from './http.ts';

const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/review']);
/**
 * The review page and API answer to reviewer tokens (reviewers.ts), never to
 * ingest tokens: a reviewer cannot ingest, and an ingest token cannot review.
 */
const OWN_AUTH_PREFIXES = ['/review/', '/v1/review/'];

/** Tokens from the settings and from a file of one token per line (blank lines and # comments ignored). */
export function loadTokens(tokens: readonly string[], file: string | null): string[] {
  const all = [...tokens];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read --auth-token-file ${file}: ${(err as Error).message}`);
    }
    all.push(...text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
    if (all.length === tokens.length) throw new ConfigError(`--auth-token-file ${file} holds no token`);
  }
  return all;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export class Authenticator {
  // Compared as digests, in constant time, so neither length nor content leaks through timing.
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  #check(header: string | undefined): void {
    if (!this.enabled) return;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) throw new UnauthenticatedError(header ? 'the Authorization header must be "Bearer <token>"' : 'missing bearer token: send Authorization: Bearer <token>');
    const d = digest(m[1]!);
    let ok = false;
    for (const known of this.#digests) ok = timingSafeEqual(known, d) || ok;
    if (!ok) throw new UnauthenticatedError('invalid bearer token');
  }

  readonly grpc = (metadata: Metadata): void => {
    const v = metadata.get('authorization')[0];
    this.#check(typeof v === 'string' ? v : v?.toString());
  };

  readonly http: Middleware = (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (!this.enabled || OPEN_PATHS.has(path) || OWN_AUTH_PREFIXES.some((p) => path.startsWith(p)) || req.method === 'OPTIONS') return false;
    try {
      this.#check(req.headers.authorization);
    } catch (err) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw err;
    }
    return false;
  };
}
