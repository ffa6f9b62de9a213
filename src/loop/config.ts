/**
 * The `learning_loop:` section of the config file: which judge evaluations
 * are compared with which human ones, the agreement a judge must keep, and
 * what the drift reports read. Validated at start-up; every message names
 * the field. SQL reads it from verdict.loop_settings and verdict.judge_pairs
 * (sync.ts writes them), since views cannot read the process's config.
 *
 *   learning_loop:
 *     judge_pairs:
 *       - judge: helpfulness        # a judge's evaluation name
 *         human: [thumbs, review]   # the human evaluations it should agree with
 *     kappa_threshold: 0.6
 *     pair_span_with_run: true
 *     context_version_attribute: retrieval.index.version
 *     change_z: 1.96
 *     min_verdicts: 20
 */
import { ConfigError } from '../errors.ts';

export interface LoopConfig {
  pairs: ReadonlyArray<{ judge: string; human: string }>;
  kappaThreshold: number;
  pairSpanWithRun: boolean;
  contextAttribute: string;
  changeZ: number;
  minVerdicts: number;
}

/**
 * Landis and Koch call a kappa of 0.61–0.80 "substantial" agreement; under
 * 0.6 a judge disagrees with people too often to stand in for them.
 */
export const DEFAULT_KAPPA_THRESHOLD = 0.6;
/** A two-sided test at the 5 % level. */
export const DEFAULT_CHANGE_Z = 1.96;
/** The normal approximation of the z-test wants some tens of verdicts a side. */
export const DEFAULT_MIN_VERDICTS = 20;
export const DEFAULT_CONTEXT_ATTRIBUTE = 'verdict.context.version';

const KEYS = ['judge_pairs', 'kappa_threshold', 'pair_span_with_run', 'context_version_attribute', 'change_z', 'min_verdicts'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

export function parseLoopConfig(raw: unknown): LoopConfig {
  const cfg = raw ?? {};
  if (!isObject(cfg)) throw new ConfigError(`learning_loop: must be a mapping with ${KEYS.join(', ')}`);
  for (const k of Object.keys(cfg)) if (!KEYS.includes(k)) throw new ConfigError(`learning_loop.${k}: unknown setting (expected ${KEYS.join(', ')})`);

  const pairs: Array<{ judge: string; human: string }> = [];
  const list = cfg.judge_pairs ?? [];
  if (!Array.isArray(list)) throw new ConfigError('learning_loop.judge_pairs: must be a list of {judge, human}');
  list.forEach((p: unknown, i) => {
    const at = `learning_loop.judge_pairs[${i}]`;
    if (!isObject(p)) throw new ConfigError(`${at}: must be a mapping with judge and human`);
    for (const k of Object.keys(p)) if (k !== 'judge' && k !== 'human') throw new ConfigError(`${at}.${k}: unknown setting (expected judge, human)`);
    if (!nonEmpty(p.judge)) throw new ConfigError(`${at}.judge: must be an evaluation name, got ${JSON.stringify(p.judge)}`);
    const humans = Array.isArray(p.human) ? p.human : [p.human];
    if (humans.length === 0) throw new ConfigError(`${at}.human: must name at least one evaluation`);
    humans.forEach((h: unknown, j) => {
      if (!nonEmpty(h)) throw new ConfigError(`${at}.human${Array.isArray(p.human) ? `[${j}]` : ''}: must be an evaluation name, got ${JSON.stringify(h)}`);
      if (!pairs.some((x) => x.judge === p.judge && x.human === h)) pairs.push({ judge: (p.judge as string).trim(), human: h.trim() });
    });
  });

  const number = (key: string, def: number, ok: (n: number) => boolean, expected: string): number => {
    const v = cfg[key];
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new ConfigError(`learning_loop.${key}: must be ${expected}, got ${JSON.stringify(v)}`);
    return v;
  };
  const kappaThreshold = number('kappa_threshold', DEFAULT_KAPPA_THRESHOLD, (n) => n >= -1 && n <= 1, 'a kappa between -1 and 1');
  const changeZ = number('change_z', DEFAULT_CHANGE_Z, (n) => n > 0, 'a positive z value such as 1.96');
  const minVerdicts = number('min_verdicts', DEFAULT_MIN_VERDICTS, (n) => Number.isInteger(n) && n >= 1 && n <= 1_000_000_000, 'a positive integer');

  const spanRun = cfg.pair_span_with_run ?? true;
  if (typeof spanRun !== 'boolean') throw new ConfigError(`learning_loop.pair_span_with_run: must be true or false, got ${JSON.stringify(spanRun)}`);
  const attr = cfg.context_version_attribute ?? DEFAULT_CONTEXT_ATTRIBUTE;
  if (!nonEmpty(attr)) throw new ConfigError(`learning_loop.context_version_attribute: must be an attribute name, got ${JSON.stringify(attr)}`);

  return Object.freeze({ pairs: Object.freeze(pairs), kappaThreshold, pairSpanWithRun: spanRun, contextAttribute: attr.trim(), changeZ, minVerdicts });
}
