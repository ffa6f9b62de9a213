/**
 * Which targets an evaluator judges. The rate is decided from the trace ID
 * (a conversation's ID for thread judges), not by chance: every receiver and
 * worker, and a backfill next week, makes the same choice for the same run.
 * Hashing the evaluator's name in as well keeps two evaluators at 10 % from
 * judging the same tenth of the traffic.
 */
import { createHash } from 'node:crypto';
import type { Filter } from './config.ts';

/** A number in [0, 1) that depends only on the evaluator's name and the key (a trace ID or conversation ID). */
export function samplePoint(evaluator: string, key: string): number {
  const bytes = /^[0-9a-f]{32}$/.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'utf8');
  const h = createHash('sha256').update(evaluator).update('\0').update(bytes).digest();
  // 48 bits: exact in a double.
  return h.readUIntBE(0, 6) / 2 ** 48;
}

export function inSample(evaluator: string, key: string, rate: number): boolean {
  return rate >= 1 || samplePoint(evaluator, key) < rate;
}

/** What a filter is checked against: the judged span's facts (the root's for a run), and the verdicts on the target. */
export interface TargetView {
  service: string | null;
  agent: string | null;
  model: string | null;
  operation: string | null;
  hasError: boolean;
  attributes: Record<string, unknown>;
  verdicts: ReadonlyArray<{ name: string; source: string | null; polarity: string | null }>;
}

export function matches(f: Filter, t: TargetView): boolean {
  const text = (re: RegExp | undefined, v: string | null) => re === undefined || (v !== null && re.test(v));
  if (!text(f.service, t.service) || !text(f.agent, t.agent) || !text(f.model, t.model) || !text(f.operation, t.operation)) return false;
  if (f.hasError !== undefined && f.hasError !== t.hasError) return false;
  for (const [k, v] of f.attributes ?? []) if (t.attributes[k] !== v) return false;
  const hv = f.hasVerdict;
  if (hv && !t.verdicts.some((x) => (hv.name === undefined || x.name === hv.name) && (hv.source === undefined || x.source === hv.source) && (hv.polarity === undefined || x.polarity === hv.polarity))) return false;
  return true;
}
