/**
 * CORS for browser clients of /v1/traces, /v1/logs and /v1/feedback (Fetch
 * standard, "CORS protocol"). Browsers preflight every export, since neither
 * OTLP content type is CORS-safelisted. Allowed origins are echoed with
 * credentials allowed; `*` allows any origin but then without credentials
 * (a wildcard with credentials is forbidden by the standard).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ForbiddenError } from '../errors.ts';
import type { Middleware } from './http.ts';

const PATHS = new Set(['/v1/traces', '/v1/logs', '/v1/feedback']);
const ALLOW_HEADERS = 'content-type, content-encoding, authorization, x-api-key, traceparent, tracestate, baggage';

export function corsMiddleware(origins: readonly string[]): Middleware {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (req: IncomingMessage, res: ServerResponse, path: string) => {
    const origin = req.headers.origin;
    if (!origin || !PATHS.has(path)) return false;
    const ok = any || allowed.has(origin);
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (ok) {
      res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
      if (!any) res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
    }
    if (!preflight) return false;
    if (!ok) {
      res.setHeader('Vary', 'Origin');
      throw new ForbiddenError(`origin ${origin} is not allowed; add it to --cors-origins`);
    }
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'POST, OPTIONS',
      'Access-Control-Allow-Headers': ALLOW_HEADERS,
      'Access-Control-Max-Age': '7200',
    });
    res.end();
    return true;
  };
}
