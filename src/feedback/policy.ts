/**
 * What an emitter does not say about a verdict, decided from configuration:
 *
 * - polarity (positive / negative / neutral), from the label through a map
 *   (defaults below, extended by `feedback.polarity.labels`), else from the
 *   score through per-evaluation thresholds; NULL when neither applies;
 * - the feedback source of an OTLP verdict without `verdict.feedback.source`,
 *   from an ordered list of rules on the evaluation name and the emitting
 *   service.name; NULL when no rule matches (never guessed).
 */
import { ConfigError } from '../errors.ts';
import type { EvaluationPolicy } from '../normalize/evaluations.ts';
import { FEEDBACK_SOURCES, isFeedbackSource } from '../normalize/genai.ts';
import type { Polarity } from '../model/rows.ts';
import { globToRegExp } from '../common/util.ts';

/**
 * Labels evaluators commonly use (semantic-conventions-genai's examples
 * `relevant`, `not_relevant`, `correct`, `incorrect`, `pass`, `fail`, and
 * those of common judges and feedback widgets). Matched after lower-casing
 * and turning spaces and dashes into underscores.
 */
export const DEFAULT_LABELS: Readonly<Record<string, Polarity>> = Object.freeze({
  pass: 'positive', passed: 'positive', correct: 'positive', relevant: 'positive', good: 'positive', positive: 'positive',
  thumbs_up: 'positive', thumbsup: 'positive', up: 'positive', yes: 'positive', accept: 'positive', accepted: 'positive',
  approved: 'positive', helpful: 'positive', success: 'positive', grounded: 'positive', faithful: 'positive', safe: 'positive',
  resolved: 'positive', satisfied: 'positive',
  fail: 'negative', failed: 'negative', incorrect: 'negative', not_relevant: 'negative', irrelevant: 'negative', bad: 'negative',
  negative: 'negative', thumbs_down: 'negative', thumbsdown: 'negative', down: 'negative', no: 'negative', reject: 'negative',
  rejected: 'negative', unhelpful: 'negative', not_helpful: 'negative', failure: 'negative', hallucinated: 'negative',
  hallucination: 'negative', ungrounded: 'negative', unfaithful: 'negative', unsafe: 'negative', toxic: 'negative',
  frustrated: 'negative', reverted: 'negative', reopened: 'negative', reasked: 'negative', error: 'negative', unsatisfied: 'negative',
  neutral: 'neutral', partial: 'neutral', partially_correct: 'neutral', partially_relevant: 'neutral', mixed: 'neutral',
});

export interface Thresholds {
  negative_below?: number;
  negative_from?: number;
  positive_below?: number;
  positive_from?: number;
}

export interface SourceRule {
  name?: RegExp;
  service?: RegExp;
  source: string;
}

export interface FeedbackConfig {
  labels: Readonly<Record<string, Polarity>>;
  thresholds: ReadonlyArray<{ name: RegExp; limits: Thresholds }>;
  sources: readonly SourceRule[];
}

export const normaliseLabel = (label: string): string => label.trim().toLowerCase().replace(/[\s-]+/g, '_');

