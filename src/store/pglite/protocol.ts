/**
 * Messages between the main thread and the embedded database's thread, and
 * how errors cross: structured clone keeps an Error's message but drops the
 * fields Verdict classifies by (SQLSTATE `code`, the error's class, a
 * start-up ConfigError), so they are carried explicitly and rebuilt on the
 * other side.
 */
import { ConfigError, DataError, UnavailableError } from '../../errors.ts';
import type { Batch } from '../../model/rows.ts';

/** The calls the main thread makes, with their arguments: the Store's own, and Kysely's statements and transactions. */
export interface Calls {
  migrate: null;
  write: Batch[];
  ready: null;
  query: [sql: string, params: unknown[], txId: number | null];
  begin: null;
  end: [txId: number, commit: boolean];
  close: null;
}

export type Op = keyof Calls;
export type Call = { [K in Op]: { id: number; op: K; args: Calls[K] } }[Op];

/** The answer to call `id`; id 0 is the thread's start-up report. */
export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface SerializedError {
  kind: 'DataError' | 'UnavailableError' | 'ConfigError' | 'Error';
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
  if (e instanceof ConfigError) return { kind: 'ConfigError', message: e.message, fields };
  return { kind: 'Error', message: e.message, fields };
}

export function deserializeError(s: SerializedError): Error {
  if (s.kind === 'DataError') return new DataError(s.message, String(s.fields.code ?? ''));
  if (s.kind === 'UnavailableError') return new UnavailableError(s.message, s.retryAfterSeconds);
  if (s.kind === 'ConfigError') return new ConfigError(s.message);
  return Object.assign(new Error(s.message), s.fields);
}
