/**
 * Verdicts carried as span attributes by OpenInference: annotations and
 * evaluations, flattened per index (openinference-semantic-conventions
 * SemanticConventions: ANNOTATIONS = "annotations", ANNOTATION_NAME =
 * "annotation.name", .score, .label, .explanation, .annotator_kind
 * (HUMAN | LLM | CODE), .identifier, .metadata; the same under
 * "evaluations" / "evaluation.*"; "trace." and "session." prefixes for
 * verdicts on the whole trace or session):
 *
 *   annotations.0.annotation.name = "helpfulness"
 *   annotations.0.annotation.score = 1
 *   annotations.0.annotation.annotator_kind = "HUMAN"
 */
import { scalarOf } from '../anyvalue.ts';
import type { AnyValue } from '../../otlp/types.ts';

export type AnnotationScope = 'span' | 'trace' | 'session';

/** One verdict as OpenInference sends it: `fields` are the attributes without their `<kind>s.<i>.<kind>.` prefix. */
export interface Annotation {
  scope: AnnotationScope;
  /** `annotation` or `evaluation`, with the index: where it was on the span. */
  kind: string;
  index: number;
  fields: Record<string, string | number | boolean | bigint>;
}

/** annotator_kind → verdict.evaluations.source. */
export const ANNOTATOR_SOURCES: Readonly<Record<string, string>> = { HUMAN: 'user', LLM: 'llm_judge', CODE: 'rule' };

const MAX_INDEX = 1000;

/** The prefixes OpenInference puts verdicts under, and what they judge. */
export const ANNOTATION_PREFIXES: ReadonlyArray<readonly [string, AnnotationScope, string]> = [
  ['annotations.', 'span', 'annotation'],
  ['evaluations.', 'span', 'evaluation'],
  ['trace.annotations.', 'trace', 'annotation'],
  ['trace.evaluations.', 'trace', 'evaluation'],
  ['session.annotations.', 'session', 'annotation'],
  ['session.evaluations.', 'session', 'evaluation'],
];

/** Collects one attribute (`rest` after the prefix: `0.annotation.name`) into `into`, keyed by prefix and index. */
export function collectAnnotation(into: Map<string, Annotation>, scope: AnnotationScope, kind: string, rest: string, v: AnyValue | null | undefined): void {
  const dot = rest.indexOf('.');
  if (dot <= 0 || !rest.startsWith(`${kind}.`, dot + 1)) return;
  const index = Number(rest.slice(0, dot));
  if (!Number.isInteger(index) || index < 0 || index >= MAX_INDEX) return;
  const field = rest.slice(dot + 2 + kind.length);
  const value = scalarOf(v);
  if (field === '' || value === undefined) return;
  const id = `${scope}:${kind}:${index}`;
  let a = into.get(id);
  if (a === undefined) {
    a = { scope, kind, index, fields: {} };
    into.set(id, a);
  }
  a.fields[field] = value;
}

/** What an annotation says, as an evaluation's fields; a string says why it cannot be one. */
export interface AnnotationVerdict {
  name: string;
  score: number | null;
  label: string | null;
  explanation: string | null;
  /** From annotator_kind; null when absent or unknown. */
  source: string | null;
  /** The annotation's own attributes, prefixed as they were sent (`annotation.name`, …). */
  attributes: Record<string, string | number | boolean>;
}

export function annotationVerdict(a: Annotation): AnnotationVerdict | string {
  const f = a.fields;
  const where = `${a.scope === 'span' ? '' : `${a.scope}.`}${a.kind}s.${a.index}`;
  if (typeof f.name !== 'string' || f.name.trim() === '') return `${where}.${a.kind}.name is missing`;
  let score: number | null = null;
  if (f.score !== undefined) {
    const n = typeof f.score === 'bigint' ? Number(f.score) : f.score;
    if (typeof n !== 'number' || !Number.isFinite(n)) return `${where}.${a.kind}.score must be a finite number`;
    score = n;
  }
  const label = typeof f.label === 'string' && f.label !== '' ? f.label : null;
  const explanation = typeof f.explanation === 'string' && f.explanation !== '' ? f.explanation : null;
  // OpenInference requires one of them; a name alone says nothing.
  if (score === null && label === null && explanation === null) return `${where} has no score, label or explanation`;
  const attributes: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(f)) attributes[`${a.kind}.${k}`] = typeof v === 'bigint' ? String(v) : v;
  const kind = f.annotator_kind;
  return { name: f.name, score, label, explanation, source: typeof kind === 'string' ? (ANNOTATOR_SOURCES[kind.toUpperCase()] ?? null) : null, attributes };
}
