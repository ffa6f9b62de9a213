/** Polarity and source attribution from configuration, and their validation. */
import { describe, expect, it } from 'vitest';
import { createPolicy, parseFeedbackConfig } from '../../src/feedback/policy.ts';

describe('polarity', () => {
  const policy = createPolicy(parseFeedbackConfig({
    polarity: {
      labels: { meh: 'neutral', 'Not Great': 'negative' },
      thresholds: { Relevance: { negative_below: 0.5, positive_from: 0.8 }, 'toxicity*': { negative_from: 0.5, positive_below: 0.1 } },
    },
  }));
  it.each([
    ['pass', 'positive'], ['FAIL', 'negative'], ['relevant', 'positive'], ['not_relevant', 'negative'], ['Not Relevant', 'negative'],
    ['thumbs-down', 'negative'], ['thumbs_up', 'positive'], ['negative', 'negative'], ['correct', 'positive'], ['incorrect', 'negative'],
    ['partial', 'neutral'], ['meh', 'neutral'], ['not great', 'negative'], ['blue', null],
  ])('label %s → %s', (label, expected) => {
    expect(policy.polarityFor('anything', label, null)).toBe(expected);
  });
  it.each([
    ['Relevance', 0.2, 'negative'], ['Relevance', 0.5, 'neutral'], ['Relevance', 0.8, 'positive'], ['toxicity_v2', 0.9, 'negative'],
    ['toxicity_v2', 0.05, 'positive'], ['toxicity_v2', 0.3, 'neutral'], ['Other', 0.9, null],
  ])('score of %s = %d → %s', (name, score, expected) => {
    expect(policy.polarityFor(name as string, null, score as number)).toBe(expected);
  });
  it('prefers a known label over the score', () => {
    expect(policy.polarityFor('Relevance', 'fail', 0.95)).toBe('negative');
    expect(policy.polarityFor('Relevance', 'blue', 0.95)).toBe('positive');
  });
});

describe('source attribution', () => {
  const policy = createPolicy(parseFeedbackConfig({
    sources: [
      { name: 'user_*', source: 'user' },
      { service: 'ragas-*', source: 'llm_judge' },
      { name: 'ticket_reopened', service: 'helpdesk', source: 'indirect' },
    ],
  }));
  it.each([
    ['user_rating', 'web', 'user'], ['Faithfulness', 'ragas-worker', 'llm_judge'], ['ticket_reopened', 'helpdesk', 'indirect'],
    ['ticket_reopened', 'crm', null], ['Faithfulness', null, null], ['anything', 'anywhere', null],
  ])('%s from %s → %s', (name, service, expected) => {
    expect(policy.sourceFor(name as string, service as string | null)).toBe(expected);
  });
});

describe('parseFeedbackConfig', () => {
  it.each([
    [{ polarity: { labels: { x: 'good' } } }, 'feedback.polarity.labels.x: must be positive, negative or neutral, got "good"'],
    [{ polarity: { thresholds: { R: { above: 1 } } } }, 'feedback.polarity.thresholds.R.above: unknown limit (expected negative_below, negative_from, positive_below, positive_from)'],
    [{ polarity: { thresholds: { R: { negative_below: 'x' } } } }, 'feedback.polarity.thresholds.R.negative_below: must be a number, got "x"'],
    [{ sources: [{ name: 'x', source: 'human' }] }, 'feedback.sources[0].source: must be one of user, indirect, llm_judge, rule, reviewer, got "human"'],
    [{ sources: [{ source: 'user' }] }, 'feedback.sources[0]: needs a name or a service pattern'],
    [{ polarity: { lables: {} } }, 'feedback.polarity.lables: unknown setting (expected labels or thresholds)'],
    [{ source: [] }, 'feedback.source: unknown setting (expected polarity or sources)'],
  ])('refuses %j', (cfg, message) => {
    expect(() => parseFeedbackConfig(cfg)).toThrow(message);
  });
});
