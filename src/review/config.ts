/**
 * The `review:` section of the config file: the review queues (which runs
 * each takes, why, how many a day, and the verdict form) and the reviewers
 * with their bearer tokens. Validated at start-up; every message names the
 * field. docs/review.md explains each setting.
 *
 *   review:
 *     reviewers:
 *       - name: ana
 *         token: 3f1c…                       # at least 16 characters; not an ingest token
 *     queues:
 *       - name: support-quality
 *         where: { service: support-*, has_error: false }
 *         sample: 0.05                        # share of eligible runs, decided from the trace ID
 *         always_when:
 *           negative_user_verdict: true
 *           rule_hit: true                    # or a list of rule (evaluation) names
 *           judge_disagreement: true
 *           judge_near_threshold: { threshold: 0.5, margin: 0.1 }
 *           calibration: 0.1                  # share of judge-scored runs
 *         daily_cap: 200
 *         lease: 10m
 *         form:
 *           evaluations:
 *             - name: correctness
 *               labels: [{ label: correct, polarity: positive, score: 1 }, { label: incorrect, polarity: negative, score: 0 }]
 *           correction: true
 */
import { ConfigError } from '../errors.ts';
import type { Polarity } from '../model/rows.ts';
import { parseWhere, type RunFilter } from './filter.ts';

export const REASONS = ['negative_user_verdict', 'rule_hit', 'judge_disagreement', 'judge_near_threshold', 'calibration'] as const;
export type AlwaysReason = (typeof REASONS)[number];
export type Reason = AlwaysReason | 'sampled';

export interface FormLabel {
  label: string;
  polarity: Polarity;
  score: number | null;
}

export interface FormEvaluation {
  name: string;
  labels: readonly FormLabel[];
  /** Allowed score range when the reviewer gives a number; null: labels only. */
  score: { min: number; max: number } | null;
}

export interface ReviewForm {
  evaluations: readonly FormEvaluation[];
  /** Whether the form asks for a written correction (the expected answer). */
  correction: boolean;
}

export interface AlwaysWhen {
  negativeUserVerdict: boolean;
  /** null: off; [] any rule's verdict; else only these evaluation names. */
  ruleHit: readonly string[] | null;
  judgeDisagreement: boolean;
  judgeNearThreshold: { threshold: number; margin: number } | null;
  /** Share of judge-scored runs queued for calibration; 0: off. */
  calibration: number;
}

export interface QueueConfig {
  name: string;
  description: string | null;
  where: RunFilter;
  sample: number;
  alwaysWhen: AlwaysWhen;
  dailyCap: number | null;
  leaseMs: number;
  form: ReviewForm;
}

export interface Reviewer {
  name: string;
  token: string;
}

export interface ReviewConfig {
  queues: readonly QueueConfig[];
  reviewers: readonly Reviewer[];
}

export const EMPTY_REVIEW: ReviewConfig = Object.freeze({ queues: Object.freeze([]), reviewers: Object.freeze([]) });

/** Ten minutes: long enough to read a long run, short enough that an abandoned item comes back soon. */
export const DEFAULT_LEASE_MS = 10 * 60_000;
const MIN_TOKEN = 16;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

function keys(v: Record<string, unknown>, at: string, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new ConfigError(`${at}.${k}: unknown setting (expected ${allowed.join(', ')})`);
}

const QUEUE_KEYS = ['name', 'description', 'where', 'sample', 'always_when', 'daily_cap', 'lease', 'form'];
const ALWAYS_KEYS = ['negative_user_verdict', 'rule_hit', 'judge_disagreement', 'judge_near_threshold', 'calibration'];

export function parseReviewConfig(raw: unknown): ReviewConfig {
  if (raw === undefined || raw === null) return EMPTY_REVIEW;
  if (!isObject(raw)) throw new ConfigError('review: must be a mapping with queues and reviewers');
  keys(raw, 'review', ['queues', 'reviewers']);
  const reviewers = parseReviewers(raw.reviewers ?? []);
  const list = raw.queues ?? [];
  if (!Array.isArray(list)) throw new ConfigError('review.queues: must be a list of queues');
  const queues = list.map((q: unknown, i) => parseQueue(q, `review.queues[${i}]`));
  const seen = new Set<string>();
  queues.forEach((q, i) => {
    if (seen.has(q.name)) throw new ConfigError(`review.queues[${i}].name: ${JSON.stringify(q.name)} names two queues`);
    seen.add(q.name);
  });
  if (queues.length > 0 && reviewers.length === 0) throw new ConfigError('review.reviewers: queues need at least one reviewer with a token');
  return Object.freeze({ queues: Object.freeze(queues), reviewers: Object.freeze(reviewers) });
}

