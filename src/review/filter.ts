/**
 * Which runs a queue takes: the `where:` filter, in the vocabulary the
 * online-judge evaluators share (`service`, `agent`, `model`, `operation`
 * as globs; `has_error`; `attributes` of the root span; `has_verdict`).
 * Every given condition must hold.
 */
import { globToRegExp } from '../common/util.ts';
import { ConfigError } from '../errors.ts';

export interface VerdictMatch {
  name: RegExp | null;
  source: string | null;
  polarity: string | null;
}

export interface RunFilter {
  service: RegExp | null;
  agent: RegExp | null;
  model: RegExp | null;
  /** The root span's gen_ai.operation.name. */
  operation: RegExp | null;
  hasError: boolean | null;
  /** Root span attributes that must equal these values. */
  attributes: ReadonlyArray<[string, unknown]>;
  hasVerdict: VerdictMatch | null;
}

/** What the filter reads of a run. */
export interface RunFacts {
  service: string | null;
  agent: string | null;
  model: string | null;
  operation: string | null;
  errors: number;
  attributes: Record<string, unknown> | null;
}

export interface VerdictFacts {
  name: string;
  source: string | null;
  polarity: string | null;
}

export const MATCH_ALL: RunFilter = Object.freeze({ service: null, agent: null, model: null, operation: null, hasError: null, attributes: [], hasVerdict: null });

const WHERE_KEYS = ['service', 'agent', 'model', 'operation', 'has_error', 'attributes', 'has_verdict'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseWhere(raw: unknown, at: string): RunFilter {
  if (raw === undefined || raw === null) return MATCH_ALL;
  if (!isObject(raw)) throw new ConfigError(`${at}: must be a mapping with any of ${WHERE_KEYS.join(', ')}`);
  for (const k of Object.keys(raw)) if (!WHERE_KEYS.includes(k)) throw new ConfigError(`${at}.${k}: unknown condition (expected ${WHERE_KEYS.join(', ')})`);
  const glob = (k: string): RegExp | null => {
    const v = raw[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}.${k}: must be a glob such as support-*, got ${JSON.stringify(v)}`);
    return globToRegExp(v);
  };
  let hasError: boolean | null = null;
  if (raw.has_error !== undefined) {
    if (typeof raw.has_error !== 'boolean') throw new ConfigError(`${at}.has_error: must be true or false, got ${JSON.stringify(raw.has_error)}`);
    hasError = raw.has_error;
  }
  let attributes: Array<[string, unknown]> = [];
  if (raw.attributes !== undefined) {
    if (!isObject(raw.attributes)) throw new ConfigError(`${at}.attributes: must be a mapping of attribute to value`);
    attributes = Object.entries(raw.attributes).map(([k, v]) => {
      if (v !== null && typeof v === 'object') throw new ConfigError(`${at}.attributes.${k}: must be a string, number or boolean`);
      return [k, v];
    });
  }
  let hasVerdict: VerdictMatch | null = null;
  if (raw.has_verdict !== undefined) {
    const h = raw.has_verdict;
    if (!isObject(h)) throw new ConfigError(`${at}.has_verdict: must be a mapping with any of name, source, polarity`);
    for (const k of Object.keys(h)) if (!['name', 'source', 'polarity'].includes(k)) throw new ConfigError(`${at}.has_verdict.${k}: unknown condition (expected name, source, polarity)`);
    for (const k of ['name', 'source', 'polarity']) {
      if (h[k] !== undefined && (typeof h[k] !== 'string' || h[k] === '')) throw new ConfigError(`${at}.has_verdict.${k}: must be text, got ${JSON.stringify(h[k])}`);
    }
    if (h.polarity !== undefined && !['positive', 'negative', 'neutral'].includes(h.polarity as string)) {
      throw new ConfigError(`${at}.has_verdict.polarity: must be positive, negative or neutral, got ${JSON.stringify(h.polarity)}`);
    }
    hasVerdict = { name: typeof h.name === 'string' ? globToRegExp(h.name) : null, source: (h.source as string) ?? null, polarity: (h.polarity as string) ?? null };
  }
  return Object.freeze({ service: glob('service'), agent: glob('agent'), model: glob('model'), operation: glob('operation'), hasError, attributes, hasVerdict });
}

/** Whether the filter needs the root span's own row (operation, attributes), beyond the run summary. */
export const needsRoot = (f: RunFilter): boolean => f.operation !== null || f.attributes.length > 0;

const globMatch = (re: RegExp | null, v: string | null): boolean => re === null || (v !== null && re.test(v));

export function matchesRun(f: RunFilter, run: RunFacts, verdicts: readonly VerdictFacts[]): boolean {
  if (!globMatch(f.service, run.service) || !globMatch(f.agent, run.agent) || !globMatch(f.model, run.model) || !globMatch(f.operation, run.operation)) return false;
  if (f.hasError !== null && f.hasError !== run.errors > 0) return false;
  for (const [k, v] of f.attributes) if (run.attributes?.[k] !== v) return false;
  const h = f.hasVerdict;
  if (h && !verdicts.some((e) => globMatch(h.name, e.name) && (h.source === null || e.source === h.source) && (h.polarity === null || e.polarity === h.polarity))) return false;
  return true;
}
