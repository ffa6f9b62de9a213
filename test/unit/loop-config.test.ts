/**
 * The `learning_loop:` section of the config file and the export's options:
 * defaults, what is accepted, and errors that name the field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { parseLoopConfig } from '../../src/loop/config.ts';
import { parseExportOptions } from '../../src/loop/options.ts';

describe('learning_loop configuration', () => {
  it('has documented defaults', () => {
    expect(parseLoopConfig(undefined)).toEqual({ pairs: [], kappaThreshold: 0.6, pairSpanWithRun: true, contextAttribute: 'verdict.context.version', changeZ: 1.96, minVerdicts: 20 });
  });

  it('reads pairs with one or several human evaluations, once each', () => {
    const c = parseLoopConfig({ judge_pairs: [{ judge: 'helpfulness', human: ['thumbs', 'review'] }, { judge: 'helpfulness', human: 'thumbs' }] });
    expect(c.pairs).toEqual([{ judge: 'helpfulness', human: 'thumbs' }, { judge: 'helpfulness', human: 'review' }]);
  });

  it.each([
    [{ kappa: 1 }, 'learning_loop.kappa: unknown setting'],
    [{ kappa_threshold: 2 }, 'learning_loop.kappa_threshold: must be a kappa between -1 and 1, got 2'],
    [{ judge_pairs: [{ judge: 'a' }] }, 'learning_loop.judge_pairs[0].human: must be an evaluation name, got undefined'],
    [{ judge_pairs: [{ judge: 'a', human: ['b', ''] }] }, 'learning_loop.judge_pairs[0].human[1]: must be an evaluation name, got ""'],
    [{ pair_span_with_run: 'yes' }, 'learning_loop.pair_span_with_run: must be true or false, got "yes"'],
    [{ min_verdicts: 0 }, 'learning_loop.min_verdicts: must be a positive integer, got 0'],
  ])('refuses %j naming the field', (raw, message) => {
    expect(() => parseLoopConfig(raw)).toThrow(ConfigError);
    expect(() => parseLoopConfig(raw)).toThrow(message);
  });

  it('is read from the config file next to feedback:, and its errors name the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'verdict-loop-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'learning_loop:\n  kappa_threshold: 0.7\n  judge_pairs:\n    - judge: j\n      human: h\n');
    expect(loadConfig({ argv: ['--config', good], env: {} }).learningLoop).toMatchObject({ kappaThreshold: 0.7, pairs: [{ judge: 'j', human: 'h' }] });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'learning_loop:\n  change_z: -1\n');
    expect(() => loadConfig({ argv: ['--config', bad], env: {} })).toThrow(`learning_loop.change_z: must be a positive z value such as 1.96, got -1 (in ${bad})`);
  });
});

describe('export options', () => {
  const parse = (v: Record<string, string | boolean>) => parseExportOptions(v, (m) => new ConfigError(m), (n) => `--${n}`, Date.UTC(2026, 2, 10));

  it('reads ages and times, cursors and limits', () => {
    expect(parse({ since: '7d', until: '2026-03-09T12:00:00Z', after: '1772438400000000000-ab12', limit: '10', correction: true })).toEqual({
      format: 'verdict', since: new Date(Date.UTC(2026, 2, 3)), until: new Date(Date.UTC(2026, 2, 9, 12)),
      after: { startNs: '1772438400000000000', traceId: 'ab12' }, limit: 10, correction: true,
    });
  });

  it.each([
    [{ format: 'csv' }, 'invalid --format: "csv"; formats: verdict, messages, dataset'],
    [{ since: 'yesterday' }, 'invalid --since: "yesterday" is not a time'],
    [{ after: '12-XYZ' }, 'invalid --after: "12-XYZ" is not a cursor'],
    [{ source: 'crowd' }, 'invalid --source: "crowd"; one of user, indirect, llm_judge, rule, reviewer'],
    [{ limit: '0' }, 'invalid --limit: "0" is not a positive integer'],
  ])('refuses %j', (v, message) => {
    expect(() => parse(v)).toThrow(message);
  });
});
