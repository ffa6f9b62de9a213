/**
 * The conventions in their order of precedence, and the dispatch from an
 * attribute name to what it feeds. The first convention that supplies a
 * column wins (lift.ts); nothing in `attributes` is removed or changed.
 *
 * This runs once per span attribute on the ingest hot path, so the lookup
 * is a table indexed by the name's first character holding a Map of exact
 * names, then the few prefixes for that character; most names miss at the
 * first step or in one Map lookup.
 */
import type { AnyValue } from '../../otlp/types.ts';
import type { WrittenContent } from '../content.ts';
import { scalarOf, toJs } from '../anyvalue.ts';
import { AI_SDK } from './ai-sdk.ts';
import { GEN_AI } from './gen-ai.ts';
import { GEN_AI_DEPRECATED } from './gen-ai-deprecated.ts';
import { LANGSMITH } from './langsmith.ts';
import { COL, CONTENT, type Apply, type Convention, type FinishContext, type Lift, type PrefixTarget, type Target } from './lift.ts';
import { OPENINFERENCE } from './openinference.ts';
import { OPENLLMETRY } from './openllmetry.ts';
import { text } from './read.ts';

/** First wins. */
export const CONVENTIONS: readonly Convention[] = [GEN_AI, GEN_AI_DEPRECATED, OPENINFERENCE, OPENLLMETRY, AI_SDK, LANGSMITH];
export const DEPRECATED_INDEX = 1;

/** Ranks: a convention's table entries in order, then its finish step's offers. */
const PER_CONVENTION = 512;
const FINISH = 400;

interface Prefixed {
  prefix: string;
  convention: number;
  target: PrefixTarget;
}

/** Exact names by first character; a name read by one convention maps to its rule, by several to a list. */
const EXACT: Array<Map<string, Apply | Apply[]> | undefined> = new Array(128).fill(undefined);
const PREFIXED: Array<Prefixed[] | undefined> = new Array(128).fill(undefined);

function compile(target: Target, convention: number, rank: number): Apply {
  const bit = 1 << convention;
  if ('column' in target) {
    const column = COL[target.column];
    const read = target.read ?? text;
    return (lift, v) => {
      lift.seen |= bit;
      lift.offer(column, rank, read(v));
    };
  }
  if ('content' in target) {
    const column = CONTENT[target.content];
    const read = target.read;
    return (lift, v, _key, written) => {
      lift.seen |= bit;
      lift.offerContent(column, rank, read, v, written);
    };
  }
  const name = target.stash;
  return (lift, v) => {
    lift.seen |= bit;
    lift.stash(convention)[name] = jsValue(v);
  };
}

/** What a stash keeps of a value: the scalar, or the JS form of an array or map. */
function jsValue(v: AnyValue | null | undefined): unknown {
  const s = scalarOf(v);
  return s !== undefined ? s : toJs(v);
}

CONVENTIONS.forEach((c, i) => {
  Object.entries(c.attributes).forEach(([key, target], j) => {
    const first = key.charCodeAt(0);
    const map = (EXACT[first] ??= new Map());
    const rule = compile(target, i, i * PER_CONVENTION + j);
    const before = map.get(key);
    map.set(key, before === undefined ? rule : Array.isArray(before) ? [...before, rule] : [before, rule]);
  });
  for (const [prefix, target] of Object.entries(c.prefixes ?? {})) {
    (PREFIXED[prefix.charCodeAt(0)] ??= []).push({ prefix, convention: i, target });
  }
});

/**
 * Feeds one span attribute to every convention that reads it. `written` is
 * how a content attribute was written into the attributes JSON (content.ts),
 * else undefined. Returns false when no convention reads the name.
 */
export function liftAttribute(lift: Lift, key: string, value: AnyValue | null | undefined, written?: WrittenContent): boolean {
  const first = key.charCodeAt(0);
  if (first >= 128) return false;
  const rules = EXACT[first]?.get(key);
  if (rules !== undefined) {
    if (typeof rules === 'function') rules(lift, value, key, written);
    else for (let i = 0; i < rules.length; i++) (rules[i] as Apply)(lift, value, key, written);
    return true;
  }
  const prefixed = PREFIXED[first];
  if (prefixed === undefined) return false;
  for (const p of prefixed) {
    if (key.startsWith(p.prefix)) {
      lift.seen |= 1 << p.convention;
      p.target.apply(lift.stash(p.convention), key.slice(p.prefix.length), value);
      return true;
    }
  }
  return false;
}

/** Runs the finish steps of the conventions the span used, in order of precedence. */
export function finishLift(lift: Lift): void {
  for (let i = 0; i < CONVENTIONS.length; i++) {
    const finish = CONVENTIONS[i]?.finish;
    if (finish === undefined || (lift.seen & (1 << i)) === 0) continue;
    try {
      finish(context(lift, i));
    } catch {
      // A shape nobody foresaw costs this convention's derived columns, not the span (see lift.ts readSafely).
    }
  }
}

function context(lift: Lift, convention: number): FinishContext {
  const base = convention * PER_CONVENTION + FINISH;
  return {
    lift,
    stash: lift.stash(convention),
    offer: (column, value, order = 0) => lift.offer(column, base + order, value),
    wants: (column, order = 0) => lift.wants(column, base + order),
    offerContent: (column, resolve, order = 0) => lift.offerContent(column, base + order, resolve),
  };
}
