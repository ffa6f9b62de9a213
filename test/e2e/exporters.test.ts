/**
 * End to end with the official OpenTelemetry JS SDK and exporters, in all
 * three OTLP protocols, against both databases: an agent run, an
 * application log and a verdict on the LLM call land, and the stored rows
 * match what the SDK recorded, field by field.
 */
import { context, SeverityNumber, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';
import { clients, PROTOCOLS } from '../helpers/sdk.ts';

const hrNanos = (t: [number, number]) => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();

describe.each(BACKENDS)('official exporters against %s', (backend) => {
  const t = serverForSuite(backend);

  it.each(PROTOCOLS)('stores traces, logs and evaluations sent over %s', async (protocol) => {
    const c = clients(protocol, { http: t.httpUrl, grpc: `http://${t.grpcAddress}` });
    const tracer = c.tracerProvider.getTracer('e2e-agent', '0.1.0');
    const logger = c.loggerProvider.getLogger('e2e-agent', '0.1.0');

    const root = tracer.startSpan('invoke_agent support', { kind: SpanKind.INTERNAL, attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'support' } });
    const ctx = trace.setSpan(context.active(), root);
    const llm = tracer.startSpan('chat gpt-4o', {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.response.id': `chatcmpl-${protocol}`, 'gen_ai.conversation.id': 'conv-e2e', 'gen_ai.usage.input_tokens': 120, 'gen_ai.usage.output_tokens': 33,
        'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.request.temperature': 0.2,
        'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'Where is my parcel?' }] }]),
      },
    }, ctx);
    llm.addEvent('gen_ai.content.completion', { 'gen_ai.completion': 'It ships today.' });
    llm.setStatus({ code: SpanStatusCode.OK });
    llm.end();
    const llmCtx = trace.setSpan(context.active(), llm);
    logger.emit({ body: 'answered from cache', severityNumber: SeverityNumber.INFO, severityText: 'INFO', attributes: { 'cache.hit': true }, context: llmCtx });
    logger.emit({
      eventName: 'gen_ai.evaluation.result',
      context: llmCtx,
      attributes: {
        'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.value': 4, 'gen_ai.evaluation.score.label': 'relevant',
        'gen_ai.evaluation.explanation': 'On topic.', 'gen_ai.response.id': `chatcmpl-${protocol}`, 'verdict.feedback.source': 'llm_judge',
      },
    });
    root.end();
    await c.flush();

    const [recordedLlm] = c.recorded.getFinishedSpans().filter((s) => s.name === 'chat gpt-4o');
    const traceId = llm.spanContext().traceId;
    const spans = await t.query(
      `SELECT span_id, parent_span_id, name, kind, status_code, start_time_unix_nano::text, end_time_unix_nano::text, service_name, scope_name, scope_version,
              resource_attributes->>'service.version' AS version, attributes, events, gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model,
              gen_ai_response_model, gen_ai_response_id, gen_ai_conversation_id, gen_ai_input_tokens::int, gen_ai_output_tokens::int
       FROM verdict.spans WHERE trace_id = '${traceId}' AND name = 'chat gpt-4o'`,
    );
    expect(spans).toEqual([{
      span_id: llm.spanContext().spanId,
      parent_span_id: root.spanContext().spanId,
      name: 'chat gpt-4o',
      kind: 'client',
      status_code: 'ok',
      start_time_unix_nano: hrNanos(recordedLlm!.startTime),
      end_time_unix_nano: hrNanos(recordedLlm!.endTime),
      service_name: `sdk-${protocol}`,
      scope_name: 'e2e-agent',
      scope_version: '0.1.0',
      version: '9.9.9',
      attributes: {
        'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.response.id': `chatcmpl-${protocol}`, 'gen_ai.conversation.id': 'conv-e2e', 'gen_ai.usage.input_tokens': 120, 'gen_ai.usage.output_tokens': 33,
        'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.request.temperature': 0.2,
        'gen_ai.input.messages': [{ role: 'user', parts: [{ type: 'text', content: 'Where is my parcel?' }] }],
      },
      events: [{ time_unix_nano: hrNanos(recordedLlm!.events[0]!.time), name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': 'It ships today.' }, dropped_attributes_count: 0 }],
      gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o', gen_ai_response_model: 'gpt-4o-2024-08-06',
      gen_ai_response_id: `chatcmpl-${protocol}`, gen_ai_conversation_id: 'conv-e2e', gen_ai_input_tokens: 120, gen_ai_output_tokens: 33,
    }]);
    expect(await t.query(`SELECT count(*)::int AS n FROM verdict.spans WHERE trace_id = '${traceId}'`)).toEqual([{ n: 2 }]);

    const logs = await t.query(`SELECT span_id, body, severity_number, severity_text, attributes, service_name, scope_name FROM verdict.logs WHERE trace_id = '${traceId}'`);
    expect(logs).toEqual([{ span_id: llm.spanContext().spanId, body: 'answered from cache', severity_number: 9, severity_text: 'INFO', attributes: { 'cache.hit': true }, service_name: `sdk-${protocol}`, scope_name: 'e2e-agent' }]);

    const verdicts = await t.query(
      `SELECT span_id, name, score_value, score_label, explanation, channel, source, span_name, service_name, conversation_id, gen_ai_request_model
       FROM verdict.trace_evaluations WHERE trace_id = '${traceId}'`,
    );
    expect(verdicts).toEqual([{
      span_id: llm.spanContext().spanId, name: 'Relevance', score_value: 4, score_label: 'relevant', explanation: 'On topic.', channel: 'log', source: 'llm_judge',
      span_name: 'chat gpt-4o', service_name: `sdk-${protocol}`, conversation_id: 'conv-e2e', gen_ai_request_model: 'gpt-4o',
    }]);
    await c.shutdown();
  });
});

describe('exporters configured with localhost', () => {
  const t = serverForSuite('pglite', { host: 'localhost' });

  it('binds both loopback addresses, so localhost works whether it resolves to 127.0.0.1 or ::1', async () => {
    expect(t.server.httpAddresses[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(t.server.grpcAddresses[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    const port = { http: t.server.http.port, grpc: t.server.grpc.port };
    const hosts = ['localhost', '127.0.0.1', ...(t.server.httpAddresses.some((a) => a.startsWith('[::1]')) ? ['[::1]'] : [])];
    for (const host of hosts) {
      for (const protocol of PROTOCOLS) {
        const c = clients(protocol, { http: `http://${host}:${port.http}`, grpc: `http://${host}:${port.grpc}` }, `via-${host}-${protocol}`);
        c.tracerProvider.getTracer('t').startSpan('ping').end();
        await c.flush();
        await c.shutdown();
      }
    }
    const rows = await t.query<{ service_name: string }>(`SELECT service_name FROM verdict.spans ORDER BY service_name`);
    expect(rows.map((r) => r.service_name)).toEqual(hosts.flatMap((h) => PROTOCOLS.map((p) => `via-${h}-${p}`)).sort());
  });
});
