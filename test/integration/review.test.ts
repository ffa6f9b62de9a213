/**
 * Review queues on both databases: filled by sampling and by each
 * always_when reason (with the reason recorded), within the daily cap;
 * claimed atomically by concurrent reviewers, back in the queue when a lease
 * expires; submitted idempotently, the verdicts and the correction joined
 * in verdict.trace_evaluations; reviewer and ingest tokens kept apart.
 */
import { createHash } from 'node:crypto';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseReviewConfig } from '../../src/review/config.ts';
import { calibrated, sampled } from '../../src/review/reasons.ts';
import { logs, service, traces, T0, type SpanSpec } from '../helpers/fixtures.ts';
import { grpcCall, post, postJson, postProto, TRACE_PATH } from '../helpers/otlp.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

const INGEST = 'ingest-token-0123456789abcdef';
const REVIEWERS = ['ana', 'bob', 'cy', 'dee'].map((name) => ({ name, token: `reviewer-${name}-0123456789abcdef` }));
const tokenOf = (name: string) => REVIEWERS.find((r) => r.name === name)!.token;
const FORM = {
  evaluations: [{ name: 'correctness', labels: [{ label: 'correct', polarity: 'positive', score: 1 }, { label: 'incorrect', polarity: 'negative', score: 0 }] }],
  correction: true,
};
const queue = (name: string, extra: Record<string, unknown>) => ({ name, where: { service: `svc-${name}` }, form: FORM, ...extra });
const RAW = {
  reviewers: REVIEWERS,
  queues: [
    queue('sample', { sample: 0.25 }),
    queue('reasons', {
      always_when: { negative_user_verdict: true, rule_hit: true, judge_disagreement: true, judge_near_threshold: { threshold: 0.5, margin: 0.05 }, calibration: 0.5 },
    }),
    queue('cap', { sample: 1, daily_cap: 5 }),
    queue('claims', { sample: 1 }),
    queue('lease', { sample: 1, lease: '1s' }),
    queue('skip', { sample: 1 }),
    queue('submit', { sample: 1, where: { service: 'svc-submit', operation: 'invoke_*' } }),
  ],
};
const REVIEW = parseReviewConfig(RAW);
const byName = (n: string) => REVIEW.queues.find((q) => q.name === n)!;

/** Deterministic trace and span IDs, many more than hexId's 255. */
const traceId = (key: string) => createHash('sha256').update(`trace ${key}`).digest('hex').slice(0, 32);
const spanId = (key: string) => createHash('sha256').update(`span ${key}`).digest('hex').slice(0, 16);

const root = (key: string, attributes: Record<string, string> = { 'gen_ai.operation.name': 'invoke_agent' }): SpanSpec => ({
  traceId: traceId(key), spanId: spanId(key), name: `invoke_agent ${key}`, kind: 'internal', start: T0, end: T0 + 2_000_000_000n, attributes,
});

