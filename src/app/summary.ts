/**
 * One log line per period (a minute) while data arrives, so that whoever
 * starts Verdict sees their exporters reach it: what was stored, by service,
 * and what was refused, by reason. Nothing while idle. Counted by the
 * metrics (Metrics.tally), reset at each line.
 */
import type { Logger } from '../log.ts';
import type { Counts, Metrics } from '../metrics.ts';

export const SUMMARY_INTERVAL_MS = 60_000;

const NOUNS = { spans: ['span', 'spans'], log_records: ['log record', 'log records'], evaluations: ['verdict', 'verdicts'] } as const;

export function startSummary(metrics: Metrics, log: Logger, intervalMs = SUMMARY_INTERVAL_MS): { stop(): void } {
  const timer = setInterval(() => {
    const t = metrics.tally.take();
    if (t) log.info({ periodSeconds: intervalMs / 1000, accepted: t.accepted, refused: t.refused }, summaryLine(t.accepted, t.refused, intervalMs));
  }, intervalMs).unref();
  return { stop: () => clearInterval(timer) };
}

/** e.g. `last 60s: accepted 1200 spans (support-agent 1150, judge 50), 40 verdicts (judge 40); refused 30 spans (unavailable 30)` */
export function summaryLine(accepted: Counts, refused: Counts, intervalMs: number): string {
  const part = (counts: Counts): string =>
    (Object.keys(NOUNS) as Array<keyof typeof NOUNS>)
      .map((item) => {
        const entries = Object.entries(counts[item]).sort((a, b) => b[1] - a[1]);
        if (entries.length === 0) return '';
        const total = entries.reduce((n, [, c]) => n + c, 0);
        return `${total} ${NOUNS[item][total === 1 ? 0 : 1]} (${entries.map(([k, c]) => `${k} ${c}`).join(', ')})`;
      })
      .filter((s) => s !== '')
      .join(', ');
  const stored = part(accepted);
  const refusedText = part(refused);
  return `last ${intervalMs / 1000}s: ${stored ? `accepted ${stored}` : 'accepted nothing'}${refusedText ? `; refused ${refusedText}` : ''}`;
}
