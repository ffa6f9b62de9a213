/**
 * The rules file (`--rules FILE`): deterministic verdicts computed at ingest.
 *
 * ```yaml
 * rules:
 *   - name: user_frustration            # the verdict's gen_ai.evaluation.name
 *     kind: regex                       # regex | status | threshold | repeat
 *     pattern: '\b(wtf|horrible|awful|this sucks)\b'
 *     flags: i                          # i (case-insensitive), m (multi-line), s (dot matches newline)
 *     on: user_messages                 # or `attribute: some.attribute`
 *     label: negative
 * ```
 *
 * Patterns are RE2 syntax and run on the RE2 algorithm (re2js): matching
 * time is linear in the input whatever the pattern, so a pathological
 * pattern cannot stall ingestion. Patterns RE2 cannot guarantee
 * (backreferences, lookaround) are refused at start-up, naming the rule.
 */
import { readFileSync } from 'node:fs';
import { RE2JS } from 're2js';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.ts';
import { globToRegExp } from '../common/util.ts';
import type { Polarity } from '../model/rows.ts';

export type RuleKind = 'regex' | 'status' | 'threshold' | 'repeat';

interface RuleBase {
  /** Names the rule and, unless `evaluation` says otherwise, its verdicts. */
  name: string;
  evaluation: string;
  label: string | null;
  score: number | null;
  explanation: string | null;
  polarity: Polarity | null;
}

export interface RegexRule extends RuleBase {
  kind: 'regex';
  pattern: RE2JS;
  /** null: the user's messages; otherwise a span or log attribute. */
  attribute: string | null;
}

export interface StatusRule extends RuleBase {
  kind: 'status';
}

export interface ThresholdRule extends RuleBase {
  kind: 'threshold';
  /** A span attribute, or `duration_ms` for the span's duration. */
  attribute: string;
  above: number | null;
  below: number | null;
  /** Only spans whose gen_ai.operation.name matches (glob); null = every span. */
  operation: RegExp | null;
}

export interface RepeatRule extends RuleBase {
  kind: 'repeat';
}

export type Rule = RegexRule | StatusRule | ThresholdRule | RepeatRule;

export interface RuleSet {
  rules: readonly Rule[];
  /** Where it was read from, for logs. */
  file: string | null;
}

export const EMPTY_RULES: RuleSet = Object.freeze({ rules: [], file: null });

const KINDS: readonly RuleKind[] = ['regex', 'status', 'threshold', 'repeat'];
const COMMON = ['name', 'kind', 'evaluation', 'label', 'score', 'explanation', 'polarity'];
const FIELDS: Record<RuleKind, readonly string[]> = {
  regex: [...COMMON, 'pattern', 'flags', 'on', 'attribute'],
  status: COMMON,
  threshold: [...COMMON, 'attribute', 'above', 'below', 'operation'],
  repeat: COMMON,
};
const DEFAULT_LABEL: Record<RuleKind, string | null> = { regex: null, status: 'error', threshold: 'over_threshold', repeat: 'reasked' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function loadRules(file: string): RuleSet {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read rules file ${file}: ${(err as Error).message}`);
  }
  return { rules: parseRules(doc, file), file };
}

export function parseRules(doc: unknown, file = 'rules'): Rule[] {
  if (!isObject(doc) || !Array.isArray(doc.rules)) throw new ConfigError(`${file}: must be a mapping with a "rules" list`);
  const seen = new Set<string>();
  return doc.rules.map((raw: unknown, i: number) => {
    const where = `${file}: rule ${i + 1}`;
    if (!isObject(raw)) throw new ConfigError(`${where}: must be a mapping`);
    const name = raw.name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new ConfigError(`${where}: "name" must be 1-128 letters, digits, _ . or -`);
    const at = `${file}: rule "${name}"`;
    if (seen.has(name)) throw new ConfigError(`${at}: the name is used twice`);
    seen.add(name);
    const kind = raw.kind as RuleKind;
    if (!KINDS.includes(kind)) throw new ConfigError(`${at}: "kind" must be one of ${KINDS.join(', ')}, got ${JSON.stringify(raw.kind)}`);
    for (const k of Object.keys(raw)) if (!FIELDS[kind].includes(k)) throw new ConfigError(`${at}: unknown field "${k}" for a ${kind} rule`);
    const base: RuleBase = {
      name,
      evaluation: optString(raw, 'evaluation', at) ?? name,
      label: optString(raw, 'label', at) ?? DEFAULT_LABEL[kind],
      score: optNumber(raw, 'score', at),
      explanation: optString(raw, 'explanation', at),
      polarity: optPolarity(raw, at),
    };
    switch (kind) {
      case 'regex':
        return regexRule(raw, base, at);
      case 'threshold':
        return thresholdRule(raw, base, at);
      default:
        return { ...base, kind };
    }
  });
}

function regexRule(raw: Record<string, unknown>, base: RuleBase, at: string): RegexRule {
  if (typeof raw.pattern !== 'string' || raw.pattern === '') throw new ConfigError(`${at}: "pattern" must be a non-empty string`);
  const flags = raw.flags ?? '';
  if (typeof flags !== 'string' || !/^[ims]*$/.test(flags)) throw new ConfigError(`${at}: "flags" may hold i, m and s, got ${JSON.stringify(flags)}`);
  let f = 0;
  if (flags.includes('i')) f |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) f |= RE2JS.MULTILINE;
  if (flags.includes('s')) f |= RE2JS.DOTALL;
  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(raw.pattern, f);
  } catch (err) {
    throw new ConfigError(`${at}: invalid pattern ${JSON.stringify(raw.pattern)}: ${(err as Error).message}`);
  }
  if (raw.on !== undefined && raw.on !== 'user_messages') throw new ConfigError(`${at}: "on" must be user_messages (or give "attribute" instead)`);
  if (raw.on !== undefined && raw.attribute !== undefined) throw new ConfigError(`${at}: give either "on: user_messages" or "attribute", not both`);
  return { ...base, kind: 'regex', pattern, attribute: optString(raw, 'attribute', at) };
}

function thresholdRule(raw: Record<string, unknown>, base: RuleBase, at: string): ThresholdRule {
  const attribute = optString(raw, 'attribute', at);
  if (attribute === null) throw new ConfigError(`${at}: "attribute" is required (a span attribute, or duration_ms)`);
  const above = optNumber(raw, 'above', at);
  const below = optNumber(raw, 'below', at);
  if (above === null && below === null) throw new ConfigError(`${at}: set "above" or "below"`);
  const op = optString(raw, 'operation', at);
  return { ...base, kind: 'threshold', attribute, above, below, operation: op === null ? null : globToRegExp(op) };
}

function optString(raw: Record<string, unknown>, key: string, at: string): string | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}: "${key}" must be a non-empty string`);
  return v;
}

function optNumber(raw: Record<string, unknown>, key: string, at: string): number | null {
  const v = raw[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${at}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function optPolarity(raw: Record<string, unknown>, at: string): Polarity | null {
  const v = raw.polarity;
  if (v === undefined || v === null) return null;
  if (v !== 'positive' && v !== 'negative' && v !== 'neutral') throw new ConfigError(`${at}: "polarity" must be positive, negative or neutral`);
  return v;
}
