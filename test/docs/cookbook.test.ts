/**
 * docs/cookbook.md: every question has a heading, a "Columns:" line and one
 * SQL block, and every block runs as written against a seeded database on
 * both backends, returning rows with exactly the promised columns, each of
 * them filled in some row, and the same answer as the question asked the
 * slow way: a reference query written here, straight from the spans and
 * verdicts, without the summaries and rollups the cookbook reads.
 *
 * The seed (test/helpers/seed.ts) lies at fixed times, so `now()` in the
 * queries is pinned to just after it; nothing else in the SQL changes. On top
 * of the seed, this file adds what it lacks for some questions: reviewer
 * verdicts on spans an LLM judge also judged, a conversation whose user asks
 * the same thing twice, and verdicts whose targets never arrive.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { examples } from '../helpers/markdown.ts';
import { REFERENCE_ANSWERS } from './cookbook-answers.ts';
import { hexId, logsJson, postJson, str, traceJson } from '../helpers/otlp.ts';
import { loadSeed, makeSeed, SEED_FEEDBACK, SEED_HOURS, SEED_START, type SeedData } from '../helpers/seed.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';

const DOC = new URL('../../docs/cookbook.md', import.meta.url);
const text = readFileSync(DOC, 'utf8').split('\n');

interface Question {
  title: string;
  columns: string[];
  sql: string;
}

/** Each example with the heading above it and the backquoted names of the "Columns:" line between the two. */
const questions: Question[] = examples(DOC).map((e) => {
  if (e.kind !== 'sql') throw new Error(`docs/cookbook.md:${e.line}: only sql examples are run here, not ${e.kind}`);
  let columns: string[] | null = null;
  for (let i = e.line - 2; i >= 0; i--) {
    const line = text[i] as string;
    if (line.startsWith('Columns:')) columns ??= [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    if (line.startsWith('## ')) return { title: line.slice(3), columns: columns ?? [], sql: e.code };
  }
  throw new Error(`docs/cookbook.md:${e.line}: an example outside any question`);
});

/** `now()` just after the seeded hours (and the verdicts that trail them). */
const NOW = new Date(SEED_START + (SEED_HOURS + 2) * 3_600_000).toISOString();
const pinned = (sql: string) => sql.replaceAll('now()', `'${NOW}'::timestamptz`).replace(/;\s*$/, '');
const during = (hour: number) => new Date(SEED_START + hour * 3_600_000);
const ns = (d: Date) => String(BigInt(d.getTime()) * 1_000_000n);

describe('docs/cookbook.md', () => {
  it('asks at least ten questions, each under its own heading with one query and the columns it returns', () => {
    expect(questions.length).toBeGreaterThanOrEqual(10);
    expect(new Set(questions.map((q) => q.title)).size).toBe(questions.length);
    const headings = text.filter((l) => l.startsWith('## ')).map((l) => l.slice(3));
    expect(headings).toEqual(questions.map((q) => q.title));
    for (const q of questions) {
      expect(q.columns.length, q.title).toBeGreaterThan(0);
      expect(q.sql, q.title).toMatch(/^(SELECT|WITH)\b[^]*;$/);
    }
  });
});

let seed: Promise<SeedData> | null = null;

/** A row as text: the two queries may type a value differently (bigint and numeric, say), not differ in it. */
const asText = (rows: Array<Record<string, unknown>>, columns: readonly string[]) =>
  rows.map((r) => columns.map((c) => (r[c] instanceof Date ? (r[c] as Date).toISOString() : r[c] === null ? null : Array.isArray(r[c]) ? JSON.stringify(r[c]) : String(r[c]))));

describe('the reference answers', () => {
  it('cover every question', () => {
    expect(Object.keys(REFERENCE_ANSWERS).sort()).toEqual(questions.map((q) => q.title).sort());
  });
});

describe.each(BACKENDS)('docs/cookbook.md queries on %s', (backend) => {
  let t: TestServer;
  let dir: string;
  beforeAll(async () => {
    // The repeat rule keeps verdict.user_turns, which one question reads.
    dir = mkdtempSync(join(tmpdir(), 'verdict-cookbook-'));
    const rulesFile = join(dir, 'rules.yaml');
    writeFileSync(rulesFile, 'rules:\n  - name: same_question_reasked\n    kind: repeat\n');
    t = await startTestServer(backend, { feedback: SEED_FEEDBACK, rulesFile });
    await loadSeed(t.httpUrl, t, await (seed ??= makeSeed()));
    await addReviews(t);
    await addReaskedConversation(t);
    await addOrphans(t);
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(questions.map((q) => [q.title, q] as const))('answers "%s" as the slow way does', async (title, q) => {
    const rows = await t.query<Record<string, unknown>>(pinned(q.sql));
    expect(rows.length).toBeGreaterThan(0);
    expect(Object.keys(rows[0]!)).toEqual(q.columns);
    for (const c of q.columns) expect(rows.some((r) => r[c] !== null), `column ${c} is NULL in every row`).toBe(true);
    const ref = REFERENCE_ANSWERS[title]!;
    const expected = await t.query<Record<string, unknown>>(pinned(ref.sql));
    const compared = ref.columns ?? q.columns;
    expect(asText(rows, compared)).toEqual(asText(expected, compared));
  });
});

/**
 * A reviewer re-checks 40 answers the LLM judge rated (same span), agreeing
 * three times in four, so the judge-against-human questions have pairs.
 */
async function addReviews(t: TestServer): Promise<void> {
  const judged = await t.query<{ trace_id: string; span_id: string; polarity: string | null }>(
    `SELECT trace_id, span_id, polarity FROM verdict.evaluations
     WHERE source = 'llm_judge' AND name = 'Relevance' AND span_id IS NOT NULL ORDER BY id LIMIT 40`,
  );
  expect(judged).toHaveLength(40);
  const reviews = judged.map((j, i) => {
    const positive = (j.polarity === 'positive') !== (i % 4 === 3);
    return { trace_id: j.trace_id, span_id: j.span_id, name: 'answer_review', score_label: positive ? 'correct' : 'incorrect', source: 'reviewer', time: during(SEED_HOURS).toISOString() };
  });
  const res = await postJson(`${t.httpUrl}/v1/feedback`, reviews);
  expect(res.status).toBe(200);
  expect(res.json().accepted).toBe(40);
}

/** Two runs of one conversation whose newest user message is the same question, worded a little differently. */
async function addReaskedConversation(t: TestServer): Promise<void> {
  const messages = (...turns: Array<[string, string]>) => JSON.stringify(turns.map(([role, content]) => ({ role, parts: [{ type: 'text', content }] })));
  const run = (n: number, hour: number, history: string) => {
    const traceId = hexId(16, 700 + n);
    const root = { traceId, spanId: hexId(8, 1), name: 'invoke_agent support-agent', kind: 2, startTimeUnixNano: ns(during(hour)), endTimeUnixNano: ns(during(hour + 0.01)), attributes: [str('gen_ai.operation.name', 'invoke_agent'), str('gen_ai.agent.name', 'support-agent'), str('gen_ai.conversation.id', 'conv-reasked')] };
    const chat = { traceId, spanId: hexId(8, 2), parentSpanId: hexId(8, 1), name: 'chat gpt-4.1-mini-2025-04-14', kind: 3, startTimeUnixNano: ns(during(hour + 0.001)), endTimeUnixNano: ns(during(hour + 0.009)), attributes: [str('gen_ai.operation.name', 'chat'), str('gen_ai.conversation.id', 'conv-reasked'), str('gen_ai.input.messages', history)] };
    return [root, chat];
  };
  const spans = [
    ...run(1, 3, messages(['user', 'Where is my refund?'])),
    ...run(2, 3.2, messages(['user', 'Where is my refund?'], ['assistant', 'I am not sure.'], ['user', 'where is my REFUND??'])),
  ];
  const resource = [str('service.name', 'support-agent'), str('service.version', '1.15.0')];
  expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson(spans, resource))).status).toBe(200);
}

/** A judge's verdict on a span that was never exported, and a user's on a response ID nobody sent. */
async function addOrphans(t: TestServer): Promise<void> {
  const onMissingSpan = { eventName: 'gen_ai.evaluation.result', timeUnixNano: ns(during(SEED_HOURS)), traceId: hexId(16, 799), spanId: hexId(8, 9), attributes: [str('gen_ai.evaluation.name', 'Relevance'), str('gen_ai.evaluation.score.label', 'relevant'), str('verdict.feedback.source', 'llm_judge')] };
  expect((await postJson(`${t.httpUrl}/v1/logs`, logsJson([onMissingSpan], [str('service.name', 'judge-service')]))).status).toBe(200);
  const res = await postJson(`${t.httpUrl}/v1/feedback`, { response_id: 'resp-never-sent', name: 'user_rating', score_label: 'thumbs_down', source: 'user', time: during(SEED_HOURS).toISOString() });
  expect(res.status).toBe(200);
}
