/**
 * Runs the rules on every span and log record as they are normalised, so the
 * verdicts they produce are written in the same transaction as the data that
 * earned them. Each verdict's id is deterministic, so a re-sent request adds
 * nothing, and a rule that fires on several spans of one run for the same
 * message stores one verdict.
 */
import { clean } from '../common/text.ts';
import { contentKey } from '../common/util.ts';
import { scalarOf } from '../normalize/anyvalue.ts';
import type { EvaluationPolicy } from '../normalize/evaluations.ts';
import type { LogFacts, LogObserver } from '../normalize/logs.ts';
import type { Polarity } from '../model/rows.ts';
import type { Derived, SpanFacts, SpanObserver } from '../normalize/spans.ts';
import type { KeyValue, LogRecord, Span } from '../otlp/types.ts';
import type { RegexRule, Rule, RuleSet, ThresholdRule } from './config.ts';
import { attribute, normaliseMessage } from './messages.ts';

/** The service name rule verdicts carry: Verdict itself evaluated them. */
export const RULES_SERVICE = 'verdict';
const MATCH_EXCERPT = 200;


interface Target {
  traceId: string | null;
  spanId: string | null;
  conversationId: string | null;
  timeNs: bigint;
}

export class RuleEngine {
  readonly #rules: () => RuleSet;
  readonly #policy: EvaluationPolicy;

  constructor(rules: () => RuleSet, policy: EvaluationPolicy) {
    this.#rules = rules;
    this.#policy = policy;
  }

  readonly spanObserver: SpanObserver = (span, facts, out) => {
    const { rules } = this.#rules();
    if (rules.length === 0) return;
    const target: Target = { traceId: facts.traceId, spanId: facts.spanId, conversationId: facts.conversationId, timeNs: facts.endTimeUnixNano };
    // The newest user message of the span's input, from whichever convention carried it (normalize/conventions/).
    const lastUserMessage = () => facts.userText;
    for (const rule of rules) {
      switch (rule.kind) {
        case 'regex':
          if (rule.attribute !== null) this.#matchAttribute(rule, span.attributes, target, out, contentKey(rule.name, facts.traceId, facts.spanId));
          else {
            // The newest user message is this call's input; older ones were checked when they were new.
            const text = lastUserMessage();
            if (text) this.#matchText(rule, text, target, out, contentKey(rule.name, facts.traceId, normaliseMessage(text)), 'a user message');
          }
          break;
        case 'status':
          if (facts.statusCode === 'error' && facts.operation !== null) {
            this.#emit(rule, target, out, contentKey(rule.name, facts.traceId, facts.spanId), span.status?.message || `${facts.operation} span ended with status ERROR`, {});
          }
          break;
        case 'threshold':
          this.#threshold(rule, span, facts, target, out);
          break;
        case 'repeat': {
          const text = lastUserMessage();
          if (text && facts.conversationId) {
            const normal = normaliseMessage(text);
            if (normal === '') break;
            out.turns.push({
              conversation_id: facts.conversationId, message_hash: contentKey(normal), trace_id: facts.traceId, span_id: facts.spanId,
              time_unix_nano: facts.startTimeUnixNano, message: clean(text.slice(0, MATCH_EXCERPT)), rule: rule.evaluation,
              label: rule.label ?? 'reasked', polarity: rule.polarity ?? this.#policy.polarityFor(rule.evaluation, rule.label, rule.score) ?? 'negative',
            });
          }
          break;
        }
      }
    }
  };

  readonly logObserver: LogObserver = (record: LogRecord, facts: LogFacts, out: Derived) => {
    const { rules } = this.#rules();
    if (rules.length === 0) return;
    const target: Target = { traceId: facts.traceId, spanId: facts.spanId, conversationId: null, timeNs: facts.timeUnixNano };
    const identity = `${facts.traceId}:${facts.spanId}:${facts.timeUnixNano}`;
    for (const rule of rules) {
      if (rule.kind !== 'regex') continue;
      if (rule.attribute !== null) this.#matchAttribute(rule, record.attributes, target, out, contentKey(rule.name, identity));
      else if (facts.userText) {
        // A user message in a GenAI message event (gen_ai.user.message, or the input of an inference's details).
        const text = facts.userText;
        this.#matchText(rule, text, target, out, contentKey(rule.name, facts.traceId ?? identity, normaliseMessage(text)), 'a user message');
      }
    }
  };

  #matchAttribute(rule: RegexRule, kvs: readonly KeyValue[], target: Target, out: Derived, id: string): void {
    const v = scalarOf(attribute(kvs, rule.attribute as string));
    if (v !== undefined) this.#matchText(rule, String(v), target, out, id, `attribute ${rule.attribute}`);
  }

  #matchText(rule: RegexRule, text: string, target: Target, out: Derived, id: string, where: string): void {
    const m = rule.pattern.matcher(text);
    if (!m.find()) return;
    const matched = (m.group() ?? '').slice(0, MATCH_EXCERPT);
    this.#emit(rule, target, out, id, rule.explanation ?? `matched ${JSON.stringify(matched)} in ${where}`, { 'verdict.rule.match': matched });
  }

  #threshold(rule: ThresholdRule, span: Span, facts: SpanFacts, target: Target, out: Derived): void {
    if (rule.operation && (facts.operation === null || !rule.operation.test(facts.operation))) return;
    let value: number;
    if (rule.attribute === 'duration_ms') value = facts.durationNs / 1e6;
    else {
      const v = scalarOf(attribute(span.attributes, rule.attribute));
      value = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
      if (!Number.isFinite(value)) return;
    }
    const over = rule.above !== null && value > rule.above;
    const under = rule.below !== null && value < rule.below;
    if (!over && !under) return;
    const explanation = rule.explanation ?? `${rule.attribute} ${value} is ${over ? `above ${rule.above}` : `below ${rule.below}`}`;
    this.#emit(rule, target, out, contentKey(rule.name, facts.traceId, facts.spanId), explanation, { 'verdict.rule.value': value });
  }

  #emit(rule: Rule, t: Target, out: Derived, id: string, explanation: string, extra: Record<string, unknown>): void {
    const polarity: Polarity | null = rule.polarity ?? this.#policy.polarityFor(rule.evaluation, rule.label, rule.score) ?? (rule.kind === 'status' ? 'negative' : null);
    out.evaluations.push({
      id,
      trace_id: t.traceId,
      span_id: t.spanId,
      response_id: null,
      conversation_id: t.conversationId,
      name: rule.evaluation,
      score_value: rule.score,
      score_label: rule.label,
      explanation: clean(explanation),
      error_type: null,
      time_unix_nano: t.timeNs,
      channel: 'rule',
      source: 'rule',
      polarity,
      service_name: RULES_SERVICE,
      attributes: JSON.stringify({ 'verdict.rule': rule.name, 'verdict.rule.kind': rule.kind, ...cleanValues(extra) }),
      target: null,
    });
  }
}

function cleanValues(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? clean(v) : v]));
}
