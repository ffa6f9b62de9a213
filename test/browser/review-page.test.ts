/**
 * The review page (/review) in headless Chromium, driven with the keyboard
 * only: a reviewer signs in, works through three queued runs (their
 * trajectories, messages, tool calls and the judge's explanation on
 * screen), and the verdicts land in the database; an empty queue, an
 * expired lease and a lost connection show their states (the draft of the
 * last is re-sent). Screenshots go to test-artifacts/ for people to look at.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReviewConfig } from '../../src/review/config.ts';
import { service, traces, T0, type SpanSpec } from '../helpers/fixtures.ts';
import { post, postJson, postProto } from '../helpers/otlp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Debian's chromium, as the feedback page test uses it (.ci/run installs it). */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const TOKEN = 'reviewer-ana-0123456789abcdef';
const FORM = {
  evaluations: [{ name: 'correctness', labels: [{ label: 'correct', polarity: 'positive', score: 1 }, { label: 'incorrect', polarity: 'negative', score: 0 }] }],
  correction: true,
};
const REVIEW = parseReviewConfig({
  reviewers: [{ name: 'ana', token: TOKEN }, { name: 'bob', token: 'reviewer-bob-0123456789abcdef' }],
  queues: [
    { name: 'support', description: 'support answers', where: { service: 'support-agent' }, sample: 1, always_when: { negative_user_verdict: true }, form: FORM },
    { name: 'short', where: { service: 'short-agent' }, sample: 1, lease: '2s', form: FORM },
    { name: 'flaky', where: { service: 'flaky-agent' }, sample: 1, form: FORM },
  ],
});

const traceId = (k: string) => createHash('sha256').update(`trace ${k}`).digest('hex').slice(0, 32);
const spanId = (k: string) => createHash('sha256').update(`span ${k}`).digest('hex').slice(0, 16);
const ms = (n: number) => T0 + BigInt(n) * 1_000_000n;

/** A support run: the agent, a model call asking for a tool, the tool, and the model's answer. */
function run(k: string, order: string, toolFails = false): SpanSpec[] {
  const tr = traceId(k);
  const user = { role: 'user', parts: [{ type: 'text', content: `Where is my order ${order}?` }] };
  const call = { role: 'assistant', parts: [{ type: 'tool_call', id: `call-${k}`, name: 'lookup_order', arguments: { order } }] };
  const result = { role: 'tool', parts: [{ type: 'tool_call_response', id: `call-${k}`, response: toolFails ? 'timeout' : `{"status":"shipped","order":"${order}"}` }] };
  return [
    { traceId: tr, spanId: spanId(k), name: 'invoke_agent support', kind: 'internal', start: ms(0), end: ms(2400), attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'support' } },
    { traceId: tr, spanId: spanId(`${k}-chat1`), parentSpanId: spanId(k), name: 'chat gpt-4o', kind: 'client', start: ms(10), end: ms(900), attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'You are a support agent for Acme.' }]),
      'gen_ai.input.messages': JSON.stringify([user]), 'gen_ai.output.messages': JSON.stringify([call]),
    } },
    { traceId: tr, spanId: spanId(`${k}-tool`), parentSpanId: spanId(k), name: 'execute_tool lookup_order', kind: 'internal', start: ms(910), end: ms(1300),
      status: toolFails ? { code: 'error', message: 'order service timed out' } : { code: 'ok' }, attributes: {
        'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup_order', 'gen_ai.tool.call.id': `call-${k}`,
        'gen_ai.tool.call.arguments': JSON.stringify({ order }), 'gen_ai.tool.call.result': result.parts[0]!.response,
      } },
    { traceId: tr, spanId: spanId(`${k}-chat2`), parentSpanId: spanId(k), name: 'chat gpt-4o', kind: 'client', start: ms(1310), end: ms(2390), attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o',
      'gen_ai.input.messages': JSON.stringify([user, call, result]),
      'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: toolFails ? 'Sorry, I could not find it.' : `Order ${order} has shipped.` }], finish_reason: 'stop' }]),
    } },
  ];
}

