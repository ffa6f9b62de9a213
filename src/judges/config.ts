/**
 * The `evaluators:` section of the config file: online LLM judges
 * (docs/evaluators.md). Validated at start-up, every message naming the
 * field (`evaluators[0].sample.rate: ...`); reloaded with the file
 * (reloadable.ts). Each evaluator gets a version, a hash of its prompt
 * template and output spec: changing either makes a new version, whose jobs
 * and verdicts are new, while the old verdicts keep the version they had.
 *
 *   evaluators:
 *     - name: relevance                  # the verdict's gen_ai.evaluation.name
 *       target: span                     # span | trace | conversation
 *       where: { operation: chat, service: "shop-*" }
 *       sample: { rate: 0.1, always_when: [{ has_verdict: { source: user, polarity: negative } }] }
 *       settle: 30s
 *       model: { base_url: https://api.openai.com/v1, model: gpt-4o-mini, api_key_env: OPENAI_API_KEY }
 *       prompt: "Question: {{input}}\nAnswer: {{output}}\nIs the answer relevant?"
 *       output: { labels: { relevant: positive, irrelevant: negative }, explanation: true }
 *       budget: { calls_per_minute: 60, tokens_per_day: 2000000 }
 *       timeout: 30s
 *       retries: 3
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { Polarity } from '../model/rows.ts';

export type TargetKind = 'span' | 'trace' | 'conversation';

/** The filter vocabulary shared with the review queues (`where:` and `always_when:`). */
export interface Filter {
  service?: RegExp;
  agent?: RegExp;
  model?: RegExp;
  operation?: RegExp;
  hasError?: boolean;
  attributes?: ReadonlyArray<readonly [string, string | number | boolean]>;
  hasVerdict?: { name?: string; source?: string; polarity?: Polarity };
}

export interface OutputSpec {
  score: { min: number; max: number; passAt: number | null } | null;
  /** Label → its polarity. */
  labels: ReadonlyMap<string, Polarity> | null;
  explanation: boolean;
}

export interface JudgeModel {
  baseUrl: string;
  model: string;
  apiKey: string | null;
  headers: Readonly<Record<string, string>>;
}

export interface Evaluator {
  name: string;
  version: string;
  target: TargetKind;
  where: Filter;
  rate: number;
  alwaysWhen: readonly Filter[];
  settleMs: number;
  model: JudgeModel;
  prompt: string;
  output: OutputSpec;
  callsPerMinute: number | null;
  tokensPerDay: number | null;
  timeoutMs: number;
  retries: number;
}

export const PLACEHOLDERS = ['input', 'output', 'messages', 'tool_calls', 'correction', 'trace_id', 'span_id', 'conversation_id'] as const;
export const DEFAULT_SETTLE_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 3;

const KEYS = ['name', 'target', 'where', 'sample', 'settle', 'model', 'prompt', 'output', 'budget', 'timeout', 'retries'];
const FILTER_KEYS = ['service', 'agent', 'model', 'operation', 'has_error', 'attributes', 'has_verdict'];
const POLARITIES = ['positive', 'negative', 'neutral'];
const SOURCES = ['user', 'indirect', 'llm_judge', 'rule', 'reviewer'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

function known(at: string, v: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new ConfigError(`${at}.${k}: unknown setting (expected ${keys.join(', ')})`);
}

/** `*` matches any run of characters, `?` one; the rest literally. */
export function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`, 's');
}

function duration(at: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  const m = typeof v === 'number' ? [String(v), String(v), 'ms'] : typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim()) : null;
  if (!m) throw new ConfigError(`${at}: must be a duration such as 500ms, 30s or 5m, got ${show(v)}`);
  return Math.round(Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms'] as number));
}

function count(at: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ConfigError(`${at}: must be a positive integer, got ${show(v)}`);
  return v;
}

export function parseFilter(at: string, raw: unknown): Filter {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with ${FILTER_KEYS.join(', ')}`);
  known(at, raw, FILTER_KEYS);
  const f: Filter = {};
  for (const key of ['service', 'agent', 'model', 'operation'] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    if (!nonEmpty(v)) throw new ConfigError(`${at}.${key}: must be a name or a glob such as "shop-*", got ${show(v)}`);
    f[key] = glob(v.trim());
  }
  if (raw.has_error !== undefined) {
    if (typeof raw.has_error !== 'boolean') throw new ConfigError(`${at}.has_error: must be true or false, got ${show(raw.has_error)}`);
    f.hasError = raw.has_error;
  }
  if (raw.attributes !== undefined) {
    if (!isObject(raw.attributes)) throw new ConfigError(`${at}.attributes: must be a mapping of attribute name to value`);
    f.attributes = Object.entries(raw.attributes).map(([k, v]) => {
      if (!['string', 'number', 'boolean'].includes(typeof v)) throw new ConfigError(`${at}.attributes.${k}: must be a string, number or boolean, got ${show(v)}`);
      return [k, v as string | number | boolean] as const;
    });
  }
  if (raw.has_verdict !== undefined) {
    const hv = raw.has_verdict;
    const hat = `${at}.has_verdict`;
    if (!isObject(hv)) throw new ConfigError(`${hat}: must be a mapping with name, source, polarity`);
    known(hat, hv, ['name', 'source', 'polarity']);
    if (hv.name !== undefined && !nonEmpty(hv.name)) throw new ConfigError(`${hat}.name: must be an evaluation name, got ${show(hv.name)}`);
    if (hv.source !== undefined && !SOURCES.includes(hv.source as string)) throw new ConfigError(`${hat}.source: must be one of ${SOURCES.join(', ')}, got ${show(hv.source)}`);
    if (hv.polarity !== undefined && !POLARITIES.includes(hv.polarity as string)) throw new ConfigError(`${hat}.polarity: must be one of ${POLARITIES.join(', ')}, got ${show(hv.polarity)}`);
    f.hasVerdict = {
      ...(hv.name !== undefined ? { name: (hv.name as string).trim() } : {}),
      ...(hv.source !== undefined ? { source: hv.source as string } : {}),
      ...(hv.polarity !== undefined ? { polarity: hv.polarity as Polarity } : {}),
    };
  }
  return f;
}

