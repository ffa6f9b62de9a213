/**
 * Logs on stdout (pino): JSON lines for machines, or text lines for a person
 * at a terminal. One line per event worth an operator's attention; never one
 * per span (Collector coding guidelines).
 *
 * An event may carry `text`, lines a person reads in place of the message and
 * fields (the start-up banner); JSON lines leave it out.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'text' | 'json' | 'auto';

export function createLogger(level: LogLevel, format: 'text' | 'json' = 'json', fd = 1): Logger {
  const options = { level, base: { service: 'verdict' }, redact: ['headers.authorization', 'token'] };
  // Synchronous writes: the few lines Verdict logs must all be out, in order, when a command exits.
  const out = pino.destination({ dest: fd, sync: true });
  if (format === 'text') return pino(options, { write: (line: string) => void out.write(asText(JSON.parse(line) as Record<string, unknown>)) });
  return pino({ ...options, formatters: { log: ({ text: _, ...fields }) => fields } }, out);
}

export const silentLogger: Logger = pino({ level: 'silent' });

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every event has. */
const UNSHOWN = new Set(['level', 'time', 'service', 'msg', 'text']);

/** `14:03:07 INFO  message key=value …`: local time, and the fields a person can read on one line (objects are for JSON). */
export function asText(e: Record<string, unknown>): string {
  const t = new Date(e.time as number);
  const head = `${[t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')} ${(LEVELS[e.level as number] ?? '?').padEnd(5)} `;
  if (Array.isArray(e.text)) return `${head}${e.text.join(`\n${' '.repeat(head.length)}`)}\n`;
  const fields: string[] = [];
  for (const [key, value] of Object.entries(e)) {
    if (UNSHOWN.has(key) || value === null || value === undefined) continue;
    const scalar = Array.isArray(value) && value.every((v) => typeof v !== 'object') ? value.join(',') : value;
    if (typeof scalar === 'object') continue;
    const s = String(scalar);
    fields.push(`${key}=${/^[^\s"=]+$/.test(s) ? s : JSON.stringify(s)}`);
  }
  return `${head}${String(e.msg ?? '')}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}\n`;
}