describe.each(BACKENDS)('review queues on %s', (backend) => {
  let t: TestServer;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const sendRuns = async (svc: string, keys: string[], spans = (k: string) => [root(k)]) => {
    const body = traces(keys.flatMap(spans), service(svc)).proto();
    expect((await postProto(`${t.httpUrl}/v1/traces`, body, auth(INGEST))).status).toBe(200);
  };
  const feedback = async (body: unknown) => expect((await postJson(`${t.httpUrl}/v1/feedback`, body, auth(INGEST))).status).toBe(200);
  const api = async (reviewer: string, method: string, path: string, body?: unknown) => {
    const res = await post(`${t.httpUrl}/v1/review/${path}`, body === undefined ? '' : JSON.stringify(body), { ...auth(tokenOf(reviewer)), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, method);
    return { status: res.status, json: res.body.length > 0 ? res.json() : null };
  };
  const items = (q: string) => t.query<{ trace_id: string; reason: string; detail: string | null }>(`SELECT trace_id, reason, detail FROM verdict.review_items WHERE queue = '${q}' ORDER BY trace_id`);

  let configFile: string;
  beforeAll(async () => {
    // The review section is also in a file, for the reload.
    configFile = join(tempDir('review'), 'verdict.yaml');
    writeFileSync(configFile, stringify({ review: RAW }));
    t = await startTestServer(backend, { review: REVIEW, authTokens: [INGEST], configFile });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('samples eligible runs at the configured rate, decided from the trace ID', async () => {
    const keys = Array.from({ length: 400 }, (_, i) => `sample-${i}`);
    await sendRuns('svc-sample', keys);
    // Another service's runs are not eligible, whatever their trace IDs.
    await sendRuns('svc-other', Array.from({ length: 40 }, (_, i) => `other-${i}`));
    await t.server.reviewIdle();
    const got = await items('sample');
    const expected = keys.map(traceId).filter((id) => sampled(byName('sample'), id)).sort();
    expect(got.map((r) => r.trace_id)).toEqual(expected);
    // 400 × 0.25 = 100; the standard deviation of the count is about 8.7.
    expect(got.length).toBeGreaterThan(70);
    expect(got.length).toBeLessThan(130);
    expect(new Set(got.map((r) => r.reason))).toEqual(new Set(['sampled']));
  });

  it('queues a run for each always_when reason, recording the reason, and leaves the others', async () => {
    const q = byName('reasons');
    const judged = Array.from({ length: 40 }, (_, i) => `calibration-${i}`);
    const named = ['user-negative', 'rule-hit', 'judge-vs-user', 'judge-vs-judge', 'near-threshold', 'user-positive', 'judge-alone-far', 'completion-negative'];
    // Verdicts before some runs, after others: the queue is filled either way.
    await feedback([
      { trace_id: traceId('user-negative'), name: 'user_rating', score_label: 'thumbs_down' },
      { trace_id: traceId('rule-hit'), name: 'user_frustration', score_label: 'frustrated', source: 'rule' },
    ]);
    await sendRuns('svc-reasons', [...named, ...judged], (k) => [root(k, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.response.id': `resp-${k}` })]);
    await feedback([
      { trace_id: traceId('judge-vs-user'), name: 'user_rating', score_label: 'thumbs_up' },
      { trace_id: traceId('judge-vs-user'), name: 'relevance', score_value: 0.1, score_label: 'fail', source: 'llm_judge', explanation: 'off topic' },
      { trace_id: traceId('judge-vs-judge'), name: 'relevance', score_label: 'pass', source: 'llm_judge' },
      { trace_id: traceId('near-threshold'), name: 'relevance', score_value: 0.52, source: 'llm_judge' },
      { trace_id: traceId('user-positive'), name: 'user_rating', score_label: 'thumbs_up' },
      // A verdict on a completion names no run: the queue finds it through the response ID.
      { response_id: 'resp-completion-negative', name: 'user_rating', score_label: 'thumbs_down' },
      { trace_id: traceId('judge-alone-far'), name: 'relevance', score_value: 0.95, score_label: 'pass', source: 'llm_judge' },
      ...judged.map((k) => ({ trace_id: traceId(k), name: 'relevance', score_value: 0.9, score_label: 'pass', source: 'llm_judge' })),
    ]);
    await t.server.reviewIdle();
    // The first judge alone put this run in the calibration share; the second, disagreeing, makes the reason stronger.
    expect(calibrated(q, traceId('judge-vs-judge'))).toBe(true);
    expect((await items('reasons')).find((r) => r.trace_id === traceId('judge-vs-judge'))?.reason).toBe('calibration');
    // The second judge arrives over OTLP, as a gen_ai.evaluation.result event on the run's root span.
    const event = logs([{ eventName: 'gen_ai.evaluation.result', traceId: traceId('judge-vs-judge'), spanId: spanId('judge-vs-judge'), attributes: {
      'gen_ai.evaluation.name': 'helpfulness', 'gen_ai.evaluation.score.label': 'fail', 'verdict.feedback.source': 'llm_judge',
    } }], service('judge')).proto();
    expect((await postProto(`${t.httpUrl}/v1/logs`, event, auth(INGEST))).status).toBe(200);
    await t.server.reviewIdle();

    const got = new Map((await items('reasons')).map((r) => [r.trace_id, r]));
    const reasonOf = (k: string) => got.get(traceId(k))?.reason ?? null;
    expect(named.map(reasonOf)).toEqual(['negative_user_verdict', 'rule_hit', 'judge_disagreement', 'judge_disagreement', 'judge_near_threshold', null, calibrated(q, traceId('judge-alone-far')) ? 'calibration' : null, 'negative_user_verdict']);
    expect(got.get(traceId('judge-vs-user'))!.detail).toMatch(/llm_judge verdict relevance = fail .* disagrees with user verdict user_rating = thumbs_up/);
    const calibration = judged.map(traceId).filter((id) => calibrated(q, id));
    expect(judged.map((k) => reasonOf(k))).toEqual(judged.map((k) => (calibration.includes(traceId(k)) ? 'calibration' : null)));
    // A 0.5 share of 40 judge-scored runs.
    expect(calibration.length).toBeGreaterThan(10);
    expect(calibration.length).toBeLessThan(30);

    const listed = await api('ana', 'GET', 'queues');
    const reasons = listed.json.queues.find((x: { name: string }) => x.name === 'reasons');
    expect(reasons.reasons).toEqual(Object.fromEntries(Object.entries({
      negative_user_verdict: 2, rule_hit: 1, judge_disagreement: 2, judge_near_threshold: 1,
      calibration: calibration.length + (reasonOf('judge-alone-far') ? 1 : 0),
    })));
    expect(reasons.pending).toBe(got.size);
  });

  it('holds the daily cap', async () => {
    await sendRuns('svc-cap', Array.from({ length: 8 }, (_, i) => `cap-${i}`));
    await sendRuns('svc-cap', Array.from({ length: 4 }, (_, i) => `cap-late-${i}`));
    await t.server.reviewIdle();
    expect((await items('cap')).length).toBe(5);
    expect(await t.query(`SELECT queued FROM verdict.review_days WHERE queue = 'cap'`)).toEqual([{ queued: 5 }]);
  });

  it('never gives one item to two of 24 concurrent claims by 4 reviewers', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `claims-${i}`);
    await sendRuns('svc-claims', keys);
    await t.server.reviewIdle();
    const claims = REVIEWERS.flatMap((r) => Array.from({ length: 6 }, () => ({ reviewer: r.name, res: api(r.name, 'POST', 'queues/claims/claim') })));
    const answers = await Promise.all(claims.map(async (c) => ({ reviewer: c.reviewer, ...(await c.res) })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const won = answers.filter((a) => a.json.item !== null);
    expect(won.length).toBe(20);
    expect(new Set(won.map((a) => a.json.item.id)).size).toBe(20);
    expect(won.map((a) => a.json.item.trace_id).sort()).toEqual(keys.map(traceId).sort());
    // Each item is held by the reviewer whose claim returned it.
    const held = new Map((await t.query<{ id: string; reviewer: string }>(`SELECT id, reviewer FROM verdict.review_items WHERE queue = 'claims' AND state = 'claimed'`)).map((r) => [r.id, r.reviewer]));
    expect(won.map((a) => held.get(a.json.item.id))).toEqual(won.map((a) => a.reviewer));
  });

  it('returns an item whose lease expired to the queue', async () => {
    await sendRuns('svc-lease', ['lease-0']);
    await t.server.reviewIdle();
    const first = await api('ana', 'POST', 'queues/lease/claim');
    expect(first.json.item.trace_id).toBe(traceId('lease-0'));
    expect((await api('bob', 'POST', 'queues/lease/claim')).json).toEqual({ item: null });
    await new Promise((r) => setTimeout(r, 1200));
    const again = await api('bob', 'POST', 'queues/lease/claim');
    expect(again.json.item.id).toBe(first.json.item.id);
    expect(again.json.item.reviewer).toBe('bob');
    // The first reviewer's lease is gone: their submit is refused and stores nothing.
    const late = await api('ana', 'POST', `items/${first.json.item.id}/submit`, { verdicts: [{ name: 'correctness', label: 'correct' }] });
    expect(late.status).toBe(409);
    expect(late.json.message).toMatch(/claimed by another reviewer/);
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.evaluations WHERE source = 'reviewer' AND trace_id = '${traceId('lease-0')}'`)).toEqual([{ n: 0 }]);
  });

  it('stores a submission once, joined with its run in verdict.trace_evaluations with the correction', async () => {
    const k = 'submit-0';
    await sendRuns('svc-submit', [k], (key) => [root(key), { traceId: traceId(key), spanId: spanId(`${key}-chat`), parentSpanId: spanId(key), name: 'chat gpt-4o', kind: 'client', start: T0 + 100_000_000n, end: T0 + 1_000_000_000n, attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' } }]);
    // Not an invoke_* root: not eligible for this queue.
    await sendRuns('svc-submit', ['submit-chat-root'], (key) => [root(key, { 'gen_ai.operation.name': 'chat' })]);
    await t.server.reviewIdle();
    expect((await items('submit')).map((r) => r.trace_id)).toEqual([traceId(k)]);
    const claimed = await api('cy', 'POST', 'queues/submit/claim');
    expect(claimed.json.trajectory.spans.map((s: { name: string }) => s.name)).toEqual([`invoke_agent ${k}`, 'chat gpt-4o']);
    const id = claimed.json.item.id;
    const submission = { verdicts: [{ name: 'correctness', label: 'incorrect', explanation: 'wrong ship date' }], correction: 'It ships on Monday, 3 March.' };
    const first = await api('cy', 'POST', `items/${id}/submit`, submission);
    expect(first.status).toBe(200);
    const second = await api('cy', 'POST', `items/${id}/submit`, submission);
    expect(second).toEqual(first);
    expect((await api('dee', 'POST', `items/${id}/submit`, submission)).status).toBe(409);

    const rows = await t.query(`SELECT trace_id, span_id, span_name, name, score_label, score_value, polarity, source, channel, correction, explanation,
      attributes->>'verdict.reviewer' AS reviewer, attributes->>'verdict.review.queue' AS queue, attributes->>'verdict.review.reason' AS reason
      FROM verdict.trace_evaluations WHERE trace_id = '${traceId(k)}'`);
    expect(rows).toEqual([{
      trace_id: traceId(k), span_id: null, span_name: `invoke_agent ${k}`, name: 'correctness', score_label: 'incorrect', score_value: 0,
      polarity: 'negative', source: 'reviewer', channel: 'review', correction: 'It ships on Monday, 3 March.', explanation: 'wrong ship date',
      reviewer: 'cy', queue: 'submit', reason: 'sampled',
    }]);
    expect(await t.query(`SELECT state, reviewer, verdict_ids FROM verdict.review_items WHERE id = '${id}'`)).toEqual([{ state: 'done', reviewer: 'cy', verdict_ids: first.json.verdict_ids }]);
    expect(await t.query(`SELECT done FROM verdict.review_days WHERE queue = 'submit'`)).toEqual([{ done: 1 }]);
    expect(await t.query(`SELECT reviewer_verdicts::int AS n FROM verdict.traces WHERE trace_id = '${traceId(k)}'`)).toEqual([{ n: 1 }]);
  });

  it('skips an item for good, and a released item goes to the next reviewer at once', async () => {
    await sendRuns('svc-skip', ['skip-0', 'release-0']);
    await t.server.reviewIdle();
    const a = await api('ana', 'POST', 'queues/skip/claim');
    const b = await api('bob', 'POST', 'queues/skip/claim');
    expect([a.json.item.trace_id, b.json.item.trace_id].sort()).toEqual([traceId('skip-0'), traceId('release-0')].sort());
    const [skipper, skipped] = a.json.item.trace_id === traceId('skip-0') ? ['ana', a] : ['bob', b];
    const [releaser, released] = skipper === 'ana' ? ['bob', b] : ['ana', a];
    expect((await api(releaser, 'POST', `items/${skipped.json.item.id}/skip`)).status).toBe(409);
    expect((await api(skipper, 'POST', `items/${skipped.json.item.id}/skip`)).json).toEqual({ state: 'skipped' });
    expect((await api(releaser, 'POST', `items/${released.json.item.id}/release`)).json).toEqual({ state: 'pending' });
    const next = await api('cy', 'POST', 'queues/skip/claim');
    expect(next.json.item.id).toBe(released.json.item.id);
    expect((await api('dee', 'POST', 'queues/skip/claim')).json).toEqual({ item: null });
    expect(await t.query(`SELECT skipped FROM verdict.review_days WHERE queue = 'skip'`)).toEqual([{ skipped: 1 }]);
  });

  it('takes an ad-hoc verdict on any run, once', async () => {
    await sendRuns('svc-other', ['adhoc-0']);
    const run = await api('ana', 'GET', `traces/${traceId('adhoc-0')}`);
    expect(run.json.trajectory.run.root_name).toBe('invoke_agent adhoc-0');
    expect(run.json.items).toEqual([]);
    expect(run.json.forms.map((f: { queue: string }) => f.queue)).toEqual(REVIEW.queues.map((q) => q.name));
    const body = { verdicts: [{ name: 'correctness', label: 'correct' }] };
    const first = await api('ana', 'POST', `traces/${traceId('adhoc-0')}/submit?queue=submit`, body);
    expect(first.status).toBe(200);
    expect(await api('ana', 'POST', `traces/${traceId('adhoc-0')}/submit?queue=submit`, body)).toEqual(first);
    expect(await t.query(`SELECT source, channel, score_label, attributes FROM verdict.trace_evaluations WHERE trace_id = '${traceId('adhoc-0')}'`))
      .toEqual([{ source: 'reviewer', channel: 'review', score_label: 'correct', attributes: { 'verdict.reviewer': 'ana' } }]);
    expect((await api('ana', 'GET', `traces/${'0f'.repeat(16)}`)).status).toBe(404);
  });

  it('refuses a submission the form does not allow, naming the field', async () => {
    await sendRuns('svc-submit', ['submit-bad'], (key) => [root(key)]);
    await t.server.reviewIdle();
    const claimed = await api('dee', 'POST', 'queues/submit/claim');
    const res = await api('dee', 'POST', `items/${claimed.json.item.id}/submit`, { verdicts: [{ name: 'correctness', label: 'meh' }] });
    expect(res.status).toBe(400);
    expect(res.json.message).toBe('verdicts[0].label: must be one of correct, incorrect');
  });

  it('queues the runs of the last hour for a queue a reload adds', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    await sendRuns('svc-late', ['late-0', 'late-1'], (k) => [{ ...root(k), start: now - 3_000_000_000n, end: now - 1_000_000_000n }]);
    // A run of long ago is left to the data that arrives.
    await sendRuns('svc-late', ['late-old']);
    await t.server.reviewIdle();
    expect(await items('late')).toEqual([]);
    writeFileSync(configFile, stringify({ review: { ...RAW, queues: [...RAW.queues, queue('late', { sample: 1 })] } }));
    expect(t.server.reloadReview()).toBe(true);
    await t.server.reviewIdle();
    expect((await items('late')).map((r) => r.trace_id)).toEqual([traceId('late-0'), traceId('late-1')].sort());
  });

  it('keeps reviewer and ingest tokens apart', async () => {
    const span = traces([root('tokens-0')], service('svc-other')).proto();
    expect((await postProto(`${t.httpUrl}/v1/traces`, span, auth(tokenOf('ana')))).status).toBe(401);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${tokenOf('ana')}`);
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, span, { metadata })).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((await postJson(`${t.httpUrl}/v1/feedback`, { trace_id: traceId('tokens-0'), name: 'x', score_value: 1 }, auth(tokenOf('ana')))).status).toBe(401);
    const asIngest = await post(`${t.httpUrl}/v1/review/queues`, '', auth(INGEST), 'GET');
    expect(asIngest.status).toBe(401);
    expect(asIngest.json().message).toMatch(/not a reviewer token/);
    expect((await post(`${t.httpUrl}/v1/review/queues/claims/claim`, '', auth(INGEST))).status).toBe(401);
    expect((await post(`${t.httpUrl}/v1/review/queues`, '', {}, 'GET')).status).toBe(401);
    const asReviewer = await api('dee', 'GET', 'queues');
    expect(asReviewer.status).toBe(200);
    expect(asReviewer.json.reviewer).toBe('dee');
    // The page itself is public: it holds no data and asks for the reviewer's token.
    const page = await post(`${t.httpUrl}/review`, '', {}, 'GET');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });
});
