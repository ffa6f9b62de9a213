/**
 * The demo replays an hour of traffic in a few seconds, so it keeps its own
 * clock: time moves only when the code says that something took time (a
 * model call, a tool, a customer typing). Every span and log record is
 * stamped from this clock.
 *
 * In a real agent there is no such clock: leave out `startTime` and the end
 * time, and the OpenTelemetry SDK reads the system clock.
 */
export class SimClock {
  #now: number;

  constructor(startMs: number) {
    this.#now = startMs;
  }

  /** Milliseconds since the Unix epoch, as `Date.now()` would give. */
  now(): number {
    return this.#now;
  }

  /** Something took `ms`; async like the real wait it stands for. */
  async sleep(ms: number): Promise<void> {
    this.#now += Math.max(0, Math.round(ms));
  }

  /** Jump to a point in time (the next conversation starts at its own time). */
  set(ms: number): void {
    this.#now = ms;
  }
}
