/**
 * Seeded randomness for the demo: the same --seed gives the same customers,
 * questions, answers, failures and verdicts on every run, so the numbers the
 * demo prints can be checked against what Verdict stored.
 *
 * Only the content is seeded. Trace, span, response and conversation IDs
 * come from crypto randomness (the OpenTelemetry SDK's default ID
 * generator does the same), so running the demo twice against one database
 * adds a second hour of data instead of colliding with the first.
 */

export interface Random {
  /** A number in [0, 1). */
  next(): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  /** n distinct items, in random order. */
  sample<T>(items: readonly T[], n: number): T[];
}

/** mulberry32: small, fast and good enough for picking canned answers. */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    chance: (p) => next() < p,
    int,
    pick: <T>(items: readonly T[]) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
    sample: <T>(items: readonly T[], n: number) => {
      const pool = [...items];
      const out: T[] = [];
      while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(next() * pool.length), 1)[0] as T);
      return out;
    },
  };
}
