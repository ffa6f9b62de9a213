/**
 * Spans over OTLP/HTTP (protobuf and JSON) and OTLP/gRPC land in
 * verdict.spans with every OTLP field, and with the GenAI columns lifted,
 * on the embedded database and on real PostgreSQL.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';
import { dbl, grpcCall, int, postJson, postProto, str, traceJson, TRACE_PATH } from '../helpers/otlp.ts';
import { EVERY_FIELD_ENVELOPE, EVERY_FIELD_SPAN_JSON, everyFieldSpan, hexId, traces } from '../helpers/fixtures.ts';

const T0 = '1767225600123456789'; // 2026-01-01T00:00:00.123456789Z
const T1 = '1767225601987654321';

/** One span with every OTLP field set. */
const fullSpan = (traceId: string, spanId: string) => traces([everyFieldSpan(traceId, spanId)], EVERY_FIELD_ENVELOPE);

/** The same span in OTLP/JSON with uppercase hex, an int64 as a JSON number, and an unknown field: all allowed. */
function fullSpanJson(traceId: string, spanId: string) {
  const body = fullSpan(traceId, spanId).json();
  const span = body.resourceSpans[0].scopeSpans[0].spans[0];
  Object.assign(span, { traceId: traceId.toUpperCase(), spanId: spanId.toUpperCase(), unknownFieldFromTheFuture: { ignored: true } });
  span.attributes.find((a: { key: string }) => a.key === 'neg').value.intValue = -7;
  return body;
}

const SPAN_QUERY = (traceId: string) => `
  SELECT trace_id, span_id, parent_span_id, trace_state, name, kind,
         (extract(epoch FROM start_time) * 1e6)::bigint::text AS start_us, (extract(epoch FROM end_time) * 1e6)::bigint::text AS end_us,
         start_time_unix_nano::text, end_time_unix_nano::text, duration_ns::text, status_code, status_message, flags::text,
         service_name, scope_name, scope_version, scope_attributes, resource_attributes, resource_schema_url, scope_schema_url,
         attributes, events, links, dropped_attributes_count::text, dropped_events_count::text, dropped_links_count::text,
         gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model, gen_ai_response_model, gen_ai_response_id,
         gen_ai_conversation_id, gen_ai_agent_name, gen_ai_tool_name, gen_ai_input_tokens::text, gen_ai_output_tokens::text
  FROM verdict.spans WHERE trace_id = '${traceId}'`;

function expectFullSpan(row: Record<string, unknown>, traceId: string, spanId: string) {
  expect(row).toEqual({
    trace_id: traceId,
    span_id: spanId,
    parent_span_id: '0102030405060708',
    trace_state: 'vendor=abc',
    name: 'chat gpt-4o',
    kind: 'client',
    start_us: '1767225600123456',
    end_us: '1767225601987654',
    start_time_unix_nano: T0,
    end_time_unix_nano: T1,
    duration_ns: (BigInt(T1) - BigInt(T0)).toString(),
    status_code: 'error',
    status_message: 'upstream failed',
    flags: String(0x301),
    service_name: 'checkout',
    scope_name: 'my.library',
    scope_version: '1.0.0',
    scope_attributes: { 'scope.attr': true },
    resource_attributes: { 'service.name': 'checkout', 'service.version': '2.1.0' },
    resource_schema_url: 'https://opentelemetry.io/schemas/1.38.0',
    scope_schema_url: 'https://opentelemetry.io/schemas/1.37.0',
    ...EVERY_FIELD_SPAN_JSON,
    dropped_attributes_count: '2',
    dropped_events_count: '3',
    dropped_links_count: '4',
    gen_ai_operation_name: null,
    gen_ai_provider_name: null,
    gen_ai_request_model: null,
    gen_ai_response_model: null,
    gen_ai_response_id: null,
    gen_ai_conversation_id: null,
    gen_ai_agent_name: null,
    gen_ai_tool_name: null,
    gen_ai_input_tokens: null,
    gen_ai_output_tokens: null,
  });
}

