/**
 * The "request refused" log lines: one per refused request, up to a limit a
 * second; past it, one line a second says how many more were refused. A
 * client sending garbage a hundred times a second must not make the
 * receiver write a hundred lines a second (each a synchronous write to
 * stdout); the minute summary (app/summary.ts) counts every refusal by
 * reason whatever this lets through.
 */
import type { Logger } from '../log.ts';

/** Lines a second, before the rest are counted instead. */
const PER_SECOND = 10;

export class RefusalLog {
  readonly #log: Logger;
  readonly #now: () => number;
  #windowStart = 0;
  #lines = 0;
  #suppressed = 0;
  #flush: NodeJS.Timeout | null = null;

  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  refused(line: Record<string, unknown>): void {
    const t = this.#now();
    if (t - this.#windowStart >= 1000) {
      this.#report();
      this.#windowStart = t;
      this.#lines = 0;
    }
    if (this.#lines < PER_SECOND) {
      this.#lines++;
      this.#log.info(line, 'request refused');
      return;
    }
    this.#suppressed++;
    // The count goes out when the second ends, even if no refusal follows.
    this.#flush ??= setTimeout(() => this.#report(), Math.max(0, this.#windowStart + 1000 - t)).unref();
  }

  #report(): void {
    if (this.#flush) clearTimeout(this.#flush);
    this.#flush = null;
    if (this.#suppressed === 0) return;
    this.#log.info({ refused: this.#suppressed }, `${this.#suppressed} more requests refused within a second, not logged one by one (the minute summary counts them by reason)`);
    this.#suppressed = 0;
  }
}