function parseReviewers(list: unknown): Reviewer[] {
  if (!Array.isArray(list)) throw new ConfigError('review.reviewers: must be a list of {name, token}');
  const names = new Set<string>();
  const tokens = new Set<string>();
  return list.map((r: unknown, i) => {
    const at = `review.reviewers[${i}]`;
    if (!isObject(r)) throw new ConfigError(`${at}: must be a mapping with name and token`);
    keys(r, at, ['name', 'token']);
    if (!nonEmpty(r.name)) throw new ConfigError(`${at}.name: must be the reviewer's name, got ${JSON.stringify(r.name)}`);
    const name = r.name.trim();
    if (names.has(name)) throw new ConfigError(`${at}.name: ${JSON.stringify(name)} names two reviewers`);
    if (typeof r.token !== 'string' || r.token.trim().length < MIN_TOKEN || /\s/.test(r.token.trim())) {
      // The value is not quoted back: it is a secret.
      throw new ConfigError(`${at}.token: must be a bearer token of at least ${MIN_TOKEN} characters without spaces`);
    }
    const token = r.token.trim();
    if (tokens.has(token)) throw new ConfigError(`${at}.token: the same token is given to two reviewers`);
    names.add(name);
    tokens.add(token);
    return Object.freeze({ name, token });
  });
}

function share(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw new ConfigError(`${at}: must be a share between 0 and 1, got ${JSON.stringify(v)}`);
  return v;
}

