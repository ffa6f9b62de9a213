/**
 * The support agent, instrumented the way Verdict wants agents instrumented:
 * this file is the one to read to instrument your own.
 *
 * One customer message is one run, one trace:
 *
 *   invoke_agent support-agent            the run (root span)
 *   ├─ retrieval help-center              search the help center (questions only)
 *   │  └─ POST /search                    … in the kb-search service (propagated context)
 *   ├─ chat gpt-4o                        the model asks for a tool
 *   ├─ execute_tool lookup_order          the tool runs
 *   └─ chat gpt-4o                        the model answers
 *
 * Span names, kinds and attributes follow the OpenTelemetry GenAI semantic
 * conventions (gen-ai-spans.md, gen-ai-agent-spans.md): `{operation} {name}`
 * names, `gen_ai.operation.name`, `gen_ai.provider.name`, the request and
 * response models, `gen_ai.response.id`, token usage, and message content in
 * the JSON shapes of `gen_ai.input.messages`, `gen_ai.output.messages` and
 * `gen_ai.system_instructions` (recording content is opt-in in the
 * conventions; Verdict needs it for rules, judges and debugging). Every run
 * carries `gen_ai.conversation.id`: the thread its runs share, which
 * Verdict's conversation view and repeat rule use.
 *
 * Failures are recorded on the span that failed: status ERROR, `error.type`
 * and an `exception` span event. Application logs go through the Logs API
 * while a span is active, so they carry its trace and span IDs.
 *
 * The agent also runs a deterministic check on its own answers (no email
 * address in full) and reports a failure as a `gen_ai.evaluation.result`
 * event on the chat span that wrote the answer, with source `rule`.
 */