const POLARITIES = ['positive', 'negative', 'neutral'];
const LIMITS = ['negative_below', 'negative_from', 'positive_below', 'positive_from'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the `feedback:` section of the config file; every message names the offending path. */
export function parseFeedbackConfig(raw: unknown): FeedbackConfig {
  const cfg = raw ?? {};
  if (!isObject(cfg)) throw new ConfigError('feedback: must be a mapping with polarity and sources');
  for (const k of Object.keys(cfg)) if (k !== 'polarity' && k !== 'sources') throw new ConfigError(`feedback.${k}: unknown setting (expected polarity or sources)`);
  const polarity = cfg.polarity ?? {};
  if (!isObject(polarity)) throw new ConfigError('feedback.polarity: must be a mapping with labels and thresholds');
  for (const k of Object.keys(polarity)) if (k !== 'labels' && k !== 'thresholds') throw new ConfigError(`feedback.polarity.${k}: unknown setting (expected labels or thresholds)`);

  const labels: Record<string, Polarity> = { ...DEFAULT_LABELS };
  const labelMap = polarity.labels ?? {};
  if (!isObject(labelMap)) throw new ConfigError('feedback.polarity.labels: must map labels to positive, negative or neutral');
  for (const [label, p] of Object.entries(labelMap)) {
    if (typeof p !== 'string' || !POLARITIES.includes(p)) throw new ConfigError(`feedback.polarity.labels.${label}: must be positive, negative or neutral, got ${JSON.stringify(p)}`);
    labels[normaliseLabel(label)] = p as Polarity;
  }

  const thresholds: Array<{ name: RegExp; limits: Thresholds }> = [];
  const th = polarity.thresholds ?? {};
  if (!isObject(th)) throw new ConfigError('feedback.polarity.thresholds: must map evaluation names to limits');
  for (const [name, limits] of Object.entries(th)) {
    const at = `feedback.polarity.thresholds.${name}`;
    if (!isObject(limits) || Object.keys(limits).length === 0) throw new ConfigError(`${at}: must set some of ${LIMITS.join(', ')}`);
    for (const [k, v] of Object.entries(limits)) {
      if (!LIMITS.includes(k)) throw new ConfigError(`${at}.${k}: unknown limit (expected ${LIMITS.join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${at}.${k}: must be a number, got ${JSON.stringify(v)}`);
    }
    thresholds.push({ name: globToRegExp(name), limits: limits as Thresholds });
  }

  const sources: SourceRule[] = [];
  const list = cfg.sources ?? [];
  if (!Array.isArray(list)) throw new ConfigError('feedback.sources: must be a list of {name, service, source}');
  list.forEach((rule: unknown, i) => {
    const at = `feedback.sources[${i}]`;
    if (!isObject(rule)) throw new ConfigError(`${at}: must be a mapping`);
    for (const k of Object.keys(rule)) if (!['name', 'service', 'source'].includes(k)) throw new ConfigError(`${at}.${k}: unknown setting (expected name, service, source)`);
    if (!isFeedbackSource(rule.source)) throw new ConfigError(`${at}.source: must be one of ${FEEDBACK_SOURCES.join(', ')}, got ${JSON.stringify(rule.source)}`);
    if (rule.name === undefined && rule.service === undefined) throw new ConfigError(`${at}: needs a name or a service pattern`);
    for (const k of ['name', 'service'] as const) {
      if (rule[k] !== undefined && (typeof rule[k] !== 'string' || rule[k] === '')) throw new ConfigError(`${at}.${k}: must be a non-empty pattern string`);
    }
    sources.push({
      ...(typeof rule.name === 'string' ? { name: globToRegExp(rule.name) } : {}),
      ...(typeof rule.service === 'string' ? { service: globToRegExp(rule.service) } : {}),
      source: rule.source,
    });
  });
  return Object.freeze({ labels: Object.freeze(labels), thresholds, sources });
}

/** Polarity of a score under thresholds; neutral when thresholds exist but none is crossed. */
function byScore(score: number, t: Thresholds): Polarity {
  if ((t.negative_below !== undefined && score < t.negative_below) || (t.negative_from !== undefined && score >= t.negative_from)) return 'negative';
  if ((t.positive_below !== undefined && score < t.positive_below) || (t.positive_from !== undefined && score >= t.positive_from)) return 'positive';
  return 'neutral';
}

export function createPolicy(cfg: FeedbackConfig): EvaluationPolicy {
  return {
    polarityFor(name, label, score) {
      if (label !== null) {
        const p = cfg.labels[normaliseLabel(label)];
        if (p) return p;
      }
      if (score !== null) {
        const t = cfg.thresholds.find((x) => x.name.test(name));
        if (t) return byScore(score, t.limits);
      }
      return null;
    },
    sourceFor(name, serviceName) {
      for (const r of cfg.sources) {
        if (r.name && !r.name.test(name)) continue;
        if (r.service && (serviceName === null || !r.service.test(serviceName))) continue;
        return r.source;
      }
      return null;
    },
  };
}
