/**
 * Why a run belongs in a queue: one of the queue's `always_when` reasons,
 * checked in order of how much a human verdict is worth there, else the
 * sample. Both are decided from the run's verdicts and its trace ID alone,
 * so every receiver, and every re-check as more of the run arrives, reaches
 * the same decision.
 */
import { createHash } from 'node:crypto';
import type { QueueConfig, Reason } from './config.ts';

export interface RunVerdict {
  name: string;
  source: string | null;
  polarity: string | null;
  score: number | null;
  label: string | null;
}

/**
 * A number in [0, 1) from the trace ID and a salt, the same wherever it is
 * computed. Trace IDs are random (W3C Trace Context, "trace-id"), but some
 * emitters make them from counters or timestamps, so the ID is hashed rather
 * than read directly; the salt (the queue, and the purpose) keeps queues from
 * all sampling the same runs.
 */
export function traceFraction(traceId: string, salt: string): number {
  const h = createHash('sha256').update(`${salt}\0${traceId}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

export const sampled = (q: QueueConfig, traceId: string): boolean => q.sample > 0 && traceFraction(traceId, `sample:${q.name}`) < q.sample;
export const calibrated = (q: QueueConfig, traceId: string): boolean => q.alwaysWhen.calibration > 0 && traceFraction(traceId, `calibration:${q.name}`) < q.alwaysWhen.calibration;

const HUMAN = new Set(['user', 'reviewer']);
const opposite = (a: string | null, b: string | null): boolean => (a === 'positive' && b === 'negative') || (a === 'negative' && b === 'positive');

const describe = (v: RunVerdict): string =>
  `${v.source ?? 'unknown source'} verdict ${v.name}${v.label !== null ? ` = ${v.label}` : ''}${v.score !== null ? ` (score ${v.score})` : ''}`;

/** The reason the queue takes this run, with the verdict behind it in words; null when it does not. */
export function reasonFor(q: QueueConfig, traceId: string, verdicts: readonly RunVerdict[]): { reason: Reason; detail: string } | null {
  const a = q.alwaysWhen;
  if (a.negativeUserVerdict) {
    const v = verdicts.find((e) => e.source === 'user' && e.polarity === 'negative');
    if (v) return { reason: 'negative_user_verdict', detail: describe(v) };
  }
  if (a.ruleHit !== null) {
    const names = a.ruleHit;
    // A rule's verdict is a hit unless the rule said the run is fine.
    const v = verdicts.find((e) => e.source === 'rule' && e.polarity !== 'positive' && (names.length === 0 || names.includes(e.name)));
    if (v) return { reason: 'rule_hit', detail: describe(v) };
  }
  const judges = verdicts.filter((e) => e.source === 'llm_judge');
  if (a.judgeDisagreement) {
    for (const j of judges) {
      const other = verdicts.find((e) => e !== j && (HUMAN.has(e.source ?? '') || e.source === 'llm_judge') && opposite(j.polarity, e.polarity));
      if (other) return { reason: 'judge_disagreement', detail: `${describe(j)} disagrees with ${describe(other)}` };
    }
  }
  const near = a.judgeNearThreshold;
  if (near) {
    const v = judges.find((e) => e.score !== null && Math.abs(e.score - near.threshold) <= near.margin);
    if (v) return { reason: 'judge_near_threshold', detail: `${describe(v)} is within ${near.margin} of ${near.threshold}` };
  }
  if (a.calibration > 0 && judges.some((e) => e.score !== null || e.label !== null) && calibrated(q, traceId)) {
    return { reason: 'calibration', detail: `a ${a.calibration} share of judge-scored runs, for ${describe(judges[0]!)}` };
  }
  if (sampled(q, traceId)) return { reason: 'sampled', detail: `sampled at a rate of ${q.sample} from the eligible runs` };
  return null;
}