function parseQueue(raw: unknown, at: string): QueueConfig {
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with ${QUEUE_KEYS.join(', ')}`);
  keys(raw, at, QUEUE_KEYS);
  if (typeof raw.name !== 'string' || !NAME.test(raw.name)) {
    throw new ConfigError(`${at}.name: must be a name of letters, digits, '_', '.' or '-' (it appears in URLs), got ${JSON.stringify(raw.name)}`);
  }
  if (raw.description !== undefined && !nonEmpty(raw.description)) throw new ConfigError(`${at}.description: must be text`);
  const sample = raw.sample === undefined ? 0 : share(raw.sample, `${at}.sample`);
  const alwaysWhen = parseAlways(raw.always_when, `${at}.always_when`);
  let dailyCap: number | null = null;
  if (raw.daily_cap !== undefined && raw.daily_cap !== null) {
    if (typeof raw.daily_cap !== 'number' || !Number.isInteger(raw.daily_cap) || raw.daily_cap < 1 || raw.daily_cap > 1_000_000) {
      throw new ConfigError(`${at}.daily_cap: must be a positive whole number of items a day, got ${JSON.stringify(raw.daily_cap)}`);
    }
    dailyCap = raw.daily_cap;
  }
  const leaseMs = raw.lease === undefined ? DEFAULT_LEASE_MS : duration(raw.lease, `${at}.lease`);
  const form = parseForm(raw.form, `${at}.form`);
  return Object.freeze({
    name: raw.name,
    description: nonEmpty(raw.description) ? raw.description.trim() : null,
    where: parseWhere(raw.where, `${at}.where`),
    sample,
    alwaysWhen,
    dailyCap,
    leaseMs,
    form,
  });
}

function duration(v: unknown, at: string): number {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(s|m|h)$/.exec(v.trim()) : null;
  const ms = m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'] : NaN;
  if (!(ms >= 1000 && ms <= 24 * 3_600_000)) throw new ConfigError(`${at}: must be a duration from 1s to 24h such as 90s, 10m or 1h, got ${JSON.stringify(v)}`);
  return Math.round(ms);
}

function parseAlways(raw: unknown, at: string): AlwaysWhen {
  const out: AlwaysWhen = { negativeUserVerdict: false, ruleHit: null, judgeDisagreement: false, judgeNearThreshold: null, calibration: 0 };
  if (raw === undefined || raw === null) return Object.freeze(out);
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with any of ${ALWAYS_KEYS.join(', ')}`);
  keys(raw, at, ALWAYS_KEYS);
  const flag = (k: string): boolean => {
    const v = raw[k];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new ConfigError(`${at}.${k}: must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  out.negativeUserVerdict = flag('negative_user_verdict');
  out.judgeDisagreement = flag('judge_disagreement');
  const rule = raw.rule_hit;
  if (rule === true) out.ruleHit = [];
  else if (Array.isArray(rule)) {
    if (rule.length === 0) throw new ConfigError(`${at}.rule_hit: name at least one rule, or say true for any`);
    out.ruleHit = rule.map((r: unknown, i) => {
      if (!nonEmpty(r)) throw new ConfigError(`${at}.rule_hit[${i}]: must be a rule's evaluation name, got ${JSON.stringify(r)}`);
      return r.trim();
    });
  } else if (rule !== undefined && rule !== false) throw new ConfigError(`${at}.rule_hit: must be true, false or a list of rule names, got ${JSON.stringify(rule)}`);
  const near = raw.judge_near_threshold;
  if (near !== undefined && near !== null) {
    if (!isObject(near)) throw new ConfigError(`${at}.judge_near_threshold: must be a mapping with threshold and margin`);
    keys(near, `${at}.judge_near_threshold`, ['threshold', 'margin']);
    for (const k of ['threshold', 'margin']) {
      const v = near[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${at}.judge_near_threshold.${k}: must be a number, got ${JSON.stringify(v)}`);
    }
    if ((near.margin as number) <= 0) throw new ConfigError(`${at}.judge_near_threshold.margin: must be above 0, got ${JSON.stringify(near.margin)}`);
    out.judgeNearThreshold = { threshold: near.threshold as number, margin: near.margin as number };
  }
  if (raw.calibration !== undefined) out.calibration = share(raw.calibration, `${at}.calibration`);
  return Object.freeze(out);
}

const POLARITIES = ['positive', 'negative', 'neutral'];

function parseForm(raw: unknown, at: string): ReviewForm {
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with evaluations (and correction)`);
  keys(raw, at, ['evaluations', 'correction']);
  if (!Array.isArray(raw.evaluations) || raw.evaluations.length === 0) throw new ConfigError(`${at}.evaluations: must list at least one evaluation`);
  let labelCount = 0;
  const names = new Set<string>();
  const evaluations = raw.evaluations.map((e: unknown, i): FormEvaluation => {
    const eat = `${at}.evaluations[${i}]`;
    if (!isObject(e)) throw new ConfigError(`${eat}: must be a mapping with name, labels and score`);
    keys(e, eat, ['name', 'labels', 'score']);
    if (!nonEmpty(e.name)) throw new ConfigError(`${eat}.name: must be an evaluation name, got ${JSON.stringify(e.name)}`);
    if (names.has(e.name.trim())) throw new ConfigError(`${eat}.name: ${JSON.stringify(e.name)} is in the form twice`);
    names.add(e.name.trim());
    const labels = (e.labels ?? []) as unknown;
    if (!Array.isArray(labels)) throw new ConfigError(`${eat}.labels: must be a list of {label, polarity, score}`);
    const parsed = labels.map((l: unknown, j): FormLabel => {
      const lat = `${eat}.labels[${j}]`;
      if (!isObject(l)) throw new ConfigError(`${lat}: must be a mapping with label and polarity`);
      keys(l, lat, ['label', 'polarity', 'score']);
      if (!nonEmpty(l.label)) throw new ConfigError(`${lat}.label: must be text, got ${JSON.stringify(l.label)}`);
      if (typeof l.polarity !== 'string' || !POLARITIES.includes(l.polarity)) throw new ConfigError(`${lat}.polarity: must be one of ${POLARITIES.join(', ')}, got ${JSON.stringify(l.polarity)}`);
      if (l.score !== undefined && (typeof l.score !== 'number' || !Number.isFinite(l.score))) throw new ConfigError(`${lat}.score: must be a number, got ${JSON.stringify(l.score)}`);
      return Object.freeze({ label: l.label.trim(), polarity: l.polarity as Polarity, score: typeof l.score === 'number' ? l.score : null });
    });
    labelCount += parsed.length;
    let score: FormEvaluation['score'] = null;
    if (e.score !== undefined && e.score !== null) {
      if (!isObject(e.score)) throw new ConfigError(`${eat}.score: must be a mapping with min and max`);
      keys(e.score, `${eat}.score`, ['min', 'max']);
      const { min, max } = e.score;
      if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max) || min >= max) {
        throw new ConfigError(`${eat}.score: min and max must be numbers with min below max, got ${JSON.stringify(e.score)}`);
      }
      score = { min, max };
    }
    if (parsed.length === 0 && score === null) throw new ConfigError(`${eat}: give labels, a score range, or both`);
    return Object.freeze({ name: e.name.trim(), labels: Object.freeze(parsed), score });
  });
  // The page picks labels with the keys 1-9.
  if (labelCount > 9) throw new ConfigError(`${at}.evaluations: at most 9 labels in all (the keys 1-9 pick them), got ${labelCount}`);
  const correction = raw.correction ?? false;
  if (typeof correction !== 'boolean') throw new ConfigError(`${at}.correction: must be true or false, got ${JSON.stringify(correction)}`);
  return Object.freeze({ evaluations: Object.freeze(evaluations), correction });
}
