/** The "request refused" log lines: a limit a second, and a count of the rest (src/receivers/refusals.ts). */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RefusalLog } from '../../src/receivers/refusals.ts';

function capture() {
  const lines: Array<Record<string, any>> = [];
  return { lines, log: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }) };
}

describe('the refusal log', () => {
  it('logs ten refused requests a second one by one, then one line with how many more, at the end of the second', async () => {
    const { lines, log } = capture();
    const clock = { now: 10_000 };
    const refusals = new RefusalLog(log, () => clock.now);
    for (let i = 0; i < 25; i++) refusals.refused({ status: 400, err: `bad ${i}` });
    expect(lines.map((l) => l.err)).toEqual(Array.from({ length: 10 }, (_, i) => `bad ${i}`));
    // No further refusal: the count still goes out when the second ends.
    await new Promise((r) => setTimeout(r, 1100));
    expect(lines.length).toBe(11);
    expect(lines[10]).toMatchObject({ refused: 15, msg: expect.stringContaining('15 more requests refused within a second') });
    // The next second starts again from one by one.
    clock.now += 1000;
    refusals.refused({ status: 400, err: 'next second' });
    expect(lines.at(-1)).toMatchObject({ err: 'next second', msg: 'request refused' });
  });

  it('reports the count of a second at the first refusal of a later one, once', () => {
    const { lines, log } = capture();
    const clock = { now: 0 };
    const refusals = new RefusalLog(log, () => clock.now);
    for (let i = 0; i < 12; i++) refusals.refused({ err: 'x' });
    clock.now += 5000;
    refusals.refused({ err: 'later' });
    expect(lines.map((l) => l.refused ?? l.err)).toEqual([...Array(10).fill('x'), 2, 'later']);
  });
});