describe.each(BACKENDS)('spans on %s', (backend) => {
  const t = serverForSuite(backend);

  it('stores every OTLP span field from OTLP/HTTP protobuf', async () => {
    const [traceId, spanId] = [hexId(16, 1), hexId(8, 1)];
    const res = await postProto(`${t.httpUrl}/v1/traces`, fullSpan(traceId, spanId).proto());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect(res.body.length).toBe(0); // full success: partial_success unset
    const rows = await t.query(SPAN_QUERY(traceId));
    expect(rows).toHaveLength(1);
    expectFullSpan(rows[0]!, traceId, spanId);
  });

  it('stores the same span from OTLP/JSON (uppercase hex, numbers as strings, unknown fields ignored)', async () => {
    const [traceId, spanId] = [hexId(16, 2), hexId(8, 2)];
    const res = await postJson(`${t.httpUrl}/v1/traces`, fullSpanJson(traceId, spanId));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json()).toEqual({});
    const rows = await t.query(SPAN_QUERY(traceId));
    expectFullSpan(rows[0]!, traceId, spanId);
  });

  it('stores the same span from OTLP/gRPC', async () => {
    const [traceId, spanId] = [hexId(16, 3), hexId(8, 3)];
    const res = await grpcCall(t.grpcAddress, TRACE_PATH, fullSpan(traceId, spanId).proto(), { gzip: true });
    expect(res.code).toBe(0);
    const rows = await t.query(SPAN_QUERY(traceId));
    expectFullSpan(rows[0]!, traceId, spanId);
  });

  it('accepts snake_case keys, enum names and base64 IDs like the reference Collector', async () => {
    const traceId = hexId(16, 4);
    const spanId = hexId(8, 4);
    const body = {
      resource_spans: [{ scope_spans: [{ spans: [{
        trace_id: Buffer.from(traceId, 'hex').toString('base64'),
        span_id: Buffer.from(spanId, 'hex').toString('base64').replace(/=+$/, ''),
        name: 'snake', kind: 'SPAN_KIND_SERVER', start_time_unix_nano: 1767225600000000000, end_time_unix_nano: '1767225600000001000',
        status: { code: 'STATUS_CODE_OK' },
      }] }] }],
    };
    const res = await postJson(`${t.httpUrl}/v1/traces`, body);
    expect(res.status).toBe(200);
    const rows = await t.query<{ span_id: string; kind: string; status_code: string; duration_ns: string; service_name: string | null }>(
      `SELECT span_id, kind, status_code, duration_ns::text, service_name FROM verdict.spans WHERE trace_id = '${traceId}'`,
    );
    expect(rows).toEqual([{ span_id: spanId, kind: 'server', status_code: 'ok', duration_ns: '1000', service_name: null }]);
  });

  it('lifts every GenAI column, mapping renamed attributes', async () => {
    const traceId = hexId(16, 5);
    const spans = [
      {
        traceId, spanId: hexId(8, 51), name: 'chat gpt-4o', kind: 3, startTimeUnixNano: T0, endTimeUnixNano: T1,
        attributes: [
          str('gen_ai.operation.name', 'chat'), str('gen_ai.provider.name', 'openai'), str('gen_ai.request.model', 'gpt-4o'),
          str('gen_ai.response.model', 'gpt-4o-2024-08-06'), str('gen_ai.response.id', 'chatcmpl-123'), str('gen_ai.conversation.id', 'conv-1'),
          str('gen_ai.agent.name', 'support'), str('gen_ai.tool.name', 'lookup'), int('gen_ai.usage.input_tokens', 100), int('gen_ai.usage.output_tokens', 20),
          str('gen_ai.system', 'ignored-because-provider-is-set'),
        ],
      },
      {
        // Older conventions: gen_ai.system (with a renamed value) and the v1.26 token names.
        traceId, spanId: hexId(8, 52), name: 'chat grok', kind: 3, startTimeUnixNano: T0, endTimeUnixNano: T1,
        attributes: [str('gen_ai.system', 'xai'), int('gen_ai.usage.prompt_tokens', 7), int('gen_ai.usage.completion_tokens', 3)],
      },
      {
        traceId, spanId: hexId(8, 53), name: 'chat gemini', kind: 3, startTimeUnixNano: T0, endTimeUnixNano: T1,
        attributes: [str('gen_ai.system', 'vertex_ai'), dbl('gen_ai.usage.input_tokens', 12)],
      },
    ];
    const res = await postJson(`${t.httpUrl}/v1/traces`, traceJson(spans));
    expect(res.status).toBe(200);
    const rows = await t.query(
      `SELECT span_id, gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model, gen_ai_response_model, gen_ai_response_id,
              gen_ai_conversation_id, gen_ai_agent_name, gen_ai_tool_name, gen_ai_input_tokens::text, gen_ai_output_tokens::text
       FROM verdict.spans WHERE trace_id = '${traceId}' ORDER BY span_id`,
    );
    expect(rows).toEqual([
      { span_id: hexId(8, 51), gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o', gen_ai_response_model: 'gpt-4o-2024-08-06', gen_ai_response_id: 'chatcmpl-123', gen_ai_conversation_id: 'conv-1', gen_ai_agent_name: 'support', gen_ai_tool_name: 'lookup', gen_ai_input_tokens: '100', gen_ai_output_tokens: '20' },
      { span_id: hexId(8, 52), gen_ai_operation_name: null, gen_ai_provider_name: 'x_ai', gen_ai_request_model: null, gen_ai_response_model: null, gen_ai_response_id: null, gen_ai_conversation_id: null, gen_ai_agent_name: null, gen_ai_tool_name: null, gen_ai_input_tokens: '7', gen_ai_output_tokens: '3' },
      { span_id: hexId(8, 53), gen_ai_operation_name: null, gen_ai_provider_name: 'gcp.vertex_ai', gen_ai_request_model: null, gen_ai_response_model: null, gen_ai_response_id: null, gen_ai_conversation_id: null, gen_ai_agent_name: null, gen_ai_tool_name: null, gen_ai_input_tokens: '12', gen_ai_output_tokens: null },
    ].sort((a, b) => a.span_id.localeCompare(b.span_id)));
  });

  it('stores content attributes as JSON whether they arrive as a JSON string or structured', async () => {
    const traceId = hexId(16, 6);
    const messages = [{ role: 'user', parts: [{ type: 'text', content: 'Where is my order?' }] }];
    const req = traces([
      { traceId, spanId: hexId(8, 61), name: 'as string', attributes: { 'gen_ai.input.messages': JSON.stringify(messages), 'gen_ai.tool.call.arguments': 'not json {' } },
      { traceId, spanId: hexId(8, 62), name: 'structured', attributes: { 'gen_ai.input.messages': messages } },
      { traceId, spanId: hexId(8, 63), name: 'escapes', attributes: { 'gen_ai.output.messages': '[{"role":"assistant","parts":[{"type":"text","content":"nul\\u0000 and \\ud800 lone"}]}]' } },
    ]);
    expect((await postJson(`${t.httpUrl}/v1/traces`, req.json())).status).toBe(200);
    const rows = await t.query<{ name: string; attributes: Record<string, unknown> }>(`SELECT name, attributes FROM verdict.spans WHERE trace_id = '${traceId}' ORDER BY span_id`);
    const byName = Object.fromEntries(rows.map((r) => [r.name, r.attributes]));
    expect(byName['as string']).toEqual({ 'gen_ai.input.messages': messages, 'gen_ai.tool.call.arguments': 'not json {' });
    expect(byName.structured).toEqual({ 'gen_ai.input.messages': messages });
    // jsonb cannot hold U+0000 or lone surrogates: they become U+FFFD rather than failing the batch.
    expect(byName.escapes).toEqual({ 'gen_ai.output.messages': [{ role: 'assistant', parts: [{ type: 'text', content: 'nul\uFFFD and \uFFFD lone' }] }] });
    const typed = await t.query<{ t: string }>(`SELECT jsonb_typeof(attributes->'gen_ai.input.messages') AS t FROM verdict.spans WHERE trace_id = '${traceId}' AND name = 'as string'`);
    expect(typed).toEqual([{ t: 'array' }]);
  });

  it('stores content once: a content column that is its attribute, as sent, is read from the attribute', async () => {
    const traceId = hexId(16, 17);
    const input = [{ role: 'user', parts: [{ type: 'text', content: 'Where is my order?' }] }];
    const output = [{ role: 'assistant', parts: [{ type: 'text', content: 'On its way.' }], finish_reason: 'stop' }];
    const req = traces([
      // In the one shape: as a JSON string and structured.
      { traceId, spanId: hexId(8, 171), name: 'one shape', attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': JSON.stringify(input), 'gen_ai.output.messages': output } },
      { traceId, spanId: hexId(8, 172), name: 'tool', attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.arguments': '{"order": 7}', 'gen_ai.tool.call.result': 'shipped' } },
      // Another shape (role and content only): converted, so the column holds the conversion.
      { traceId, spanId: hexId(8, 173), name: 'converted', attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': [{ role: 'user', content: 'Where is my order?' }] } },
    ]);
    expect((await postJson(`${t.httpUrl}/v1/traces`, req.json())).status).toBe(200);
    const view = await t.query<Record<string, unknown>>(`
      SELECT name, gen_ai_input_messages, gen_ai_output_messages, gen_ai_tool_call_arguments, gen_ai_tool_call_result, input_text, output_text
      FROM verdict.spans WHERE trace_id = '${traceId}' ORDER BY name`);
    expect(view).toEqual([
      { name: 'converted', gen_ai_input_messages: input, gen_ai_output_messages: null, gen_ai_tool_call_arguments: null, gen_ai_tool_call_result: null, input_text: 'Where is my order?', output_text: null },
      { name: 'one shape', gen_ai_input_messages: input, gen_ai_output_messages: output, gen_ai_tool_call_arguments: null, gen_ai_tool_call_result: null, input_text: 'Where is my order?', output_text: 'On its way.' },
      { name: 'tool', gen_ai_input_messages: null, gen_ai_output_messages: null, gen_ai_tool_call_arguments: { order: 7 }, gen_ai_tool_call_result: 'shipped', input_text: null, output_text: null },
    ]);
    // What is stored: each content once.
    const stored = await t.query<Record<string, unknown>>(`
      SELECT name, content_in_attributes, gen_ai_input_messages IS NOT NULL AS input, gen_ai_output_messages IS NOT NULL AS output,
        gen_ai_tool_call_arguments IS NOT NULL AS args, gen_ai_tool_call_result IS NOT NULL AS result
      FROM verdict.span_rows WHERE trace_id = '${traceId}' ORDER BY name`);
    expect(stored).toEqual([
      { name: 'converted', content_in_attributes: null, input: true, output: false, args: false, result: false },
      { name: 'one shape', content_in_attributes: 3, input: false, output: false, args: false, result: false },
      { name: 'tool', content_in_attributes: 12, input: false, output: false, args: false, result: false },
    ]);
  });

  it('stores lifted attributes once: in their column only, and the view shows the attributes as sent', async () => {
    const traceId = hexId(16, 18);
    const long = 'm'.repeat(1100);
    const every = [
      str('gen_ai.operation.name', 'chat'), str('gen_ai.provider.name', 'openai'), str('gen_ai.request.model', 'gpt-4o'),
      str('gen_ai.response.model', 'gpt-4o-2024-08-06'), str('gen_ai.response.id', 'chatcmpl-9'), str('gen_ai.conversation.id', 'conv-9'),
      str('gen_ai.agent.name', 'support'), str('gen_ai.tool.name', 'lookup'), str('gen_ai.tool.call.id', 'call_9'),
      int('gen_ai.usage.input_tokens', 100), int('gen_ai.usage.output_tokens', 20), str('user.id', 'u-9'), str('app.other', 'kept'),
    ];
    const spans = [
      { traceId, spanId: hexId(8, 181), name: 'every key', kind: 3, startTimeUnixNano: T0, endTimeUnixNano: T1, attributes: every },
      // One key alone: each bit puts back its own attribute.
      ...every.slice(0, 12).map((kv, i) => ({ traceId, spanId: hexId(8, 190 + i), name: `only ${kv.key}`, kind: 3, startTimeUnixNano: T0, endTimeUnixNano: T1, attributes: [kv] })),
      // Values a column does not hold as they are stay in the attributes: a mapped provider, tokens as text, text too long
      // to lift, a key sent twice (the last one stands, as in jsonb).
      {
        traceId, spanId: hexId(8, 182), name: 'kept', kind: 3, startTimeUnixNano: T0, endTimeUnixNano: T1,
        attributes: [str('gen_ai.provider.name', 'openai.chat'), str('gen_ai.usage.input_tokens', '12'), str('gen_ai.request.model', long),
          str('gen_ai.agent.name', 'first'), str('gen_ai.agent.name', 'second')],
      },
    ];
    expect((await postJson(`${t.httpUrl}/v1/traces`, traceJson(spans))).status).toBe(200);
    const asSent = (kvs: Array<{ key: string; value: Record<string, unknown> }>) =>
      Object.fromEntries(kvs.map((kv) => [kv.key, kv.value.stringValue ?? Number(kv.value.intValue)]));
    const view = await t.query<{ name: string; attributes: unknown }>(`SELECT name, attributes FROM verdict.spans WHERE trace_id = '${traceId}' AND name NOT LIKE 'only %' ORDER BY name`);
    const alone = await t.query<{ name: string; attributes: unknown; attributes_in_columns: number }>(
      `SELECT s.name, s.attributes, r.attributes_in_columns FROM verdict.spans s JOIN verdict.span_rows r USING (trace_id, span_id, start_time)
       WHERE s.trace_id = '${traceId}' AND s.name LIKE 'only %' ORDER BY r.attributes_in_columns`);
    expect(alone).toEqual(every.slice(0, 12).map((kv, i) => ({ name: `only ${kv.key}`, attributes: asSent([kv]), attributes_in_columns: 2 ** i })));
    expect(view).toEqual([
      { name: 'every key', attributes: asSent(every) },
      { name: 'kept', attributes: { 'gen_ai.provider.name': 'openai.chat', 'gen_ai.usage.input_tokens': '12', 'gen_ai.request.model': long, 'gen_ai.agent.name': 'second' } },
    ]);
    const stored = await t.query<{ name: string; attributes: unknown; attributes_in_columns: number | null }>(
      `SELECT name, attributes, attributes_in_columns FROM verdict.span_rows WHERE trace_id = '${traceId}' AND name NOT LIKE 'only %' ORDER BY name`);
    expect(stored).toEqual([
      // Every bit of src/normalize/stored-once.ts, each put back by the view's verdict.lifted_attributes.
      { name: 'every key', attributes: { 'app.other': 'kept' }, attributes_in_columns: 4095 },
      { name: 'kept', attributes: { 'gen_ai.provider.name': 'openai.chat', 'gen_ai.usage.input_tokens': '12', 'gen_ai.request.model': long, 'gen_ai.agent.name': 'second' }, attributes_in_columns: null },
    ]);
  });

  it('stores the official example trace.json as given', async () => {
    const body = readFileSync(new URL('../fixtures/otlp/trace.json', import.meta.url), 'utf8');
    const res = await postJson(`${t.httpUrl}/v1/traces`, body);
    expect(res.status).toBe(200);
    const rows = await t.query(
      `SELECT trace_id, span_id, parent_span_id, name, kind, start_time_unix_nano::text, end_time_unix_nano::text, service_name, scope_name, scope_version, scope_attributes, attributes
       FROM verdict.spans WHERE trace_id = '5b8efff798038103d269b633813fc60c'`,
    );
    expect(rows).toEqual([{
      trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', parent_span_id: 'eee19b7ec3c1b173', name: "I'm a server span", kind: 'server',
      start_time_unix_nano: '1544712660000000000', end_time_unix_nano: '1544712661000000000', service_name: 'my.service', scope_name: 'my.library', scope_version: '1.0.0',
      scope_attributes: { 'my.scope.attribute': 'some scope attribute' }, attributes: { 'my.span.attr': 'some value' },
    }]);
  });

  it('gives one row per trace in verdict.traces with root, counts and token totals', async () => {
    const traceId = hexId(16, 7);
    const root = hexId(8, 71);
    const req = traces([
      { traceId, spanId: root, name: 'invoke_agent support', start: 1767225600000000000n, end: 1767225603000000000n, attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 300, 'gen_ai.conversation.id': 'conv-7' } },
      { traceId, spanId: hexId(8, 72), parentSpanId: root, name: 'chat', start: 1767225600500000000n, end: 1767225601000000000n, attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10 } },
      { traceId, spanId: hexId(8, 73), parentSpanId: root, name: 'chat', start: 1767225601000000000n, end: 1767225602000000000n, attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 200, 'gen_ai.usage.output_tokens': 20 }, status: { code: 'error' } },
    ]);
    expect((await postJson(`${t.httpUrl}/v1/traces`, req.json())).status).toBe(200);
    const rows = await t.query(`SELECT root_span_id, root_name, service_name, duration_ms, span_count::int, error_count::int, input_tokens::int, output_tokens::int, conversation_id FROM verdict.traces WHERE trace_id = '${traceId}'`);
    expect(rows).toEqual([{ root_span_id: root, root_name: 'invoke_agent support', service_name: 'test-service', duration_ms: 3000, span_count: 3, error_count: 1, input_tokens: 300, output_tokens: 30, conversation_id: 'conv-7' }]);
  });

  it('answers an empty request with success and stores nothing', async () => {
    const before = await t.query<{ n: number }>('SELECT count(*)::int AS n FROM verdict.spans');
    expect((await postJson(`${t.httpUrl}/v1/traces`, {})).status).toBe(200);
    expect((await postProto(`${t.httpUrl}/v1/traces`, new Uint8Array(0))).status).toBe(200);
    expect((await grpcCall(t.grpcAddress, TRACE_PATH, new Uint8Array(0))).code).toBe(0);
    expect(await t.query('SELECT count(*)::int AS n FROM verdict.spans')).toEqual(before);
  });
});
