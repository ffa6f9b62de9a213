/**
 * The convention tables (src/normalize/conventions/): which attribute fills
 * which column, the order of precedence between conventions, and the values
 * normalised onto the GenAI lists. No database: a span's attributes go
 * through the same lifting the normaliser does.
 */
import { describe, expect, it } from 'vitest';
import { annotationVerdict, type Annotation } from '../../src/normalize/conventions/annotations.ts';
import { COL, CONTENT, Lift } from '../../src/normalize/conventions/lift.ts';
import { CONVENTIONS, finishLift, liftAttribute } from '../../src/normalize/conventions/registry.ts';
import { OPERATIONS, operationName, providerName, PROVIDERS } from '../../src/normalize/conventions/values.ts';
import { OPENINFERENCE_KINDS } from '../../src/normalize/conventions/openinference.ts';
import { TRACELOOP_KINDS } from '../../src/normalize/conventions/openllmetry.ts';
import { LANGSMITH_KINDS } from '../../src/normalize/conventions/langsmith.ts';
import { aiSdkOperation } from '../../src/normalize/conventions/ai-sdk.ts';
import type { AnyValue, KeyValue } from '../../src/otlp/types.ts';

type Attr = [string, string | number | object];
const anyValue = (v: string | number | object): AnyValue =>
  typeof v === 'string' ? { stringValue: v } : typeof v === 'number' ? (Number.isInteger(v) ? { intValue: v } : { doubleValue: v }) : (v as AnyValue);

/** Lifts a span's attributes as the normaliser does, and returns its columns by name. */
function lift(attrs: Attr[], name = 'span') {
  const kvs: KeyValue[] = attrs.map(([key, v]) => ({ key, value: anyValue(v) }));
  const l = new Lift();
  l.reset(name, kvs);
  for (const kv of kvs) liftAttribute(l, kv.key, kv.value);
  finishLift(l);
  const out: Record<string, unknown> = {};
  for (const [col, i] of Object.entries(COL)) if (l.value(i) !== null) out[col] = l.value(i);
  for (const [col, i] of Object.entries(CONTENT)) {
    const r = l.content(i);
    if (r !== null) out[col] = r.value;
  }
  if (l.annotations) out.annotations = l.annotations;
  return out;
}

const text = (content: string) => ({ type: 'text', content });

describe('the order of precedence', () => {
  it('lets the first convention that supplies a column win, whatever order the attributes come in', () => {
    const attrs: Attr[] = [
      ['ai.model.provider', 'anthropic.messages'], // AI SDK
      ['llm.provider', 'mistralai'], // OpenInference
      ['gen_ai.system', 'cohere'], // deprecated GenAI
      ['gen_ai.provider.name', 'openai'], // current GenAI
    ];
    expect(lift(attrs).provider).toBe('openai');
    expect(lift([...attrs].reverse()).provider).toBe('openai');
    expect(lift(attrs.slice(0, 3)).provider).toBe('cohere');
    expect(lift(attrs.slice(0, 2)).provider).toBe('mistral_ai');
    expect(lift(attrs.slice(0, 1)).provider).toBe('anthropic');
  });

  it('orders the conventions as documented', () => {
    expect(CONVENTIONS.map((c) => c.name)).toEqual(['OpenTelemetry GenAI', 'Deprecated GenAI names', 'OpenInference', 'OpenLLMetry (Traceloop)', 'Vercel AI SDK (ai.*)', 'LangSmith (OpenTelemetry mode)']);
  });

  it('tries the next content candidate when the best one holds no messages', () => {
    // LangSmith's tool run: gen_ai.prompt is the arguments, not messages; the LangSmith table reads it as arguments.
    const out = lift([['langsmith.span.kind', 'tool'], ['gen_ai.prompt', '{"city":"Paris"}'], ['gen_ai.completion', '{"ok":true}'], ['input.value', 'What now?']]);
    expect(out).toMatchObject({ operation: 'execute_tool', input: [{ role: 'user', parts: [text('What now?')] }], toolArguments: { city: 'Paris' }, toolResult: { ok: true } });
  });

  it('keeps the current names as they are, and reads the older ones only where the current are absent', () => {
    expect(lift([['gen_ai.usage.input_tokens', 5], ['gen_ai.usage.prompt_tokens', 7], ['gen_ai.usage.completion_tokens', 3]])).toMatchObject({ inputTokens: 5, outputTokens: 3 });
    expect(lift([['user.id', 'u1'], ['enduser.id', 'u2']]).userId).toBe('u1');
    expect(lift([['enduser.id', 'u2']]).userId).toBe('u2');
  });
});

