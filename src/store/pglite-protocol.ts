/**
 * Messages between the main thread and the embedded database's thread, and
 * how errors cross: structured clone keeps an Error's message but drops the
 * fields Verdict classifies by (SQLSTATE `code`, the error's class), so they
 * are carried explicitly and rebuilt on the other side.
 */
import { UnavailableError } from '../errors.ts';
import { DataError } from './db-errors.ts';

export type Call =
  | { id: number; op: 'migrate'; args: null }
  | { id: number; op: 'write'; args: unknown[] }
  | { id: number; op: 'ready'; args: null }
  | { id: number; op: 'query'; args: [sql: string, params: unknown[], options: Record<string, unknown>, txId: number | null] }
  | { id: number; op: 'begin'; args: null }
  | { id: number; op: 'end'; args: [txId: number, commit: boolean] }
  | { id: number; op: 'close'; args: null };

/** The answer to call `id`; id 0 is the thread's start-up report. */
export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface SerializedError {
  kind: 'DataError' | 'UnavailableError' | 'Error';
  message: string;
  /** SQLSTATE and the other fields PostgreSQL errors carry (detail, hint, …). */
  fields: Record<string, string | number>;
  retryAfterSeconds?: number;
}

export function serializeError(err: unknown): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err));
  const fields: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(e)) if (typeof v === 'string' || typeof v === 'number') fields[k] = v;
  if (e instanceof DataError) return { kind: 'DataError', message: e.message, fields };
  if (e instanceof UnavailableError) return { kind: 'UnavailableError', message: e.message, fields, retryAfterSeconds: e.retryAfterSeconds };
  return { kind: 'Error', message: e.message, fields };
}

export function deserializeError(s: SerializedError): Error {
  if (s.kind === 'DataError') return new DataError(s.message, String(s.fields.code ?? ''));
  if (s.kind === 'UnavailableError') return new UnavailableError(s.message, s.retryAfterSeconds);
  return Object.assign(new Error(s.message), s.fields);
}