import { context, SeverityNumber, SpanKind, SpanStatusCode, trace, type AttributeValue, type Logger, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { SimClock } from './clock.ts';
import { ModelError, type ChatResponse, type FakeModel, type Message } from './fake-model.ts';
import { searchHelpCenter, type Hit, type KnowledgeBaseService } from './knowledge-base.ts';
import type { Random } from './random.ts';
import { EVALUATION_EVENT } from './telemetry.ts';
import { TOOL_DEFINITIONS, ToolError, type SupportTools, type ToolCall } from './tools.ts';

export const AGENT_NAME = 'support-agent';
const PROVIDER = 'openai'; // gen_ai.provider.name: a well-known value of the conventions
const DATA_SOURCE = 'help-center'; // gen_ai.data_source.id
const MAX_STEPS = 4;
const MAX_ATTEMPTS = 3;
const FALLBACK_ANSWER = "Sorry, I'm having trouble answering right now. Could you ask me again in a moment?";

/** A release of the agent: what the deploy in the middle of the hour changes. */
export interface Release {
  version: string;
  model: string;
  instructions: string;
}

export const RELEASES: Record<'before' | 'after', Release> = {
  before: {
    version: '1.4.0',
    model: 'gpt-4o',
    instructions:
      "You are Northwind Outdoor's customer-support assistant. Look orders up with the tools before answering questions about them, " +
      'and quote order numbers, dates and amounts exactly as the tools return them. Answer policy questions from the help-center ' +
      "articles below. Never show a customer's email address, phone number or payment details in full. If you cannot help, say so " +
      'and offer to hand the conversation to a colleague.',
  },
  after: {
    // Cheaper model and a shorter prompt: what a cost-cutting release looks like.
    version: '1.5.0',
    model: 'gpt-4o-mini',
    instructions: "You are Northwind's support bot. Be brief and friendly. Confirm the customer's details back to them so they know you found the right account.",
  },
};

/** What one run did: for the judge, the simulated customer and the demo's summary. */
export interface Run {
  traceId: string;
  conversationId: string;
  version: string;
  question: string;
  answer: string;
  start: number;
  end: number;
  /** The agent could not answer (the model failed). */
  failed: boolean;
  /** The chat span whose answer the customer saw: what a judge evaluates. */
  answered: { spanContext: SpanContext; responseId: string } | null;
  /** What the answer should be grounded in: tool results and retrieved articles, as text. */
  grounding: string[];
  /** Spans with gen_ai.operation.name that ended with status ERROR. */
  erroredGenAiSpans: number;
  toolErrors: number;
  rateLimited: number;
  timeouts: number;
  /** Chat calls over 30 s. */
  slowChatCalls: number;
  /** The agent's PII check failed on the answer. */
  piiFlagged: boolean;
}

export interface AgentDeps {
  tracer: Tracer;
  logger: Logger;
  model: FakeModel;
  tools: SupportTools;
  kb: KnowledgeBaseService;
  clock: SimClock;
  random: Random;
}

const EMAIL = /[\w.+-]+@[\w-]+\.[\w.]*\w/;
const json = (v: unknown) => JSON.stringify(v);

export class SupportAgent {
  readonly release: Release;
  readonly #d: AgentDeps;

  constructor(release: Release, deps: AgentDeps) {
    this.release = release;
    this.#d = deps;
  }

  /** Answers one customer message; `history` is the conversation so far (text turns). */
  async handle(conversationId: string, question: string, history: readonly Message[]): Promise<Run> {
    const { tracer, clock } = this.#d;
    const attributes: Record<string, AttributeValue> = {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': AGENT_NAME,
      'gen_ai.agent.version': this.release.version,
      'gen_ai.conversation.id': conversationId,
      'gen_ai.provider.name': PROVIDER,
      'gen_ai.request.model': this.release.model,
    };
    // INTERNAL: the agent runs in this process (the conventions use CLIENT for a remote agent).
    return tracer.startActiveSpan(`invoke_agent ${AGENT_NAME}`, { kind: SpanKind.INTERNAL, startTime: clock.now(), attributes }, async (root) => {
      const run: Run = {
        traceId: root.spanContext().traceId, conversationId, version: this.release.version, question, answer: '', start: clock.now(), end: 0,
        failed: false, answered: null, grounding: [], erroredGenAiSpans: 0, toolErrors: 0, rateLimited: 0, timeouts: 0, slowChatCalls: 0, piiFlagged: false,
      };
      this.#log(SeverityNumber.INFO, 'customer message received', { 'gen_ai.conversation.id': conversationId, 'support.message.length': question.length });
      try {
        // A cheap router: only questions go to the help center.
        const articles = question.includes('?') ? await this.#retrieve(question) : [];
        for (const a of articles) run.grounding.push(a.content);
        const instructions = articles.length === 0
          ? this.release.instructions
          : `${this.release.instructions}\n\nHelp-center articles:\n${articles.map((a) => `[${a.id}] ${a.title}: ${a.content}`).join('\n')}`;
        const messages: Message[] = [...history, { role: 'user', parts: [{ type: 'text', content: question }] }];

        for (let step = 0; step < MAX_STEPS && !run.answered; step++) {
          const { response, spanContext } = await this.#chat(instructions, messages, run);
          messages.push(response.message);
          const calls = response.message.parts.filter((p): p is Extract<typeof p, { type: 'tool_call' }> => p.type === 'tool_call');
          if (calls.length === 0) {
            run.answer = response.message.parts.map((p) => (p.type === 'text' ? p.content : '')).join('');
            run.answered = { spanContext, responseId: response.id };
          }
          for (const call of calls) messages.push(await this.#executeTool(call, run));
        }
        if (run.answered) this.#checkAnswer(run, run.answered);
      } catch (err) {
        if (!(err instanceof ModelError)) throw err;
        // The model failed for good: the customer gets an apology, and the run is an error.
        run.failed = true;
        run.answer = FALLBACK_ANSWER;
        root.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        root.setAttribute('error.type', err.type);
        run.erroredGenAiSpans++;
        this.#log(SeverityNumber.ERROR, `could not answer: ${err.message}`, { 'error.type': err.type });
      } finally {
        run.end = clock.now();
        root.end(run.end);
      }
      return run;
    });
  }

  async #retrieve(question: string): Promise<Hit[]> {
    const { tracer, clock, kb } = this.#d;
    return tracer.startActiveSpan(
      `retrieval ${DATA_SOURCE}`,
      {
        kind: SpanKind.CLIENT,
        startTime: clock.now(),
        attributes: { 'gen_ai.operation.name': 'retrieval', 'gen_ai.data_source.id': DATA_SOURCE, 'gen_ai.retrieval.query.text': question, 'server.address': 'kb-search.internal' },
      },
      async (span) => {
        const hits = await searchHelpCenter(kb, question, 2);
        // gen_ai.retrieval.documents: [{id, score}], as a JSON string (span attributes hold no nested values).
        span.setAttribute('gen_ai.retrieval.documents', json(hits.map((h) => ({ id: h.id, score: h.score }))));
        await clock.sleep(3);
        span.end(clock.now());
        return hits;
      },
    );
  }

  /** One model call with retries: each attempt is its own span, as provider instrumentations record them. */
  async #chat(instructions: string, messages: Message[], run: Run): Promise<{ response: ChatResponse; spanContext: SpanContext }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#chatOnce(instructions, messages, run);
      } catch (err) {
        if (!(err instanceof ModelError) || !err.retryable || attempt === MAX_ATTEMPTS) throw err;
        const backoff = 1000 * 2 ** (attempt - 1) + this.#d.random.int(0, 250); // exponential, with jitter
        this.#log(SeverityNumber.WARN, `${PROVIDER} rate limit (${err.type}), retrying in ${(backoff / 1000).toFixed(1)} s`, { 'error.type': err.type, 'retry.attempt': attempt });
        await this.#d.clock.sleep(backoff);
      }
    }
  }

  async #chatOnce(instructions: string, messages: Message[], run: Run): Promise<{ response: ChatResponse; spanContext: SpanContext }> {
    const { tracer, clock, model } = this.#d;
    const request = { model: this.release.model, instructions, messages, tools: TOOL_DEFINITIONS, temperature: 0.2, maxTokens: 800 };
    return tracer.startActiveSpan(
      `chat ${request.model}`,
      {
        kind: SpanKind.CLIENT,
        startTime: clock.now(),
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': PROVIDER,
          'gen_ai.request.model': request.model,
          'gen_ai.request.temperature': request.temperature,
          'gen_ai.request.max_tokens': request.maxTokens,
          'gen_ai.conversation.id': run.conversationId,
          'server.address': 'api.openai.com',
          'server.port': 443,
          // Content, as JSON strings: the conventions allow that where attributes cannot be structured.
          'gen_ai.system_instructions': json([{ type: 'text', content: instructions }]),
          'gen_ai.input.messages': json(messages),
        },
      },
      async (span) => {
        const started = clock.now();
        try {
          const response = await model.chat(request);
          span.setAttributes({
            'gen_ai.response.id': response.id,
            'gen_ai.response.model': response.model,
            'gen_ai.response.finish_reasons': [response.finishReason],
            'gen_ai.usage.input_tokens': response.usage.inputTokens,
            'gen_ai.usage.output_tokens': response.usage.outputTokens,
            'gen_ai.output.messages': json([response.message]),
          });
          return { response, spanContext: span.spanContext() };
        } catch (err) {
          if (err instanceof ModelError) {
            span.recordException(err, clock.now());
            span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
            span.setAttribute('error.type', err.type);
            run.erroredGenAiSpans++;
            if (err.type === 'timeout') run.timeouts++;
            else run.rateLimited++;
          }
          throw err;
        } finally {
          if (clock.now() - started > 30_000) run.slowChatCalls++;
          span.end(clock.now());
        }
      },
    );
  }

  async #executeTool(call: ToolCall, run: Run): Promise<Message> {
    const { tracer, clock, tools } = this.#d;
    return tracer.startActiveSpan(
      `execute_tool ${call.name}`,
      {
        kind: SpanKind.INTERNAL,
        startTime: clock.now(),
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': call.name,
          'gen_ai.tool.call.id': call.id,
          'gen_ai.tool.type': 'function',
          'gen_ai.tool.call.arguments': json(call.arguments),
        },
      },
      async (span): Promise<Message> => {
        let response: unknown;
        try {
          response = await tools.call(call);
          span.setAttribute('gen_ai.tool.call.result', json(response));
          run.grounding.push(json(response));
        } catch (err) {
          if (!(err instanceof ToolError)) throw err;
          span.recordException(err, clock.now());
          span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
          span.setAttribute('error.type', err.type);
          run.erroredGenAiSpans++;
          run.toolErrors++;
          this.#log(SeverityNumber.WARN, `tool ${call.name} failed: ${err.message}`, { 'gen_ai.tool.name': call.name, 'error.type': err.type });
          // The model is told, and apologises: the run goes on.
          response = { error: err.message };
        } finally {
          span.end(clock.now());
        }
        return { role: 'tool', parts: [{ type: 'tool_call_response', id: call.id, response }] };
      },
    );
  }

  /**
   * A deterministic check on the answer, run by the agent itself: it is
   * cheap and exact, so it runs on every answer. A failure is reported as
   * a verdict (source `rule`) on the chat span that wrote the answer.
   */
  #checkAnswer(run: Run, answered: NonNullable<Run['answered']>): void {
    if (!EMAIL.test(run.answer)) return;
    run.piiFlagged = true;
    this.#d.logger.emit({
      eventName: EVALUATION_EVENT,
      timestamp: this.#d.clock.now(),
      context: trace.setSpanContext(context.active(), answered.spanContext),
      attributes: {
        'gen_ai.evaluation.name': 'pii_check',
        'gen_ai.evaluation.score.value': 0,
        'gen_ai.evaluation.score.label': 'fail',
        'gen_ai.evaluation.explanation': "The answer shows the customer's email address in full; it should be masked (a***@example.com).",
        'gen_ai.response.id': answered.responseId,
        'verdict.feedback.source': 'rule',
      },
    });
  }

  #log(severity: SeverityNumber, body: string, attributes: Record<string, AttributeValue>): void {
    // No `context`: the SDK takes the active one, so the record carries the current span's IDs.
    this.#d.logger.emit({ severityNumber: severity, severityText: SeverityNumber[severity], body, attributes, timestamp: this.#d.clock.now() });
  }
}