describe('hostile input', () => {
  const deep = (n: number, open: string, inner: string, close: string) => open.repeat(n) + inner + close.repeat(n);

  it('costs a column, never the span: values nested far beyond any conversation', () => {
    expect(lift([['ai.operationId', 'ai.generateText.doGenerate'], ['ai.prompt.messages', deep(200_000, '[', '{"role":"user","content":"x"}', ']')]]))
      .toEqual({ operation: 'chat' });
    // Traceloop's {args: [...]} unwrapping, nested until the stack gives out.
    expect(lift([['traceloop.span.kind', 'workflow'], ['traceloop.entity.input', deep(100_000, '{"args":[', '"x"', '],"kwargs":{}}')], ['gen_ai.request.model', 'm']]))
      .toEqual({ operation: 'invoke_workflow', requestModel: 'm' });
  });

  it('keeps the role of a message whose parts are not a list, and tries the next candidate when the best is unusable', () => {
    expect(lift([['gen_ai.output.messages', '[{"role":"assistant","parts":"not a list"}]']]).output).toEqual([{ role: 'assistant', parts: [] }]);
    expect(lift([['gen_ai.input.messages', 'not json'], ['input.value', 'Q?']]).input).toEqual([{ role: 'user', parts: [text('Q?')] }]);
  });
});

describe('values on the GenAI lists', () => {
  it('maps provider spellings to gen_ai.provider.name', () => {
    const cases: Record<string, string | null> = {
      'openai.chat': 'openai', 'openai.responses': 'openai', 'openai.embedding': 'openai', 'anthropic.messages': 'anthropic',
      'google.vertex.chat': 'gcp.vertex_ai', 'google.generative-ai': 'gcp.gemini', google: 'gcp.gen_ai', 'mistral.chat': 'mistral_ai', mistralai: 'mistral_ai',
      'amazon-bedrock': 'aws.bedrock', aws: 'aws.bedrock', azure: 'azure.ai.openai', 'az.ai.openai': 'azure.ai.openai', xai: 'x_ai', 'xai.chat': 'x_ai',
      vertex_ai: 'gcp.vertex_ai', gemini: 'gcp.gemini', langchain: null, 'my-own-gateway': 'my-own-gateway', 'ibm.watsonx.ai': 'ibm.watsonx.ai',
    };
    for (const [from, to] of Object.entries(cases)) expect([from, providerName(from)]).toEqual([from, to]);
    for (const p of PROVIDERS) expect(providerName(p)).toBe(p);
  });

  it('leaves a provider that is not one to a later convention', () => {
    // LangSmith's gen_ai.system = langchain on a failed model call; its metadata says openai.
    expect(lift([['gen_ai.system', 'langchain'], ['langsmith.metadata.ls_provider', 'openai']]).provider).toBe('openai');
  });

  it('maps every convention\'s kinds onto GenAI operation names', () => {
    const values = new Set<string>(OPERATIONS);
    for (const v of [...Object.values(OPENINFERENCE_KINDS), ...Object.values(TRACELOOP_KINDS), ...Object.values(LANGSMITH_KINDS)]) expect(values).toContain(v);
    expect(operationName('chain')).toBe('invoke_workflow');
    expect(operationName('agent_step')).toBe('agent_step');
    expect(['ai.generateText', 'ai.streamText.doStream', 'ai.generateObject.doGenerate', 'ai.embedMany', 'ai.embed.doEmbed', 'ai.toolCall', 'ai.somethingNew'].map(aiSdkOperation))
      .toEqual(['invoke_agent', 'chat', 'chat', 'embeddings', 'embeddings', 'execute_tool', undefined]);
    expect(lift([['openinference.span.kind', 'RERANKER']]).operation).toBeUndefined();
    expect(lift([['traceloop.span.kind', 'task']]).operation).toBeUndefined();
  });
});