function parseOutput(at: string, raw: unknown): OutputSpec {
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with score and/or labels (and explanation)`);
  known(at, raw, ['score', 'labels', 'explanation']);
  let score: OutputSpec['score'] = null;
  if (raw.score !== undefined) {
    const s = raw.score;
    if (!isObject(s)) throw new ConfigError(`${at}.score: must be a mapping with min, max (and pass_at)`);
    known(`${at}.score`, s, ['min', 'max', 'pass_at']);
    const num = (k: string, v: unknown) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${at}.score.${k}: must be a number, got ${show(v)}`);
      return v;
    };
    const min = num('min', s.min);
    const max = num('max', s.max);
    if (!(max > min)) throw new ConfigError(`${at}.score.max: must be greater than min (${min}), got ${max}`);
    const passAt = s.pass_at === undefined ? null : num('pass_at', s.pass_at);
    if (passAt !== null && (passAt < min || passAt > max)) throw new ConfigError(`${at}.score.pass_at: must be between min and max, got ${passAt}`);
    score = { min, max, passAt };
  }
  let labels: Map<string, Polarity> | null = null;
  if (raw.labels !== undefined) {
    if (!isObject(raw.labels) || Object.keys(raw.labels).length === 0) throw new ConfigError(`${at}.labels: must map each label to its polarity (positive, negative, neutral)`);
    labels = new Map();
    for (const [label, p] of Object.entries(raw.labels)) {
      if (!POLARITIES.includes(p as string)) throw new ConfigError(`${at}.labels.${label}: must be positive, negative or neutral, got ${show(p)}`);
      labels.set(label, p as Polarity);
    }
  }
  if (!score && !labels) throw new ConfigError(`${at}: give score, labels or both`);
  const explanation = raw.explanation ?? true;
  if (typeof explanation !== 'boolean') throw new ConfigError(`${at}.explanation: must be true or false, got ${show(explanation)}`);
  return { score, labels, explanation };
}

function parseModel(at: string, raw: unknown, env: Readonly<Record<string, string | undefined>>): JudgeModel {
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with base_url, model, api_key_env or api_key_file, headers`);
  known(at, raw, ['base_url', 'model', 'api_key_env', 'api_key_file', 'headers']);
  if (!nonEmpty(raw.base_url)) throw new ConfigError(`${at}.base_url: must be the URL of an OpenAI-compatible API, such as https://api.openai.com/v1`);
  let url: URL;
  try {
    url = new URL(raw.base_url);
  } catch {
    throw new ConfigError(`${at}.base_url: ${show(raw.base_url)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${at}.base_url: must be http or https, got ${show(raw.base_url)}`);
  if (!nonEmpty(raw.model)) throw new ConfigError(`${at}.model: must name the judge model, got ${show(raw.model)}`);
  if (raw.api_key_env !== undefined && raw.api_key_file !== undefined) throw new ConfigError(`${at}.api_key_env: give api_key_env or api_key_file, not both`);
  let apiKey: string | null = null;
  if (raw.api_key_env !== undefined) {
    if (!nonEmpty(raw.api_key_env)) throw new ConfigError(`${at}.api_key_env: must name an environment variable`);
    const v = env[raw.api_key_env];
    if (!v) throw new ConfigError(`${at}.api_key_env: the environment variable ${raw.api_key_env} is not set`);
    apiKey = v.trim();
  }
  if (raw.api_key_file !== undefined) {
    if (!nonEmpty(raw.api_key_file)) throw new ConfigError(`${at}.api_key_file: must be a file path`);
    try {
      apiKey = readFileSync(raw.api_key_file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`${at}.api_key_file: cannot read ${raw.api_key_file}: ${(err as Error).message}`);
    }
    if (apiKey === '') throw new ConfigError(`${at}.api_key_file: ${raw.api_key_file} is empty`);
  }
  const headers: Record<string, string> = {};
  if (raw.headers !== undefined) {
    if (!isObject(raw.headers)) throw new ConfigError(`${at}.headers: must be a mapping of header name to value`);
    for (const [k, v] of Object.entries(raw.headers)) {
      if (typeof v !== 'string') throw new ConfigError(`${at}.headers.${k}: must be a string, got ${show(v)}`);
      headers[k] = v;
    }
  }
  return { baseUrl: raw.base_url.replace(/\/+$/, ''), model: raw.model.trim(), apiKey, headers: Object.freeze(headers) };
}

/** The version: what decides the verdict besides the content judged, the prompt template and the output spec. */
export function evaluatorVersion(prompt: string, output: OutputSpec): string {
  const spec = { prompt, score: output.score, labels: output.labels ? [...output.labels] : null, explanation: output.explanation };
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 12);
}

