/**
 * GET /v1/export on the HTTP port: the eval export (`verdict export`) as a
 * stream of JSON lines (application/x-ndjson), with the same options as
 * query parameters (`?format=messages&polarity=negative&since=7d`). Behind
 * the ingest bearer tokens when they are configured (auth.ts). Lines are
 * written as the client reads them: a page of runs is read from the
 * database only when the previous one has been taken.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import { BadRequestError, MethodNotAllowedError } from '../errors.ts';
import { exportRuns } from '../loop/export.ts';
import { OPTION_NAMES, parseExportOptions } from '../loop/options.ts';
import type { Database } from '../store/schema.ts';
import type { Route } from './http.ts';

export interface ExportRouteOptions {
  /** The database; throws UnavailableError (503) while it is not open. */
  db: () => Kysely<Database>;
}

export function exportRoute(opts: ExportRouteOptions): Route {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method} is not allowed on /v1/export; supported: GET`, 'GET');
    const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const values: Record<string, string> = {};
    for (const [k, v] of params) {
      if (!(OPTION_NAMES as readonly string[]).includes(k)) throw new BadRequestError(`unknown parameter ${JSON.stringify(k)} of /v1/export; parameters: ${OPTION_NAMES.join(', ')}`);
      if (k in values) throw new BadRequestError(`parameter ${JSON.stringify(k)} of /v1/export is given twice`);
      values[k] = v;
    }
    const options = parseExportOptions(values, (m) => new BadRequestError(m), (n) => `parameter ${n}`);
    const lines = exportRuns(opts.db(), options);
    // The first page is read before answering, so a failing query still gets its status code.
    let next = await lines.next();
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' });
    let gone = false;
    res.once('close', () => {
      gone = true;
    });
    try {
      while (!next.done && !gone) {
        if (!res.write(next.value.line)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        next = await lines.next();
      }
    } finally {
      await lines.return(undefined);
    }
    res.end();
  };
}