describe('OpenInference', () => {
  const openaiBody = JSON.stringify({ id: 'chatcmpl-7', model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Paris.' } }] });

  it('lifts an LLM span: request and response model, response ID from output.value, tokens, thread, user, messages', () => {
    expect(lift([
      ['openinference.span.kind', 'LLM'], ['llm.system', 'openai'], ['llm.model_name', 'gpt-4o-mini-2024-07-18'],
      ['llm.invocation_parameters', '{"model":"gpt-4o-mini","temperature":0.2}'], ['llm.token_count.prompt', 34], ['llm.token_count.completion', 12],
      ['session.id', 'thread-42'], ['user.id', 'user-7'],
      ['llm.input_messages.0.message.role', 'user'], ['llm.input_messages.0.message.content', 'Capital of France?'],
      ['llm.output_messages.0.message.role', 'assistant'], ['llm.output_messages.0.message.content', 'Paris.'], ['llm.finish_reason', 'stop'],
      ['output.value', openaiBody], ['output.mime_type', 'application/json'],
    ])).toEqual({
      operation: 'chat', provider: 'openai', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', responseId: 'chatcmpl-7',
      conversationId: 'thread-42', userId: 'user-7', inputTokens: 34, outputTokens: 12,
      input: [{ role: 'user', parts: [text('Capital of France?')] }],
      output: [{ role: 'assistant', parts: [text('Paris.')], finish_reason: 'stop' }],
    });
  });

  it('does not take a response ID from the output of spans that are not model calls', () => {
    expect(lift([['openinference.span.kind', 'CHAIN'], ['output.value', openaiBody]]).responseId).toBeUndefined();
  });

  it('reads LangChain\'s generations, metadata and agent root', () => {
    const generations = JSON.stringify({ generations: [[{ text: 'Hi', message: { lc: 1, type: 'constructor', id: ['langchain_core', 'messages', 'AIMessage'], kwargs: { id: 'chatcmpl-2', content: 'Hi', response_metadata: { model_name: 'gpt-4o-mini-2024-07-18' } } } }]] });
    const metadata = JSON.stringify({ lc_agent_name: 'weather_agent', thread_id: 't-1', user_id: 'u-1', ls_provider: 'openai', ls_model_name: 'gpt-4o-mini' });
    expect(lift([['openinference.span.kind', 'LLM'], ['output.value', generations], ['metadata', metadata]])).toMatchObject({
      operation: 'chat', responseId: 'chatcmpl-2', responseModel: 'gpt-4o-mini-2024-07-18', requestModel: 'gpt-4o-mini', provider: 'openai', agentName: 'weather_agent', conversationId: 't-1', userId: 'u-1',
    });
    expect(lift([['openinference.span.kind', 'CHAIN'], ['metadata', metadata]], 'weather_agent').operation).toBe('invoke_agent');
    expect(lift([['openinference.span.kind', 'CHAIN'], ['metadata', metadata]], 'tools').operation).toBe('invoke_workflow');
  });

  it('lifts tool spans: the name (from the span when not sent), arguments and result', () => {
    expect(lift([['openinference.span.kind', 'TOOL'], ['input.value', '{"order_id":"A-1"}'], ['output.value', 'not found']], 'lookup_order'))
      .toEqual({ operation: 'execute_tool', toolName: 'lookup_order', toolArguments: { order_id: 'A-1' }, toolResult: 'not found' });
  });

  it('collects annotations and evaluations as verdicts', () => {
    const out = lift([
      ['annotations.0.annotation.name', 'helpfulness'], ['annotations.0.annotation.score', 1], ['annotations.0.annotation.annotator_kind', 'HUMAN'],
      ['evaluations.0.evaluation.name', 'relevance'], ['evaluations.0.evaluation.label', 'relevant'], ['evaluations.0.evaluation.annotator_kind', 'LLM'],
      ['trace.annotations.0.annotation.name', 'task_done'], ['trace.annotations.0.annotation.label', 'yes'],
      ['annotations.1.annotation.name', 'nothing_said'],
    ]);
    const verdicts = (out.annotations as Annotation[]).map(annotationVerdict);
    expect(verdicts).toEqual([
      { name: 'helpfulness', score: 1, label: null, explanation: null, source: 'user', attributes: { 'annotation.name': 'helpfulness', 'annotation.score': 1, 'annotation.annotator_kind': 'HUMAN' } },
      { name: 'relevance', score: null, label: 'relevant', explanation: null, source: 'llm_judge', attributes: { 'evaluation.name': 'relevance', 'evaluation.label': 'relevant', 'evaluation.annotator_kind': 'LLM' } },
      { name: 'task_done', score: null, label: 'yes', explanation: null, source: null, attributes: { 'annotation.name': 'task_done', 'annotation.label': 'yes' } },
      'annotations.1 has no score, label or explanation',
    ]);
    expect((out.annotations as Annotation[]).map((a) => a.scope)).toEqual(['span', 'span', 'trace', 'span']);
  });
});

describe('OpenLLMetry, the AI SDK and LangSmith', () => {
  it('Traceloop: entity kinds, names, arguments, thread and user', () => {
    const common: Attr[] = [['traceloop.association.properties.session_id', 's-1'], ['traceloop.association.properties.user_id', 'u-1']];
    expect(lift([['traceloop.span.kind', 'tool'], ['traceloop.entity.name', 'get_weather'], ['traceloop.entity.input', '{"args":[],"kwargs":{"city":"Paris"}}'], ['traceloop.entity.output', '{"ok":true}'], ...common]))
      .toEqual({ operation: 'execute_tool', toolName: 'get_weather', toolArguments: { city: 'Paris' }, toolResult: { ok: true }, conversationId: 's-1', userId: 'u-1' });
    expect(lift([['traceloop.span.kind', 'agent'], ['traceloop.entity.name', 'planner'], ['traceloop.entity.output', '"Done."']]))
      .toEqual({ operation: 'invoke_agent', agentName: 'planner', output: [{ role: 'assistant', parts: [text('Done.')] }] });
    expect(lift([['llm.request.type', 'completion']]).operation).toBe('text_completion');
  });

  it('AI SDK: the call spans, the run, the embedding\'s tokens once, and the thread keys of ai 6 and ai 7', () => {
    expect(lift([
      ['ai.operationId', 'ai.generateText.doGenerate'], ['ai.model.provider', 'openai.chat'], ['ai.model.id', 'gpt-4o-mini'], ['ai.response.model', 'gpt-4o-mini-2024-07-18'],
      ['ai.response.id', 'chatcmpl-1'], ['ai.usage.promptTokens', 10], ['ai.usage.completionTokens', 2], ['ai.telemetry.functionId', 'chat'],
      ['ai.telemetry.metadata.sessionId', 'thread-42'], ['ai.telemetry.metadata.userId', 'user-7'],
      ['ai.prompt.messages', '[{"role":"user","content":[{"type":"text","text":"Q?"}]}]'],
      ['ai.response.text', ''], ['ai.response.toolCalls', '[{"toolCallId":"call_1","toolName":"f","input":"{\\"a\\":1}"}]'], ['ai.response.finishReason', 'tool-calls'],
    ])).toEqual({
      operation: 'chat', provider: 'openai', requestModel: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', responseId: 'chatcmpl-1', inputTokens: 10, outputTokens: 2,
      agentName: 'chat', conversationId: 'thread-42', userId: 'user-7',
      input: [{ role: 'user', parts: [text('Q?')] }],
      output: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: { a: 1 } }], finish_reason: 'tool_call' }],
    });
    expect(lift([['ai.operationId', 'ai.generateText'], ['ai.prompt', '{"system":"Be terse.","prompt":"Q?"}'], ['ai.settings.context.sessionId', 't'], ['ai.settings.context.userId', 'u']]))
      .toEqual({ operation: 'invoke_agent', conversationId: 't', userId: 'u', system: [text('Be terse.')], input: [{ role: 'user', parts: [text('Q?')] }] });
    expect(lift([['ai.operationId', 'ai.embedMany'], ['ai.usage.tokens', 12]]).inputTokens).toBeUndefined();
    expect(lift([['ai.operationId', 'ai.embedMany.doEmbed'], ['ai.usage.tokens', 12]]).inputTokens).toBe(12);
    expect(lift([['ai.operationId', 'ai.toolCall'], ['ai.toolCall.name', 'f'], ['ai.toolCall.id', 'call_1'], ['ai.toolCall.args', '{"a":1}'], ['ai.toolCall.result', '{"b":2}']]))
      .toEqual({ operation: 'execute_tool', toolName: 'f', toolCallId: 'call_1', toolArguments: { a: 1 }, toolResult: { b: 2 } });
  });

  it('LangSmith: run kinds, thread and user metadata, usage JSON, request and response bodies as messages', () => {
    expect(lift([
      ['langsmith.span.kind', 'llm'], ['gen_ai.operation.name', 'chat'], ['langsmith.metadata.thread_id', 'thread-42'], ['langsmith.metadata.user_id', 'user-7'],
      ['langsmith.usage_metadata', '{"input_tokens":34,"output_tokens":12}'], ['langsmith.metadata.ls_model_name', 'gpt-4o-mini'],
      ['gen_ai.prompt', '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Q?"}]}'],
      ['gen_ai.completion', '{"id":"chatcmpl-1","choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"A."}}]}'],
    ])).toEqual({
      operation: 'chat', requestModel: 'gpt-4o-mini', conversationId: 'thread-42', userId: 'user-7', inputTokens: 34, outputTokens: 12,
      input: [{ role: 'user', parts: [text('Q?')] }], output: [{ role: 'assistant', parts: [text('A.')], finish_reason: 'stop' }],
    });
    expect(lift([['langsmith.span.kind', 'chain'], ['gen_ai.operation.name', 'chain']]).operation).toBe('invoke_workflow');
  });
});