function parseEvaluator(at: string, raw: unknown, env: Readonly<Record<string, string | undefined>>): Evaluator {
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with ${KEYS.join(', ')}`);
  known(at, raw, KEYS);
  if (!nonEmpty(raw.name) || raw.name.length > 200) throw new ConfigError(`${at}.name: must be an evaluation name (at most 200 characters), got ${show(raw.name)}`);
  const target = raw.target ?? 'trace';
  if (target !== 'span' && target !== 'trace' && target !== 'conversation') throw new ConfigError(`${at}.target: must be span, trace or conversation, got ${show(target)}`);
  const where = parseFilter(`${at}.where`, raw.where);

  let rate = 1;
  let alwaysWhen: Filter[] = [];
  const sample = raw.sample;
  if (typeof sample === 'number') rate = sample;
  else if (isObject(sample)) {
    known(`${at}.sample`, sample, ['rate', 'always_when']);
    if (sample.rate !== undefined) rate = sample.rate as number;
    const aw = sample.always_when ?? [];
    if (!Array.isArray(aw)) throw new ConfigError(`${at}.sample.always_when: must be a list of conditions (service, ..., has_error, has_verdict)`);
    alwaysWhen = aw.map((c: unknown, i) => parseFilter(`${at}.sample.always_when[${i}]`, c));
  } else if (sample !== undefined) throw new ConfigError(`${at}.sample: must be a rate or a mapping with rate and always_when`);
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new ConfigError(`${at}.sample.rate: must be a number from 0 to 1, got ${show(rate)}`);

  const settleMs = duration(`${at}.settle`, raw.settle, DEFAULT_SETTLE_MS);
  const model = parseModel(`${at}.model`, raw.model, env);
  if (!nonEmpty(raw.prompt)) throw new ConfigError(`${at}.prompt: must be a template, such as "Question: {{input}} Answer: {{output}}"`);
  for (const m of raw.prompt.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1] as string)) {
      throw new ConfigError(`${at}.prompt: unknown placeholder {{${m[1]}}} (expected ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`);
    }
  }
  const output = parseOutput(`${at}.output`, raw.output);

  let callsPerMinute: number | null = null;
  let tokensPerDay: number | null = null;
  if (raw.budget !== undefined) {
    if (!isObject(raw.budget)) throw new ConfigError(`${at}.budget: must be a mapping with calls_per_minute, tokens_per_day`);
    known(`${at}.budget`, raw.budget, ['calls_per_minute', 'tokens_per_day']);
    callsPerMinute = count(`${at}.budget.calls_per_minute`, raw.budget.calls_per_minute);
    tokensPerDay = count(`${at}.budget.tokens_per_day`, raw.budget.tokens_per_day);
  }
  const timeoutMs = duration(`${at}.timeout`, raw.timeout, DEFAULT_TIMEOUT_MS);
  if (timeoutMs < 1) throw new ConfigError(`${at}.timeout: must be at least 1ms`);
  const retries = raw.retries ?? DEFAULT_RETRIES;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 20) throw new ConfigError(`${at}.retries: must be an integer from 0 to 20, got ${show(retries)}`);

  return Object.freeze({
    name: raw.name.trim(), version: evaluatorVersion(raw.prompt, output), target, where, rate, alwaysWhen, settleMs, model,
    prompt: raw.prompt, output, callsPerMinute, tokensPerDay, timeoutMs, retries,
  });
}

export function parseEvaluators(raw: unknown, env: Readonly<Record<string, string | undefined>>): readonly Evaluator[] {
  if (raw === undefined || raw === null) return Object.freeze([]);
  if (!Array.isArray(raw)) throw new ConfigError('evaluators: must be a list of evaluators (name, target, model, prompt, output, ...)');
  const list = raw.map((e, i) => parseEvaluator(`evaluators[${i}]`, e, env));
  const seen = new Set<string>();
  list.forEach((e, i) => {
    if (seen.has(e.name)) throw new ConfigError(`evaluators[${i}].name: ${show(e.name)} is used by an earlier evaluator`);
    seen.add(e.name);
  });
  return Object.freeze(list);
}
