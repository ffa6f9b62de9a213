/**
 * Classifies database errors by SQLSTATE class (PostgreSQL Appendix A), never
 * by message text: is it the data's fault, or the database's (retry later)?
 */
import { DataError, UnavailableError } from '../errors.ts';

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export const isUniqueViolation = (err: unknown): boolean => sqlState(err) === '23505';

/**
 * Retry-After, in seconds, while the database cannot take rows. Exporters
 * spend a fixed retry budget per export: the OpenTelemetry JS exporters make
 * at most 5 retries within their 10 s timeout, waiting what Retry-After says.
 * At 1 s they give up after ~5 s, shorter than a database restart on a busy
 * machine; at 2 s their retries span ~8 s of the outage.
 */
export const DATABASE_RETRY_AFTER_S = 2;

/** SQLSTATE classes (PostgreSQL Appendix A), in words a client can act on. */
const CLASSES: Record<string, string> = {
  '22': 'a value the database cannot store (data exception)',
  '23': 'a value that breaks a constraint',
  '54': 'a value too large for the database (e.g. for an index)',
};

/**
 * 22 (data exception), 23 (integrity constraint; unique violations are
 * handled before this) and 54 (program limit exceeded, e.g. an index row too
 * large) are the data's fault. Everything else (connection failures, 08,
 * shutdown 57P0x, timeouts 57014 and 55P03, out of resources 53, a missing
 * table while an operator repairs the schema) is the database's, and the
 * exporter should retry.
 *
 * The client is told the class and, when the database names it, the column;
 * never the database's own text (it names indexes, tables and values of other
 * requests in the same transaction): that goes to the server's log as `detail`.
 */
export function classify(err: unknown): DataError | UnavailableError {
  if (err instanceof DataError || err instanceof UnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A value the COPY encoder cannot represent is the data's fault too; retrying would loop.
  if (err instanceof RangeError && (err as NodeJS.ErrnoException).code === 'ERR_OUT_OF_RANGE') return new DataError('a value is out of range for its column', '22003', message);
  const code = sqlState(err);
  const column = (err as { column?: unknown } | null)?.column;
  if (code && (code.startsWith('22') || code.startsWith('23') || code.startsWith('54'))) {
    const where = typeof column === 'string' && /^[a-z_]+$/.test(column) ? ` in ${column}` : '';
    return new DataError(`the database refused ${CLASSES[code.slice(0, 2)]}${where} (SQLSTATE ${code}); nothing of this request was stored`, code, message);
  }
  return new UnavailableError(`the database cannot take the rows now${code ? ` (SQLSTATE ${code})` : ''}; retry later`, DATABASE_RETRY_AFTER_S, { cause: err, detail: message });
}