describe('the review page', () => {
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  const runs = ['A-1001', 'B-2002', 'C-3003'];

  const stateText = () => page.textContent('#state');
  // Locators rather than waitForFunction: the page's Content-Security-Policy forbids evaluating strings, and stays on.
  const waitState = (text: string) => page.locator('#state', { hasText: text }).waitFor({ timeout: 10_000 });
  const drafts = () => page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('verdict.review.draft.')).length");
  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestServer('postgres', { review: REVIEW });
    const send = async (svc: string, spans: SpanSpec[]) => expect((await postProto(`${t.httpUrl}/v1/traces`, traces(spans, service(svc)).proto())).status).toBe(200);
    await send('support-agent', runs.flatMap((r, i) => run(`run-${r}`, r, i === 1)));
    await send('short-agent', run('short', 'S-1'));
    await send('flaky-agent', run('flaky', 'F-1'));
    // A judge's verdicts (one with an explanation the reviewer should see) and a user's thumbs.
    const verdicts: unknown[] = runs.map((r, i) => ({
      trace_id: traceId(`run-${r}`), name: 'helpfulness', source: 'llm_judge', score_value: i === 1 ? 0.2 : 0.9, score_label: i === 1 ? 'fail' : 'pass',
      explanation: `Judge on ${r}: ${i === 1 ? 'the answer gives up although the tool failed transiently' : 'the answer states the shipping status'}`,
    }));
    verdicts.push({ trace_id: traceId(`run-${runs[1]}`), name: 'user_rating', source: 'user', score_label: 'thumbs_down', explanation: 'still waiting' });
    const judged = await postJson(`${t.httpUrl}/v1/feedback`, verdicts);
    expect(judged.status).toBe(200);
    await t.server.reviewIdle();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('lets a reviewer work through three queued runs with the keyboard only', async () => {
    await page.goto(`${t.httpUrl}/review`);
    await page.waitForSelector('#token:focus');
    await page.keyboard.type(TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#queue-list li[data-queue="support"]');
    expect(await page.textContent('#queue-list li[data-queue="support"]')).toMatch(/support — support answers · 3 waiting · today 0 done, 0 skipped of 3 queued.*why: negative user verdict 1, sampled 2/);
    await page.keyboard.press('1');

    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      // The next run is on screen: another trace, its four spans drawn.
      await page.locator('#item-head', { hasText: /trace [0-9a-f]{32}/ }).filter({ hasNotText: seen.at(-1) ?? 'none yet' }).waitFor({ timeout: 10_000 });
      await page.locator('#trajectory details').nth(3).waitFor({ timeout: 10_000 });
      const head = (await page.textContent('#item-head'))!;
      const trace = /trace ([0-9a-f]{32})/.exec(head)![1]!;
      seen.push(trace);
      const r = runs.find((x) => traceId(`run-${x}`) === trace)!;
      // The trajectory as a tree, with timings; the model calls as a conversation; the tool call with its arguments and result.
      expect(await page.textContent('#trajectory details[data-span] > summary')).toBe('invoke_agent support invoke_agent 2.40 s');
      // The three calls nested under the agent, the tool's with its time.
      expect(await page.locator('#trajectory details[data-span] details').count()).toBe(3);
      expect(await page.locator('#trajectory details details > summary', { hasText: 'execute_tool lookup_order' }).textContent()).toMatch(/^execute_tool lookup_order execute_tool · lookup_order 390 ms/);
      expect(await page.locator('#trajectory .msg[data-role="system"]').first().textContent()).toContain('You are a support agent for Acme.');
      expect(await page.locator('#trajectory .msg[data-role="user"]').first().textContent()).toContain(`Where is my order ${r}?`);
      expect(await page.locator('#trajectory .tool-call[data-tool="lookup_order"]').textContent()).toBe(`→ lookup_order({"order":"${r}"})`);
      expect(await page.locator('#trajectory .msg[data-role="assistant"]').last().textContent()).toMatch(/shipped|could not find/);
      // The judge's explanation beside the other verdicts.
      expect(await page.locator('#verdicts .verdict[data-source="llm_judge"] .explanation').textContent()).toContain(`Judge on ${r}:`);
      if (r === 'B-2002') {
        expect(head).toMatch(/queued: negative user verdict — user verdict user_rating = thumbs_down/);
        expect(await page.locator('#trajectory .error-badge').count()).toBe(1);
        expect(await page.locator('#verdicts .verdict[data-source="user"]').textContent()).toContain('thumbs_down');
        await shot('review-item.png');
        await page.keyboard.press('2');
        await page.keyboard.press('c');
        await page.keyboard.type('Retry the lookup; order B-2002 shipped on Monday.');
        await page.keyboard.press('Escape');
      } else {
        await page.keyboard.press('1');
      }
      expect(await page.locator('.label-choice.chosen').textContent()).toContain(r === 'B-2002' ? 'incorrect' : 'correct');
      expect(await page.textContent('#progress')).toContain(`${i} reviewed this session`);
      await page.keyboard.press('Enter');
    }
    await waitState('Queue support is empty');
    await shot('review-empty-queue.png');
    expect(new Set(seen)).toEqual(new Set(runs.map((r) => traceId(`run-${r}`))));
    expect(await page.textContent('#progress')).toContain('3 reviewed this session · 0 waiting · today 3 done of 3 queued');

    const rows = await t.query(`SELECT trace_id, score_label, polarity, correction, attributes->>'verdict.reviewer' AS reviewer, channel
      FROM verdict.trace_evaluations WHERE source = 'reviewer' ORDER BY trace_id`);
    expect(rows).toEqual(runs.map((r) => ({
      trace_id: traceId(`run-${r}`), score_label: r === 'B-2002' ? 'incorrect' : 'correct', polarity: r === 'B-2002' ? 'negative' : 'positive',
      correction: r === 'B-2002' ? 'Retry the lookup; order B-2002 shipped on Monday.' : null, reviewer: 'ana', channel: 'review',
    })).sort((a, b) => a.trace_id.localeCompare(b.trace_id)));
  });

  it('shows an expired lease, and the run goes back to the queue', async () => {
    await page.keyboard.press('q');
    await page.waitForSelector('#queue-list li[data-queue="short"]');
    await page.keyboard.press('2');
    await page.waitForSelector('#trajectory details');
    await page.keyboard.press('1');
    await waitState('Your lease on this run expired');
    expect(await page.textContent('#lease')).toBe('lease expired');
    await shot('review-expired-lease.png');
    // Enter no longer submits: nothing is stored, and another reviewer can claim the run.
    await page.keyboard.press('Enter');
    const other = await post(`${t.httpUrl}/v1/review/queues/short/claim`, '', { authorization: 'Bearer reviewer-bob-0123456789abcdef' });
    expect(other.json().item.trace_id).toBe(traceId('short'));
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.evaluations WHERE trace_id = '${traceId('short')}' AND source = 'reviewer'`)).toEqual([{ n: 0 }]);
  });

  it('opens any run at /review/trace/{trace_id} for an ad-hoc verdict', async () => {
    const trace = traceId(`run-${runs[0]}`);
    await page.goto(`${t.httpUrl}/review/trace/${trace}?queue=support`);
    await page.locator('#item-head', { hasText: 'in queues: support (done, sampled)' }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#item-head')).toContain('ad-hoc review');
    expect(await page.locator('#verdicts .verdict[data-source="reviewer"]').textContent()).toContain('ana');
    await page.keyboard.press('2');
    await page.keyboard.press('Enter');
    await waitState('Verdict saved.');
    expect(await t.query(`SELECT score_label, attributes->>'verdict.review.queue' AS queue FROM verdict.evaluations WHERE trace_id = '${trace}' AND source = 'reviewer' ORDER BY score_label`))
      .toEqual([{ score_label: 'correct', queue: 'support' }, { score_label: 'incorrect', queue: null }]);
    await page.goto(`${t.httpUrl}/review`);
    await page.waitForSelector('#queue-list li[data-queue="flaky"]');
  });

  it('keeps the draft through a lost connection and re-sends it', async () => {
    await page.keyboard.press('q');
    await page.waitForSelector('#queue-list li[data-queue="flaky"]');
    await page.keyboard.press('3');
    await page.waitForSelector('#trajectory details');
    await page.keyboard.press('2');
    await page.keyboard.press('c');
    await page.keyboard.type('It shipped.');
    await page.keyboard.press('Escape');
    await page.route('**/v1/review/items/**', (route) => route.abort('internetdisconnected'));
    await page.keyboard.press('Enter');
    await waitState('Connection lost: your draft is kept');
    await shot('review-connection-lost.png');
    expect(await drafts()).toBe(1);
    await page.unroute('**/v1/review/items/**');
    await waitState('Queue flaky is empty');
    expect(await stateText()).toContain('empty');
    expect(await t.query(`SELECT score_label, correction FROM verdict.evaluations WHERE trace_id = '${traceId('flaky')}' AND source = 'reviewer'`)).toEqual([{ score_label: 'incorrect', correction: 'It shipped.' }]);
    expect(await drafts()).toBe(0);
  });
});
