/**
 * --admin-port: health, readiness and metrics on a listener of their own (a
 * worker thread), the ingest port keeping /healthz and /readyz but sending
 * scrapes to the admin port; a flood of scrapes is answered at the admin
 * listener's pace and renders the metrics at most about once a second.
 */
import { describe, expect, it } from 'vitest';
import { hexId, postJson, traceJson } from '../helpers/otlp.ts';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';

describe.each(BACKENDS)('admin port on %s', (backend) => {
  const t = serverForSuite(backend, { adminPort: 0 });
  const admin = () => `http://${t.server.adminAddresses[0]}`;

  it('serves /healthz, /readyz and /metrics on its own port; the ingest port sends scrapes there', async () => {
    expect(t.server.adminAddresses).toHaveLength(1);
    expect(admin()).not.toBe(t.httpUrl);
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson([{ traceId: hexId(16, 1), spanId: hexId(8, 1), name: 'x', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]))).status).toBe(200);
    const health = await fetch(`${admin()}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    // The admin thread hears readiness every 250 ms: the first answers may still be start-up's.
    await waitUntil('the admin port ready', async () => (await fetch(`${admin()}/readyz`)).status === 200, { timeoutMs: 10_000, everyMs: 50 });
    const ready = await fetch(`${admin()}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    // Rendered after the export: it is counted.
    await new Promise((r) => setTimeout(r, 1100));
    const metrics = await fetch(`${admin()}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^verdict_receiver_accepted_spans_total\{.*\} [1-9]/m);
    const onIngest = await fetch(`${t.httpUrl}/metrics`);
    expect(onIngest.status).toBe(404);
    expect(((await onIngest.json()) as { message: string }).message).toBe('metrics are on the admin port (--admin-port)');
    expect((await fetch(`${t.httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${admin()}/v1/traces`)).status).toBe(404);
  });

  it('answers a flood of scrapes at its own pace (50 a second), from one rendering a second', async () => {
    let renders = 0;
    const original = t.server.metrics.registry.metrics.bind(t.server.metrics.registry);
    t.server.metrics.registry.metrics = async () => {
      renders++;
      return original();
    };
    try {
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 16 }, async () => {
        let ok = 0;
        for (let i = 0; i < 12; i++) if ((await fetch(`${admin()}/metrics`)).status === 200) ok++;
        return ok;
      }));
      const seconds = (Date.now() - started) / 1000;
      expect(answers.reduce((a, b) => a + b, 0)).toBe(192);
      // 192 answers at 50 a second, after a burst of 50: the flood is slowed, not served at its own rate.
      expect(seconds).toBeGreaterThan((192 - 50) / 50 - 0.5);
      expect(renders).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    } finally {
      t.server.metrics.registry.metrics = original;
    }
  });
});
