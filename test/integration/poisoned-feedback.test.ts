/**
 * Feedback that PostgreSQL would refuse (1024 CJK characters in an indexed
 * identifier: 3072 UTF-8 bytes, past the B-tree row limit) is refused before
 * the database, naming the field and the limit in bytes; concurrent good
 * verdicts and spans are stored, and no answer quotes the database.
 */
import { describe, expect, it } from 'vitest';
import { hexId, postJson, traceJson } from '../helpers/otlp.ts';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';

describe.each(BACKENDS)('poisoned feedback on %s', (backend) => {
  const t = serverForSuite(backend);

  it('refuses text over its limit in UTF-8 bytes before the database; the requests beside it are stored', async () => {
    const cjk = '字'.repeat(1024); // 1024 UTF-16 units, 3072 bytes
    expect(cjk.length).toBe(1024);
    const poisoned = (i: number) => postJson(`${t.httpUrl}/v1/feedback`, { response_id: cjk, name: `poison-${i}`, score_value: 1 });
    const good = (i: number) => postJson(`${t.httpUrl}/v1/feedback`, { response_id: `ok-${i}`, name: 'user_rating', score_label: '好'.repeat(300) });
    const spans = (i: number) => postJson(`${t.httpUrl}/v1/traces`, traceJson([{ traceId: hexId(16, 9000 + i), spanId: hexId(8, 1), name: 'beside', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]));
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => [poisoned(i), good(i), spans(i)]).flat());
    for (let i = 0; i < answers.length; i += 3) {
      const [p, g, s] = [answers[i]!, answers[i + 1]!, answers[i + 2]!];
      expect(p.status).toBe(400);
      expect(p.json().message).toBe('response_id: must be at most 1024 bytes in UTF-8');
      expect(p.json().details[0].fieldViolations).toEqual([{ field: 'response_id', description: 'must be at most 1024 bytes in UTF-8' }]);
      expect(p.body.toString()).not.toMatch(/SQLSTATE|index|btree/i);
      expect(g.status).toBe(200);
      expect(s.status).toBe(200);
    }
    const stored = await t.query<{ n: string }>(`SELECT count(*) AS n FROM verdict.evaluations WHERE response_id LIKE 'ok-%'`);
    expect(Number(stored[0]!.n)).toBe(20);
    const poison = await t.query<{ n: string }>(`SELECT count(*) AS n FROM verdict.evaluations WHERE name LIKE 'poison-%'`);
    expect(Number(poison[0]!.n)).toBe(0);
    const beside = await t.query<{ n: string }>(`SELECT count(*) AS n FROM verdict.spans WHERE name = 'beside'`);
    expect(Number(beside[0]!.n)).toBe(20);
  });
});
