/**
 * The filters and format of an eval export, read from the same names on the
 * command line (`verdict export --polarity negative`) and in the query string
 * (`GET /v1/export?polarity=negative`). The caller says which error a bad
 * value becomes: a ConfigError on the command line, a 400 over HTTP.
 */
import { FEEDBACK_SOURCES } from '../normalize/genai.ts';

export const FORMATS = ['verdict', 'messages', 'dataset'] as const;
export type ExportFormat = (typeof FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  /** Runs with a verdict of this evaluation name (and label, polarity, source: all on the same verdict). */
  name?: string;
  label?: string;
  polarity?: 'positive' | 'negative' | 'neutral';
  source?: string;
  /** The run's service and model (verdict.traces). */
  service?: string;
  model?: string;
  /** Runs started in [since, until). */
  since?: Date;
  until?: Date;
  /** Only runs with a reviewer's correction (true), or only those without (false). */
  correction?: boolean;
  /** Resume after this cursor (printed with every run). */
  after?: Cursor;
  /** At most this many runs. */
  limit?: number;
}

/** A run's place in the export order: its start in Unix nanoseconds, then its trace ID. */
export interface Cursor {
  startNs: string;
  traceId: string;
}

export const formatCursor = (c: Cursor): string => `${c.startNs}-${c.traceId}`;

/** The option names, as flags (with --) and query parameters. */
export const OPTION_NAMES = ['format', 'name', 'label', 'polarity', 'source', 'service', 'model', 'since', 'until', 'correction', 'after', 'limit'] as const;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Validates the options; `fail` builds the error for a bad value, `where`
 * names an option as the caller's user wrote it (`--since` or `since`).
 */
export function parseExportOptions(
  values: Readonly<Record<string, string | boolean | undefined>>,
  fail: (message: string) => Error,
  where: (name: string) => string,
  now = Date.now(),
): ExportOptions {
  const str = (k: string): string | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw fail(`${where(k)} needs a value`);
    return v.trim();
  };
  const format = (str('format') ?? 'verdict') as ExportFormat;
  if (!FORMATS.includes(format)) throw fail(`invalid ${where('format')}: ${JSON.stringify(format)}; formats: ${FORMATS.join(', ')}`);
  const out: ExportOptions = { format };
  for (const k of ['name', 'label', 'service', 'model'] as const) {
    const v = str(k);
    if (v !== undefined) out[k] = v;
  }
  const polarity = str('polarity');
  if (polarity !== undefined) {
    if (polarity !== 'positive' && polarity !== 'negative' && polarity !== 'neutral') throw fail(`invalid ${where('polarity')}: ${JSON.stringify(polarity)}; one of positive, negative, neutral`);
    out.polarity = polarity;
  }
  const source = str('source');
  if (source !== undefined) {
    if (!(FEEDBACK_SOURCES as readonly string[]).includes(source)) throw fail(`invalid ${where('source')}: ${JSON.stringify(source)}; one of ${FEEDBACK_SOURCES.join(', ')}`);
    out.source = source;
  }
  const time = (k: 'since' | 'until'): void => {
    const v = str(k);
    if (v === undefined) return;
    const age = /^(\d+)(m|h|d|w)$/.exec(v);
    const ms = age ? now - Number(age[1]) * (UNITS[age[2] as string] as number) : /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms) || ms < 0) throw fail(`invalid ${where(k)}: ${JSON.stringify(v)} is not a time (2026-03-02, 2026-03-02T08:00:00Z) or an age (90m, 12h, 7d, 2w)`);
    out[k] = new Date(ms);
  };
  time('since');
  time('until');
  const correction = values.correction;
  if (correction !== undefined) {
    // A flag on the command line; with=/without= in a query string.
    if (correction === true || correction === 'with' || correction === 'true') out.correction = true;
    else if (correction === false || correction === 'without' || correction === 'false') out.correction = false;
    else throw fail(`invalid ${where('correction')}: ${JSON.stringify(correction)}; with or without`);
  }
  const after = str('after');
  if (after !== undefined) {
    const m = /^(\d{1,20})-([0-9a-f]{1,64})$/.exec(after);
    if (!m || BigInt(m[1] as string) > 2n ** 63n - 1n) throw fail(`invalid ${where('after')}: ${JSON.stringify(after)} is not a cursor of this export (they look like 1772438400000000000-5b8efff798038103d269b633813fc60c)`);
    out.after = { startNs: m[1] as string, traceId: m[2] as string };
  }
  const limit = str('limit');
  if (limit !== undefined) {
    const n = /^\d+$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && Number.isSafeInteger(n))) throw fail(`invalid ${where('limit')}: ${JSON.stringify(limit)} is not a positive integer`);
    out.limit = n;
  }
  return out;
}
