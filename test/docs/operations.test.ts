/** docs/operations.md keeps up with the code: every setting and every metric is documented. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.ts';
import { JudgeMetrics } from '../../src/judges/metrics.ts';
import { Metrics } from '../../src/metrics.ts';

const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

describe('docs/operations.md', () => {
  it.each(SETTINGS.map((s) => [s.name, s] as const))('documents the setting %s as flag, variable and file key', (_name, s) => {
    expect(doc).toContain(`| \`--${s.name.replaceAll('_', '-')}\` | \`${s.env}\` | \`${s.name}\` |`);
  });

  it('documents every Verdict metric', async () => {
    const m = new Metrics(() => ({ rows: 0, bytes: 0 }));
    new JudgeMetrics(m.registry);
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => !/^verdict_(process|nodejs)_/.test(n));
    expect(names.length).toBeGreaterThan(10);
    for (const n of names) expect(doc, n).toContain(n);
  });
});
