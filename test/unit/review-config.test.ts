/**
 * The `review:` section: docs/review.md's example is valid, each mistake is
 * refused with a message naming the field, and the pure decisions (which
 * runs a filter takes, which reason a run is queued for) do what
 * docs/review.md says.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readInputs } from '../../src/app/inputs.ts';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { ReloadableReview } from '../../src/review/reloadable.ts';
import { parseReviewConfig, type QueueConfig } from '../../src/review/config.ts';
import { matchesRun, type RunFacts } from '../../src/review/filter.ts';
import { calibrated, reasonFor, sampled, traceFraction, type RunVerdict } from '../../src/review/reasons.ts';
import { examples } from '../helpers/markdown.ts';
import { tempDir } from '../helpers/tmp.ts';

const DOC = new URL('../../docs/review.md', import.meta.url);
const FORM = { evaluations: [{ name: 'ok', labels: [{ label: 'yes', polarity: 'positive' }] }] };
const base = (queue: Record<string, unknown> = {}) => ({ reviewers: [{ name: 'ana', token: 'a'.repeat(16) }], queues: [{ name: 'q', form: FORM, ...queue }] });

describe('the review section', () => {
  it('accepts docs/review.md\'s example', () => {
    const [example] = examples(DOC).filter((e) => e.kind === 'review-config');
    const cfg = parseReviewConfig((parseYaml(example!.code) as { review: unknown }).review);
    expect(cfg.queues.map((q) => q.name)).toEqual(['support-quality', 'judge-check']);
    const q = cfg.queues[0]!;
    expect([q.sample, q.dailyCap, q.leaseMs, q.alwaysWhen.ruleHit, q.alwaysWhen.calibration, q.form.correction]).toEqual([0.05, 200, 600_000, ['user_frustration', 'repeat'], 0.1, true]);
    expect(cfg.reviewers.map((r) => r.name)).toEqual(['ana', 'bo']);
  });

  it.each([
    [{ queues: [] , reviewers: 'x' }, 'review.reviewers: must be a list of {name, token}'],
    [{ reviewers: [{ name: 'ana', token: 'short' }] }, 'review.reviewers[0].token: must be a bearer token of at least 16 characters without spaces'],
    [{ reviewers: [{ name: 'ana', token: 'a'.repeat(16) }, { name: 'ana', token: 'b'.repeat(16) }] }, 'review.reviewers[1].name: "ana" names two reviewers'],
    [{ queues: [{ name: 'q', form: FORM }] }, 'review.reviewers: queues need at least one reviewer with a token'],
    [base({ sample: 5 }), 'review.queues[0].sample: must be a share between 0 and 1, got 5'],
    [base({ name: 'a queue' }), 'review.queues[0].name: must be a name of letters, digits, \'_\', \'.\' or \'-\' (it appears in URLs), got "a queue"'],
    [base({ lease: '10' }), 'review.queues[0].lease: must be a duration from 1s to 24h such as 90s, 10m or 1h, got "10"'],
    [base({ daily_cap: 0 }), 'review.queues[0].daily_cap: must be a positive whole number of items a day, got 0'],
    [base({ always_when: { calibraton: 0.1 } }), 'review.queues[0].always_when.calibraton: unknown setting (expected negative_user_verdict, rule_hit, judge_disagreement, judge_near_threshold, calibration)'],
    [base({ always_when: { judge_near_threshold: { threshold: 0.5 } } }), 'review.queues[0].always_when.judge_near_threshold.margin: must be a number, got undefined'],
    [base({ where: { servce: 'x' } }), 'review.queues[0].where.servce: unknown condition (expected service, agent, model, operation, has_error, attributes, has_verdict)'],
    [base({ where: { has_verdict: { polarity: 'bad' } } }), 'review.queues[0].where.has_verdict.polarity: must be positive, negative or neutral, got "bad"'],
    [base({ form: { evaluations: [{ name: 'ok', labels: [{ label: 'yes', polarity: 'good' }] }] } }), 'review.queues[0].form.evaluations[0].labels[0].polarity: must be one of positive, negative, neutral, got "good"'],
    [base({ form: { evaluations: [{ name: 'ok' }] } }), 'review.queues[0].form.evaluations[0]: give labels, a score range, or both'],
    [base({ form: { evaluations: [{ name: 'ok', score: { min: 5, max: 1 } }] } }), 'review.queues[0].form.evaluations[0].score: min and max must be numbers with min below max, got {"min":5,"max":1}'],
    [{ ...base(), queues: [{ name: 'q', form: FORM }, { name: 'q', form: FORM }] }, 'review.queues[1].name: "q" names two queues'],
  ])('refuses %j: %s', (raw, message) => {
    expect(() => parseReviewConfig(raw)).toThrow(new ConfigError(message));
  });
});

const facts = (over: Partial<RunFacts> = {}): RunFacts => ({ service: 'support-agent', agent: 'support', model: 'gpt-4o', operation: 'invoke_agent', errors: 0, attributes: { env: 'prod' }, ...over });
const queueWith = (queue: Record<string, unknown>): QueueConfig => parseReviewConfig(base(queue)).queues[0]!;

describe('the where filter', () => {
  const q = queueWith({ where: { service: 'support-*', operation: 'invoke_*', has_error: false, attributes: { env: 'prod' }, has_verdict: { source: 'llm_judge', name: 'rel*' } } });
  const judge = [{ name: 'relevance', source: 'llm_judge', polarity: 'positive' }];
  it.each([
    ['all conditions hold', facts(), judge, true],
    ['another service', facts({ service: 'billing' }), judge, false],
    ['another root operation', facts({ operation: 'chat' }), judge, false],
    ['an error', facts({ errors: 1 }), judge, false],
    ['another attribute value', facts({ attributes: { env: 'staging' } }), judge, false],
    ['no root span yet', facts({ attributes: null }), judge, false],
    ['no matching verdict', facts(), [{ name: 'relevance', source: 'user', polarity: 'positive' }], false],
  ])('%s', (_name, run, verdicts, expected) => {
    expect(matchesRun(q.where, run, verdicts)).toBe(expected);
  });
});

describe('the reason a run is queued for', () => {
  const q = queueWith({
    sample: 0, always_when: { negative_user_verdict: true, rule_hit: ['frustration'], judge_disagreement: true, judge_near_threshold: { threshold: 0.5, margin: 0.1 }, calibration: 1 },
  });
  const v = (source: string, polarity: string | null, extra: Partial<RunVerdict> = {}): RunVerdict => ({ name: 'x', source, polarity, score: null, label: null, ...extra });
  it.each([
    ['a negative user verdict', [v('user', 'negative'), v('llm_judge', 'positive', { score: 0.5 })], 'negative_user_verdict'],
    ['a named rule that fired', [v('rule', 'negative', { name: 'frustration' })], 'rule_hit'],
    ['another rule is not a hit', [v('rule', 'negative', { name: 'repeat' })], null],
    ['a judge against a reviewer', [v('llm_judge', 'positive'), v('reviewer', 'negative')], 'judge_disagreement'],
    ['a judge against a judge', [v('llm_judge', 'negative'), v('llm_judge', 'positive')], 'judge_disagreement'],
    ['a neutral human is no disagreement', [v('llm_judge', 'negative', { score: 0.9 }), v('user', 'neutral')], 'calibration'],
    ['a judge score near the threshold', [v('llm_judge', null, { score: 0.59 })], 'judge_near_threshold'],
    ['a judge score far from it, calibrated', [v('llm_judge', null, { score: 0.61 })], 'calibration'],
    ['a user alone, positive', [v('user', 'positive')], null],
  ])('%s', (_name, verdicts, expected) => {
    expect(reasonFor(q, 'a'.repeat(32), verdicts)?.reason ?? null).toBe(expected);
  });

  it('samples and calibrates by trace ID, independently per queue', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => i.toString(16).padStart(32, '0'));
    const a = queueWith({ name: 'a', sample: 0.3, always_when: { calibration: 0.3 } });
    const b = { ...a, name: 'b' };
    const inA = ids.filter((id) => sampled(a, id));
    expect(inA.length).toBeGreaterThan(520);
    expect(inA.length).toBeLessThan(680);
    // The same decision every time, and another queue picks other runs.
    expect(ids.filter((id) => sampled(a, id))).toEqual(inA);
    const both = inA.filter((id) => sampled(b, id)).length;
    expect(both).toBeLessThan(inA.length * 0.45);
    // Calibration is not the sample under another name.
    expect(inA.filter((id) => calibrated(a, id)).length).toBeLessThan(inA.length * 0.45);
    expect(traceFraction(ids[0]!, 'x')).toBeGreaterThanOrEqual(0);
    expect(traceFraction(ids[0]!, 'x')).toBeLessThan(1);
  });
});

describe('the review section in the config file', () => {
  const yaml = (queue: string) => `review:
  reviewers:
    - { name: ana, token: ${'r'.repeat(20)} }
  queues:
    - name: ${queue}
      sample: 0.5
      form: { evaluations: [{ name: ok, labels: [{ label: yes, polarity: positive }] }] }
`;

  it('is read with the settings, and a reviewer token that is also an ingest token stops start-up', () => {
    const file = join(tempDir('review'), 'verdict.yaml');
    writeFileSync(file, yaml('first'));
    const cfg = loadConfig({ argv: ['--config', file], env: {} });
    expect(cfg.review.queues.map((q) => q.name)).toEqual(['first']);
    expect(readInputs(cfg, silentLogger).review.current().reviewers.map((r) => r.name)).toEqual(['ana']);
    const shared = loadConfig({ argv: ['--config', file], env: { VERDICT_AUTH_TOKENS: 'r'.repeat(20) } });
    expect(() => readInputs(shared, silentLogger)).toThrow(new ConfigError('review.reviewers: the token of "ana" is also an ingest token (--auth-tokens); give reviewers tokens of their own'));
  });

  it('names the file with a bad field', () => {
    const file = join(tempDir('review'), 'verdict.yaml');
    writeFileSync(file, yaml('a queue'));
    expect(() => loadConfig({ argv: ['--config', file], env: {} })).toThrow(/^review\.queues\[0\]\.name: must be a name .* \(in .*verdict\.yaml\)$/);
  });

  it('is reloaded from the file, and a section that no longer validates leaves the previous one in force', () => {
    const file = join(tempDir('review'), 'verdict.yaml');
    writeFileSync(file, yaml('first'));
    const r = new ReloadableReview(file, loadConfig({ argv: ['--config', file], env: {} }).review, silentLogger);
    writeFileSync(file, yaml('second'));
    expect(r.reload()).toBe(true);
    expect(r.current().queues.map((q) => q.name)).toEqual(['second']);
    writeFileSync(file, yaml('not valid'));
    expect(r.reload()).toBe(false);
    expect(r.current().queues.map((q) => q.name)).toEqual(['second']);
  });
});
