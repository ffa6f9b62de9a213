/**
 * Fast paths in the functions the run merge and the verdict insert call per
 * run, against what they stand for, on both databases:
 * - verdict.normalise_task (a run's request as a task key: lower case, white
 *   space collapsed, trimmed) skips its regular expression for printable
 *   ASCII text with single spaces; both paths must give what the regular
 *   expression alone gives, for any text: tasks stored before and after must
 *   keep matching;
 * - verdict.add_counts (adds two {"source": {"polarity": n}} objects) returns
 *   the second object when the first is empty.
 */
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

/** The definition the fast path must agree with. */
const BY_REGEX = (x: string) => `NULLIF(btrim(regexp_replace(lower(${x}), '\\s+', ' ', 'g')), '')`;
/** The fast path's condition, to check that the texts below take both paths. */
const FAST = (x: string) => `(${x} !~ '[^ -~]' AND strpos(${x}, '  ') = 0)`;

/** Pieces texts are made of: words, every kind of white space, characters at the ASCII range's edges, and letters that change with case outside it. */
const PIECES = [
  'Refund', 'my ORDER', 'a', 'Z', '~', '!', '0', ' ', '  ', '\t', '\n', '\r\n', '\v', '\f', '\u001c', '\u001f', '\u007f', '\u0001',
  '\u0085', '\u00a0', '\u1680', '\u2003', '\u2028', '\u3000', '\ufeff', 'É', 'İ', 'ß', 'Σ', 'ǅ', '日本', '🎉',
];

/** A deterministic generator (mulberry32), so a failure names texts that can be tried again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function texts(): string[] {
  const r = random(20261202);
  const out = ['', ' ', '  ', 'plain words here', ' Leading and trailing ', 'Two  spaces', 'tab\there', 'line\nbreak', 'UPPER lower', 'ÉCOLE', 'no\u00a0break'];
  const ascii = PIECES.filter((p) => /^[!-~]+( [!-~]+)*$/.test(p));
  for (let i = 0; i < 3000; i++) {
    // Half from printable pieces alone, joined by single spaces or none, so that the fast path is taken often.
    const from = i % 2 === 0 ? ascii : PIECES;
    const n = 1 + Math.floor(r() * 12);
    let s = '';
    for (let k = 0; k < n; k++) s += from[Math.floor(r() * from.length)]! + (r() < 0.6 ? ' ' : '');
    out.push(s);
  }
  return out;
}

describe.each(BACKENDS)('summary functions on %s', (backend) => {
  const t = serverForSuite(backend);

  it('normalise_task gives the same through its fast path as through the regular expression', async () => {
    const all = texts();
    const json = JSON.stringify(all).replaceAll("'", "''");
    const rows = await t.query<{ x: string; fast: boolean; task: string | null; expected: string | null }>(`
      SELECT x, ${FAST('x')} AS fast, verdict.normalise_task(x) AS task, ${BY_REGEX('x')} AS expected
      FROM jsonb_array_elements_text('${json}'::jsonb) x`);
    expect(rows).toHaveLength(all.length);
    const wrong = rows.filter((r) => r.task !== r.expected);
    expect(wrong).toEqual([]);
    // Both paths were taken, by many texts each.
    const fast = rows.filter((r) => r.fast).length;
    expect(fast).toBeGreaterThan(1000);
    expect(rows.length - fast).toBeGreaterThan(1000);
    // Cases that name what each path must do.
    const task = new Map(rows.map((r) => [r.x, r.task]));
    expect(task.get(' Leading and trailing ')).toBe('leading and trailing');
    expect(task.get('Two  spaces')).toBe('two spaces');
    expect(task.get('tab\there')).toBe('tab here');
    expect(task.get('line\nbreak')).toBe('line break');
    expect(task.get('ÉCOLE')).toBe('école');
    expect(task.get('  ')).toBeNull();
    expect(task.get('')).toBeNull();
  });

  it('add_counts adds counts by source as a sum over their entries does, from empty, NULL and filled objects', async () => {
    const objects = ['{}', '{"user": {"negative": 1}}', '{"llm_judge": {"positive": 2, "negative": 1}}', '{"user": {"positive": 3}, "rule": {"neutral": 4}}'];
    const pairs = [...objects, null].flatMap((a) => [...objects, null].map((b) => [a, b] as const));
    const lit = (x: string | null) => (x === null ? 'NULL::jsonb' : `'${x}'::jsonb`);
    const rows = await t.query<{ a: string | null; b: string | null; sum: unknown; expected: unknown }>(pairs.map(([a, b]) => `
      SELECT ${a === null ? 'NULL' : `'${a}'`} AS a, ${b === null ? 'NULL' : `'${b}'`} AS b, verdict.add_counts(${lit(a)}, ${lit(b)}) AS sum,
        (SELECT COALESCE(jsonb_object_agg(source, polarities), '{}'::jsonb) FROM (
           SELECT source, jsonb_object_agg(polarity, n) AS polarities FROM (
             SELECT x.key AS source, y.key AS polarity, sum(y.value::bigint) AS n
             FROM (SELECT ${lit(a)} AS o UNION ALL SELECT ${lit(b)}) objects, jsonb_each(COALESCE(objects.o, '{}'::jsonb)) x, jsonb_each_text(x.value) y
             GROUP BY 1, 2) per_polarity
           GROUP BY source) per_source) AS expected`).join(' UNION ALL '));
    expect(rows).toHaveLength(pairs.length);
    expect(rows.filter((r) => JSON.stringify(r.sum) !== JSON.stringify(r.expected))).toEqual([]);
    // And over a group, as the verdict insert sums them.
    const [group] = await t.query<{ sum: unknown }>(`SELECT verdict.sum_counts(o) AS sum FROM (VALUES ('{"user": {"negative": 1}}'::jsonb), ('{"user": {"negative": 2, "positive": 1}}'), ('{}'), (NULL)) v(o)`);
    expect(group!.sum).toEqual({ user: { negative: 3, positive: 1 } });
  });

  it('normalise_task is inlined, so a run merge does not call a function per run', async () => {
    // A column as the argument: on a constant, the immutable function would be folded away inlined or not.
    const plan = await t.query<{ 'QUERY PLAN': string }>(`EXPLAIN (VERBOSE, FORMAT TEXT) SELECT verdict.normalise_task(g::text) FROM generate_series(1, 2) g`);
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain('regexp_replace');
    expect(text).not.toContain('normalise_task');
  });
});
