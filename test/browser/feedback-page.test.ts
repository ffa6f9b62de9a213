/**
 * docs/feedback-example.html in headless Chromium (Debian's chromium, driven
 * by playwright-core): served from its own origin, it posts a thumbs-down to
 * Verdict across origins (CORS preflight included), and the verdict lands on
 * the right trace.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexId } from '../helpers/otlp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const PAGE = readFileSync(new URL('../../docs/feedback-example.html', import.meta.url), 'utf8');
export const CHROMIUM = '/usr/bin/chromium';

describe('the feedback example page', () => {
  let t: TestServer;
  let pages: http.Server;
  let origin: string;
  let browser: Browser;
  beforeAll(async () => {
    pages = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    await new Promise<void>((r) => pages.listen(0, '127.0.0.1', () => r()));
    origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    t = await startTestServer('pglite', { corsOrigins: [origin] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // What this machine needs: no sandbox as root, and no background calls to a closed network.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    pages?.close();
  });

  it('sends a thumbs-down for the trace when clicked', async () => {
    const traceId = hexId(16, 95);
    const page = await browser.newPage();
    await page.goto(`${origin}/?trace_id=${traceId}&endpoint=${encodeURIComponent(t.httpUrl)}`);
    await page.click('#down');
    await page.waitForFunction("document.getElementById('status').textContent !== ''", null, { timeout: 10_000 });
    expect(await page.textContent('#status')).toBe('Thanks for your feedback.');
    const rows = await t.query(`SELECT trace_id, span_id, name, score_value, score_label, source, channel, polarity FROM verdict.evaluations WHERE trace_id = '${traceId}'`);
    expect(rows).toEqual([{ trace_id: traceId, span_id: null, name: 'user_rating', score_value: 0, score_label: 'thumbs_down', source: 'user', channel: 'api', polarity: 'negative' }]);
    await page.close();
  });

  it('cannot send from an origin Verdict does not list (the browser enforces the CORS answer)', async () => {
    const other = await startTestServer('pglite');
    try {
      const traceId = hexId(16, 96);
      const page = await browser.newPage();
      await page.goto(`${origin}/?trace_id=${traceId}&endpoint=${encodeURIComponent(other.httpUrl)}`);
      await page.click('#down');
      await page.waitForFunction("document.getElementById('status').textContent !== ''", null, { timeout: 10_000 });
      expect(await page.textContent('#status')).toMatch(/^Not sent: /);
      expect(await other.query(`SELECT count(*)::int AS n FROM verdict.evaluations`)).toEqual([{ n: 0 }]);
      await page.close();
    } finally {
      await other.close();
    }
  });
});
