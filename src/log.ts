/**
 * Structured JSON logs on stdout (pino). One line per event worth an
 * operator's attention; never one per span (Collector coding guidelines).
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel): Logger {
  // Synchronous writes: the few lines Verdict logs must all be out, in order, when a command exits.
  return pino({ level, base: { service: 'verdict' }, redact: ['headers.authorization', 'token'] }, pino.destination({ dest: 1, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
