/**
 * Older GenAI names, still sent by many SDKs: second in the order of
 * precedence. Sources: semantic-conventions-genai
 * model/gen-ai/deprecated/registry-deprecated.yaml (gen_ai.system,
 * gen_ai.usage.prompt_tokens / completion_tokens, gen_ai.prompt and
 * gen_ai.completion of semconv v1.26), semantic-conventions model/enduser
 * (enduser.id, deprecated for user.id), OpenLLMetry's flattened
 * gen_ai.prompt.<i>.* / gen_ai.completion.<i>.* (traceloop/openllmetry
 * semantic-conventions-ai), and the message events of semconv v1.26–v1.36
 * sent as span events (message-events.ts).
 */
import { CONTENT, type Convention } from './lift.ts';
import { Flattened } from './flattened.ts';
import { anyMessages, provider, tokens } from './read.ts';

const flattened = (stash: Record<string, unknown>, key: 'prompt' | 'completion'): Flattened => {
  let f = stash[key] as Flattened | undefined;
  if (f === undefined) {
    f = new Flattened();
    stash[key] = f;
  }
  return f;
};

export const GEN_AI_DEPRECATED: Convention = {
  name: 'Deprecated GenAI names',
  source: 'semantic-conventions-genai model/gen-ai/deprecated/registry-deprecated.yaml; OpenLLMetry semantic-conventions-ai',
  attributes: {
    'gen_ai.system': { column: 'provider', read: provider },
    'gen_ai.usage.prompt_tokens': { column: 'inputTokens', read: tokens },
    'gen_ai.usage.completion_tokens': { column: 'outputTokens', read: tokens },
    'enduser.id': { column: 'userId' },
    // semconv v1.26 (and LangSmith): the request and response, as JSON.
    'gen_ai.prompt': { content: 'input', read: anyMessages('input') },
    'gen_ai.completion': { content: 'output', read: anyMessages('output') },
  },
  prefixes: {
    'gen_ai.prompt.': { doc: 'input messages, one attribute per field', apply: (stash, rest, v) => flattened(stash, 'prompt').add(rest, v) },
    'gen_ai.completion.': { doc: 'output messages, one attribute per field', apply: (stash, rest, v) => flattened(stash, 'completion').add(rest, v) },
  },
  finish(x) {
    const prompt = x.stash.prompt as Flattened | undefined;
    const completion = x.stash.completion as Flattened | undefined;
    if (prompt) x.offerContent(CONTENT.input, () => resolved(prompt.toMessages('input')));
    if (completion) x.offerContent(CONTENT.output, () => resolved(completion.toMessages('output')));
    // Message events on the span, in the order they were recorded.
    const events = x.lift.events;
    if (events === null) return;
    for (const kind of ['input', 'output', 'system'] as const) {
      const parts: unknown[] = events.filter((e) => e.kind === kind).flatMap((e): unknown[] => e.value);
      if (parts.length > 0) x.offerContent(CONTENT[kind], () => ({ value: parts }), 1);
    }
  },
};

const resolved = (value: unknown[] | null) => (value === null ? null : { value });
