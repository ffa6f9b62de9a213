/**
 * The LLM judge: a separate service (`support-judge`) that grades the
 * agent's answers after the fact and reports each grade as the GenAI
 * conventions' `gen_ai.evaluation.result` event, emitted through the Logs
 * API with the judged chat span's context. The record then carries that
 * span's trace and span IDs, which is how Verdict joins the verdict to the
 * run. It also names the completion (`gen_ai.response.id`) and says who
 * judged (`verdict.feedback.source: llm_judge`).
 *
 * The grading itself is a stand-in for a model call, deterministic so the
 * demo's numbers can be checked: an answer is relevant when it gives the
 * specifics (order numbers, dates, amounts, policy terms) that the tools and
 * the help center returned, generic when it gives none, and made up when it
 * states numbers that nothing returned.
 */
import { ROOT_CONTEXT, trace, type Logger } from '@opentelemetry/api';
import type { Run } from './agent.ts';
import type { Random } from './random.ts';
import { EVALUATION_EVENT } from './telemetry.ts';

export interface Grade {
  score: number;
  label: 'relevant' | 'partially_relevant' | 'not_relevant';
  explanation: string;
}

/** The numbers and codes in a text ("#48213", "RF-70037", "5-7", "May 4"), leading zeros dropped. */
const figures = (text: string) => [...new Set(text.split(/[^A-Za-z0-9]+/).filter((t) => /\d/.test(t)).map((t) => t.replace(/^0+(?=\d)/, '')))];

/** How well an answer uses what it was given; null when there was nothing to ground it in (small talk). */
export function grade(run: Run, random: Random): Grade | null {
  if (!run.answered || run.grounding.length === 0) return null;
  const known = new Set(figures(`${run.question} ${run.grounding.join(' ')}`));
  const stated = figures(run.answer);
  const unsupported = stated.filter((f) => !known.has(f));
  const supported = stated.length - unsupported.length;
  const jitter = (lo: number, hi: number) => Math.round((lo + random.next() * (hi - lo)) * 100) / 100;
  if (unsupported.length > 0) {
    return { score: jitter(0.05, 0.25), label: 'not_relevant', explanation: `The answer states ${unsupported.join(', ')}, which nothing the tools or the help center returned supports.` };
  }
  if (supported === 0) return { score: jitter(0.1, 0.35), label: 'not_relevant', explanation: 'The answer is generic: it uses none of the order details or articles it was given.' };
  if (supported === 1) return { score: jitter(0.5, 0.68), label: 'partially_relevant', explanation: 'The answer is on topic but leaves out most of what the tools returned.' };
  return { score: jitter(0.78, 0.98), label: 'relevant', explanation: 'The answer addresses the question with the specifics the tools and articles returned.' };
}

export class RelevanceJudge {
  static readonly SERVICE = 'support-judge';
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Emits the verdict, `at` (ms): judges run a little after the answer. */
  report(run: Run, g: Grade, at: number): void {
    if (!run.answered) return;
    this.#logger.emit({
      eventName: EVALUATION_EVENT,
      timestamp: at,
      // The judged span's context (its IDs were kept with the answer): the record gets its trace and span IDs.
      context: trace.setSpanContext(ROOT_CONTEXT, run.answered.spanContext),
      attributes: {
        'gen_ai.evaluation.name': 'Relevance',
        'gen_ai.evaluation.score.value': g.score,
        'gen_ai.evaluation.score.label': g.label,
        'gen_ai.evaluation.explanation': g.explanation,
        'gen_ai.response.id': run.answered.responseId,
        'verdict.feedback.source': 'llm_judge',
      },
    });
  }
}
