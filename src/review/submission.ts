/**
 * A reviewer's submission, checked against the queue's form and turned into
 * verdict rows on the run: source `reviewer`, channel `review`, the
 * reviewer's name in the attributes, the written correction on each row.
 *
 *   { "verdicts": [{ "name": "correctness", "label": "incorrect", "score": 0, "explanation": "…" }],
 *     "correction": "The order ships on Monday." }
 *
 * The rows' ids are derived from the item and the evaluation name (or, for
 * an ad-hoc verdict on a run, from what it says), so a submission sent twice
 * is stored once.
 */
import { clean, fitsUtf8 } from '../common/text.ts';
import { contentKey } from '../common/util.ts';
import { BadRequestError } from '../errors.ts';
import type { EvaluationRow, Polarity } from '../model/rows.ts';
import type { ReviewForm } from './config.ts';

const MAX_TEXT = 64 * 1024;

export interface SubmissionContext {
  traceId: string;
  reviewer: string;
  form: ReviewForm;
  /** The queue item; null for an ad-hoc verdict on a run. */
  item: { id: string; queue: string; reason: string } | null;
  nowMs: number;
}

type Violation = { field: string; description: string };

export function parseSubmission(body: unknown, ctx: SubmissionContext): EvaluationRow[] {
  const out: Violation[] = [];
  const bad = (field: string, description: string) => void out.push({ field, description });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('the body must be an object with verdicts (and correction)');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'verdicts' && k !== 'correction') bad(k, 'unknown field (expected verdicts, correction)');
  const correction = optionalText(b.correction, 'correction', bad);
  if (!Array.isArray(b.verdicts) || b.verdicts.length === 0) bad('verdicts', 'must list at least one verdict');
  const list = Array.isArray(b.verdicts) ? b.verdicts : [];
  const seen = new Set<string>();
  const parsed: Array<{ name: string; label: string | null; score: number | null; polarity: Polarity | null; explanation: string | null }> = [];
  list.forEach((v: unknown, i) => {
    const at = `verdicts[${i}]`;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(at, 'must be an object with name and label or score');
    const x = v as Record<string, unknown>;
    for (const k of Object.keys(x)) if (!['name', 'label', 'score', 'explanation'].includes(k)) bad(`${at}.${k}`, 'unknown field (expected name, label, score, explanation)');
    const ev = ctx.form.evaluations.find((e) => e.name === x.name);
    if (!ev) return bad(`${at}.name`, `must be one of the form's evaluations: ${ctx.form.evaluations.map((e) => e.name).join(', ')}`);
    if (seen.has(ev.name)) return bad(`${at}.name`, `${ev.name} is given twice`);
    seen.add(ev.name);
    let label: string | null = null;
    let polarity: Polarity | null = null;
    let score: number | null = null;
    if (x.label !== undefined && x.label !== null) {
      const l = ev.labels.find((f) => f.label === x.label);
      if (!l) return bad(`${at}.label`, `must be one of ${ev.labels.map((f) => f.label).join(', ') || '(none: this evaluation takes a score)'}`);
      [label, polarity, score] = [l.label, l.polarity, l.score];
    }
    if (x.score !== undefined && x.score !== null) {
      if (typeof x.score !== 'number' || !Number.isFinite(x.score)) return bad(`${at}.score`, 'must be a finite number');
      if (!ev.score) return bad(`${at}.score`, `${ev.name} takes a label, not a score`);
      if (x.score < ev.score.min || x.score > ev.score.max) return bad(`${at}.score`, `must be between ${ev.score.min} and ${ev.score.max}`);
      score = x.score;
    }
    if (label === null && score === null) return bad(at, 'give a label or a score');
    parsed.push({ name: ev.name, label, score, polarity, explanation: optionalText(x.explanation, `${at}.explanation`, bad) });
  });
  if (out.length > 0) throw new BadRequestError(out.map((v) => `${v.field}: ${v.description}`).join('; '), out);

  const timeNs = BigInt(ctx.nowMs) * 1_000_000n;
  const attributes = JSON.stringify({
    'verdict.reviewer': ctx.reviewer,
    ...(ctx.item ? { 'verdict.review.queue': ctx.item.queue, 'verdict.review.item': ctx.item.id, 'verdict.review.reason': ctx.item.reason } : {}),
  });
  return parsed.map((p) => ({
    id: ctx.item
      ? contentKey('review', ctx.item.id, p.name)
      : contentKey('review-adhoc', ctx.traceId, ctx.reviewer, p.name, p.label, p.score, p.explanation, correction),
    trace_id: ctx.traceId,
    span_id: null,
    response_id: null,
    conversation_id: null,
    name: p.name,
    score_value: p.score,
    score_label: p.label,
    explanation: p.explanation,
    error_type: null,
    time_unix_nano: timeNs,
    channel: 'review',
    source: 'reviewer',
    polarity: p.polarity,
    service_name: null,
    attributes,
    target: null,
    correction,
  }));
}

function optionalText(v: unknown, field: string, bad: (f: string, d: string) => void): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    bad(field, 'must be text');
    return null;
  }
  if (v.trim() === '') return null;
  if (!fitsUtf8(v, MAX_TEXT)) {
    bad(field, `must be at most ${MAX_TEXT} bytes in UTF-8`);
    return null;
  }
  return clean(v);
}
