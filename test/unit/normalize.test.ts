/**
 * normalizeTraces and normalizeLogs without a server or a database: decoded
 * requests in, COPY rows out, read back by a reader written from the
 * PostgreSQL documentation (test/helpers/copy-reader.ts) and compared column
 * by column under the names of SPAN_COLUMNS and LOG_COLUMNS. Also the
 * evaluation rows, and the partial-success counts and messages.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { copyStream } from '../../src/common/copy-binary.ts';
import { createPolicy, parseFeedbackConfig } from '../../src/feedback/policy.ts';
import { LOG_COLUMNS, SPAN_COLUMNS } from '../../src/model/columns.ts';
import type { EvaluationRow } from '../../src/model/rows.ts';
import { NO_POLICY } from '../../src/normalize/evaluations.ts';
import { normalizeLogs } from '../../src/normalize/logs.ts';
import { STORED_ONCE } from '../../src/normalize/stored-once.ts';
import { normalizeTraces, type Normalized } from '../../src/normalize/spans.ts';
import { decodeLogsJson, decodeTraceJson } from '../../src/otlp/json.ts';
import type { ExportLogsServiceRequest, ExportTraceServiceRequest } from '../../src/otlp/types.ts';
import { encodeRows, LOGS } from '../../src/store/tables.ts';
import { readCopy, type Row } from '../helpers/copy-reader.ts';
import {
  double, EVERY_FIELD_ENVELOPE, EVERY_FIELD_SPAN_JSON, everyFieldLog, everyFieldSpan, hexId, logs, SECOND, service, T0, traceRequest, traces,
  type Attributes, type SpanSpec,
} from '../helpers/fixtures.ts';

const example = (name: string) => readFileSync(new URL(`../fixtures/otlp/${name}`, import.meta.url), 'utf8');
const EVAL = 'gen_ai.evaluation.result';
const POLICY = createPolicy(parseFeedbackConfig({ sources: [{ service: 'judge-*', source: 'llm_judge' }] }));
/** The arrival time normalizeLogs is given, for records without an observed time. */
const NOW = 1767229200000000000n;

interface SpanOutput {
  rows: Row[];
  n: Normalized;
}

/**
 * A row as the views show it: its resource_id replaced by the attributes and
 * schema URL of the resource the batch carries under that id (stored once, in
 * verdict.resources).
 */
function withResource(row: Row, n: Normalized): Row {
  const { resource_id: id, ...rest } = row;
  const r = n.batch.resources.find((x) => x.resource_id === id);
  return r ? { ...rest, resource_attributes: JSON.parse(r.attributes), resource_schema_url: r.schema_url } : { ...rest, resource_attributes: `no resource ${String(id)} in the batch` };
}

/** The column that holds each attribute stored once (sql/0005_genai_content.sql, verdict.lifted_attributes). */
const ONCE_COLUMN: Record<string, string> = {
  'gen_ai.operation.name': 'gen_ai_operation_name', 'gen_ai.provider.name': 'gen_ai_provider_name', 'gen_ai.request.model': 'gen_ai_request_model',
  'gen_ai.response.model': 'gen_ai_response_model', 'gen_ai.response.id': 'gen_ai_response_id', 'gen_ai.conversation.id': 'gen_ai_conversation_id',
  'gen_ai.agent.name': 'gen_ai_agent_name', 'gen_ai.tool.name': 'gen_ai_tool_name', 'gen_ai.tool.call.id': 'gen_ai_tool_call_id',
  'gen_ai.usage.input_tokens': 'gen_ai_input_tokens', 'gen_ai.usage.output_tokens': 'gen_ai_output_tokens', 'user.id': 'user_id',
};

/**
 * What verdict.spans shows for what the row leaves NULL: no events, no links,
 * nothing dropped; the duration; and the attributes stored in their columns
 * only, put back.
 */
function asViewed(row: Row): Row {
  const { attributes_in_columns: once, ...rest } = row;
  const attributes = { ...(row.attributes as Record<string, unknown>) };
  for (const [key, { bit }] of STORED_ONCE) {
    if (((once as number | null) ?? 0) & bit) {
      const v = row[ONCE_COLUMN[key] as string];
      attributes[key] = typeof v === 'bigint' ? Number(v) : v;
    }
  }
  return {
    ...rest,
    attributes,
    duration_ns: (row.end_time_unix_nano as bigint) - (row.start_time_unix_nano as bigint),
    events: row.events ?? [], links: row.links ?? [],
    dropped_attributes_count: row.dropped_attributes_count ?? 0n, dropped_events_count: row.dropped_events_count ?? 0n,
    dropped_links_count: row.dropped_links_count ?? 0n,
  };
}

function spans(req: ExportTraceServiceRequest): SpanOutput {
  const n = normalizeTraces(req, { policy: POLICY });
  return { rows: readCopy(copyStream([n.batch.spans]), SPAN_COLUMNS).map((r) => asViewed(withResource(r, n))), n };
}

function logRows(req: ExportLogsServiceRequest) {
  const n = normalizeLogs(req, { policy: POLICY }, NOW);
  return { rows: readCopy(copyStream([encodeRows(LOGS, n.batch.logs)]), LOG_COLUMNS).map((r) => withResource(r, n)), n };
}

/** Evaluation rows with their attributes parsed, for comparing. */
const evaluations = (n: Normalized) => n.batch.evaluations.map((e: EvaluationRow) => ({ ...e, attributes: JSON.parse(e.attributes) as unknown }));

const NO_GEN_AI = {
  gen_ai_operation_name: null, gen_ai_provider_name: null, gen_ai_request_model: null, gen_ai_response_model: null, gen_ai_response_id: null,
  gen_ai_conversation_id: null, gen_ai_agent_name: null, gen_ai_tool_name: null, gen_ai_input_tokens: null, gen_ai_output_tokens: null,
  user_id: null, gen_ai_tool_call_id: null, gen_ai_system_instructions: null, gen_ai_input_messages: null, gen_ai_output_messages: null,
  gen_ai_tool_call_arguments: null, gen_ai_tool_call_result: null, gen_ai_content_source: null,
  content_in_attributes: null,
};

/** Every column of a span row made from the fixture defaults under TEST_ENVELOPE; tests override the columns they are about. */
const spanRow = (traceId: string, spanId: string, columns: Row = {}): Row => ({
  trace_id: traceId, span_id: spanId, parent_span_id: null, trace_state: null, name: 'op', kind: 'unspecified',
  start_time: T0 / 1000n, end_time: (T0 + SECOND) / 1000n, start_time_unix_nano: T0, end_time_unix_nano: T0 + SECOND, duration_ns: SECOND,
  status_code: 'unset', status_message: null, flags: 0n,
  service_name: 'test-service', scope_name: 'test-scope', scope_version: '1.0', scope_attributes: {}, resource_attributes: { 'service.name': 'test-service' },
  resource_schema_url: null, scope_schema_url: null,
  attributes: {}, events: [], links: [], dropped_attributes_count: 0n, dropped_events_count: 0n, dropped_links_count: 0n,
  ...NO_GEN_AI,
  ...columns,
});

const TRACE = hexId(16, 1);
/** One span with these attributes, normalised: its row. */
const rowWith = (attributes: Attributes, extra: Partial<SpanSpec> = {}) => {
  const { rows } = spans(traces([{ traceId: TRACE, spanId: hexId(8, 1), attributes, ...extra }]).decoded());
  expect(rows).toHaveLength(1);
  return rows[0]!;
};

describe('normalizeTraces', () => {
  it('makes every column of the OTLP example trace.json', () => {
    const { rows, n } = spans(decodeTraceJson(example('trace.json')));
    expect(rows).toEqual([{
      trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', parent_span_id: 'eee19b7ec3c1b173', trace_state: null,
      name: "I'm a server span", kind: 'server',
      start_time: 1544712660000000n, end_time: 1544712661000000n, start_time_unix_nano: 1544712660000000000n, end_time_unix_nano: 1544712661000000000n,
      duration_ns: 1000000000n, status_code: 'unset', status_message: null, flags: 0n,
      service_name: 'my.service', scope_name: 'my.library', scope_version: '1.0.0', scope_attributes: { 'my.scope.attribute': 'some scope attribute' },
      resource_attributes: { 'service.name': 'my.service' }, resource_schema_url: null, scope_schema_url: null,
      attributes: { 'my.span.attr': 'some value' }, events: [], links: [], dropped_attributes_count: 0n, dropped_events_count: 0n, dropped_links_count: 0n,
      ...NO_GEN_AI,
    }]);
    expect([n.rejections.rejected, n.rejections.message('span'), n.batch.evaluations, n.batch.turns]).toEqual([0, '', [], []]);
  });

  it('makes every column of a span with every OTLP field set, byte for byte the same from protobuf and from OTLP/JSON', () => {
    const [traceId, spanId] = [hexId(16, 2), hexId(8, 2)];
    const req = traces([everyFieldSpan(traceId, spanId)], EVERY_FIELD_ENVELOPE);
    const proto = normalizeTraces(req.decoded(), { policy: NO_POLICY });
    const fromProto = proto.batch.spans;
    const fromJson = normalizeTraces(req.decodedJson(), { policy: NO_POLICY }).batch.spans;
    expect(Buffer.concat(fromJson.chunks).equals(Buffer.concat(fromProto.chunks))).toBe(true);
    expect(readCopy(copyStream([fromProto]), SPAN_COLUMNS).map((r) => asViewed(withResource(r, proto)))).toEqual([{
      trace_id: traceId, span_id: spanId, parent_span_id: '0102030405060708', trace_state: 'vendor=abc', name: 'chat gpt-4o', kind: 'client',
      // timestamptz keeps microseconds; the *_unix_nano columns keep the exact nanoseconds (beyond 2^53).
      start_time: 1767225600123456n, end_time: 1767225601987654n, start_time_unix_nano: 1767225600123456789n, end_time_unix_nano: 1767225601987654321n,
      duration_ns: 1864197532n, status_code: 'error', status_message: 'upstream failed', flags: 0x301n,
      service_name: 'checkout', scope_name: 'my.library', scope_version: '1.0.0', scope_attributes: { 'scope.attr': true },
      resource_attributes: { 'service.name': 'checkout', 'service.version': '2.1.0' },
      resource_schema_url: 'https://opentelemetry.io/schemas/1.38.0', scope_schema_url: 'https://opentelemetry.io/schemas/1.37.0',
      ...EVERY_FIELD_SPAN_JSON,
      dropped_attributes_count: 2n, dropped_events_count: 3n, dropped_links_count: 4n,
      ...NO_GEN_AI,
    }]);
  });

  it('lifts each GenAI column from the current attribute names', () => {
    const attributes = {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-123', 'gen_ai.conversation.id': 'conv-1', 'gen_ai.agent.name': 'support', 'gen_ai.tool.name': 'lookup',
      'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 20,
      // Deprecated names lose to the current ones.
      'gen_ai.system': 'ignored', 'gen_ai.usage.prompt_tokens': 1, 'gen_ai.usage.completion_tokens': 2,
    };
    expect(rowWith(attributes)).toEqual(spanRow(TRACE, hexId(8, 1), {
      attributes,
      gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o', gen_ai_response_model: 'gpt-4o-2024-08-06',
      gen_ai_response_id: 'chatcmpl-123', gen_ai_conversation_id: 'conv-1', gen_ai_agent_name: 'support', gen_ai_tool_name: 'lookup',
      gen_ai_input_tokens: 100n, gen_ai_output_tokens: 20n,
    }));
  });

  it.each([
    // [gen_ai.system, gen_ai_provider_name] (semconv v1.37.0 renamed these values)
    ['xai', 'x_ai'], ['az.ai.inference', 'azure.ai.inference'], ['az.ai.openai', 'azure.ai.openai'], ['vertex_ai', 'gcp.vertex_ai'], ['gemini', 'gcp.gemini'],
    ['anthropic', 'anthropic'],
  ])('lifts the deprecated gen_ai.system %s as provider %s, and the v1.26 token names', (system, provider) => {
    const attributes = { 'gen_ai.system': system, 'gen_ai.usage.prompt_tokens': 7, 'gen_ai.usage.completion_tokens': 3 };
    expect(rowWith(attributes)).toEqual(spanRow(TRACE, hexId(8, 1), { attributes, gen_ai_provider_name: provider, gen_ai_input_tokens: 7n, gen_ai_output_tokens: 3n }));
  });

  it('reads token counts sent as integral doubles or digit strings; anything else leaves the column NULL', () => {
    const lifted = (v: Attributes[string]) => {
      const row = rowWith({ 'gen_ai.usage.input_tokens': v });
      return row.gen_ai_input_tokens;
    };
    expect([lifted(double(12)), lifted('34'), lifted(9007199254740993n)]).toEqual([12n, 34n, 9007199254740993n]);
    expect([lifted(1.5), lifted('many'), lifted('-3'), lifted(true), lifted([1]), lifted(null)]).toEqual([null, null, null, null, null, null]);
  });

  it('leaves lifted text NULL when it is empty, not a string, or longer than 1024 UTF-8 bytes, and keeps it in the attributes', () => {
    const long = 'é'.repeat(513); // 1026 bytes in 513 characters
    const attributes = { 'gen_ai.request.model': long, 'gen_ai.response.model': '', 'gen_ai.agent.name': 42, 'gen_ai.tool.name': 'x'.repeat(1024) };
    expect(rowWith(attributes)).toEqual(spanRow(TRACE, hexId(8, 1), { attributes, gen_ai_tool_name: 'x'.repeat(1024) }));
  });

  it('stores content attributes as the JSON they hold, structured or as a JSON string, cleaning what jsonb refuses', () => {
    const messages = [{ role: 'user', parts: [{ type: 'text', content: 'Where is my order?' }] }];
    const row = rowWith({
      'gen_ai.input.messages': JSON.stringify(messages),
      'gen_ai.output.messages': messages,
      'gen_ai.system_instructions': ' [{"type":"text","content":"Be brief."}]',
      'gen_ai.tool.call.arguments': 'not json {',
      'gen_ai.tool.call.result': '[{"content":"nul\\u0000 and \\ud800 lone"}]',
      'gen_ai.tool.definitions': '{"a":1',
      'other.attribute': '[1,2]',
    });
    expect(row.attributes).toEqual({
      'gen_ai.input.messages': messages,
      'gen_ai.output.messages': messages,
      'gen_ai.system_instructions': [{ type: 'text', content: 'Be brief.' }],
      'gen_ai.tool.call.arguments': 'not json {',
      'gen_ai.tool.call.result': [{ content: 'nul\uFFFD and \uFFFD lone' }],
      'gen_ai.tool.definitions': '{"a":1',
      // Only the content attributes are parsed.
      'other.attribute': '[1,2]',
    });
  });

  it('cleans U+0000 and lone surrogates in names, keys and values', () => {
    // Through OTLP/JSON, where a lone surrogate can arrive as a \u escape (protobuf has no way to carry one).
    const { rows } = spans(traces([{ traceId: TRACE, spanId: hexId(8, 1), name: 'n\u0000m', attributes: { 'k\u0000"ey': 'v\ud800', 'gen_ai.agent.name': 'a\u0000b' } }]).decodedJson());
    expect([rows[0]!.name, rows[0]!.attributes, rows[0]!.gen_ai_agent_name]).toEqual(['n\uFFFDm', { 'k\uFFFD"ey': 'v\uFFFD', 'gen_ai.agent.name': 'a\uFFFDb' }, 'a\uFFFDb']);
  });

  it('keeps each resource and scope with its spans, and NULLs for a span sent without either', () => {
    const a = { resource: { 'service.name': 'a', 'deployment.environment': 'prod' }, resourceSchemaUrl: 'https://s/1', scope: { name: 'lib-a', version: '2', attributes: { n: 1 } }, scopeSchemaUrl: 'https://s/2' };
    const { rows } = spans(traceRequest(
      [a, [{ traceId: TRACE, spanId: hexId(8, 1) }, { traceId: TRACE, spanId: hexId(8, 2) }]],
      [service('b'), [{ traceId: TRACE, spanId: hexId(8, 3) }]],
      [{ resource: null, scope: null }, [{ traceId: TRACE, spanId: hexId(8, 4) }]],
    ).decoded());
    const ofA = {
      service_name: 'a', resource_attributes: { 'service.name': 'a', 'deployment.environment': 'prod' }, resource_schema_url: 'https://s/1',
      scope_name: 'lib-a', scope_version: '2', scope_attributes: { n: 1 }, scope_schema_url: 'https://s/2',
    };
    expect(rows).toEqual([
      spanRow(TRACE, hexId(8, 1), ofA),
      spanRow(TRACE, hexId(8, 2), ofA),
      spanRow(TRACE, hexId(8, 3), { service_name: 'b', resource_attributes: { 'service.name': 'b' } }),
      spanRow(TRACE, hexId(8, 4), { service_name: null, resource_attributes: {}, scope_name: null, scope_version: null }),
    ]);
  });

  it('writes each kind and status code by name, and unknown enum values as numbers', () => {
    const kinds = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer', 9] as const;
    const { rows } = spans(traces(kinds.map((kind, i) => ({ traceId: TRACE, spanId: hexId(8, i + 1), kind, status: { code: i % 4 } }))).decoded());
    expect(rows.map((r) => [r.kind, r.status_code])).toEqual([
      ['unspecified', 'unset'], ['internal', 'ok'], ['server', 'error'], ['client', '3'], ['producer', 'unset'], ['consumer', 'ok'], ['9', 'error'],
    ]);
  });

  it('writes links with absent IDs as null, and a zero parent as no parent', () => {
    const row = rowWith({}, { parentSpanId: '0000000000000000', links: [{ traceState: '', flags: 0 }] });
    expect([row.parent_span_id, row.links]).toEqual([null, [{ trace_id: null, span_id: null, trace_state: '', attributes: {}, dropped_attributes_count: 0, flags: 0 }]]);
  });

  it('rejects the spans that cannot be stored, keeps the others, and says why', () => {
    let deep: Attributes[string] = 'bottom';
    for (let i = 0; i < 70; i++) deep = [deep];
    const good = { traceId: TRACE, spanId: hexId(8, 9) };
    const { rows, n } = spans(traces([
      { traceId: new Uint8Array(5).fill(1), spanId: hexId(8, 1) },
      good,
      { traceId: new Uint8Array(16), spanId: hexId(8, 2) },
      { traceId: TRACE, spanId: new Uint8Array(8) },
      { traceId: TRACE, spanId: hexId(8, 3), parentSpanId: new Uint8Array(3).fill(1) },
      { traceId: TRACE, spanId: hexId(8, 4), start: 18446744073709551615n, end: 0n },
      { traceId: TRACE, spanId: hexId(8, 6), attributes: { deep } },
      { traceId: new Uint8Array(16), spanId: hexId(8, 7) },
    ]).decodedJson()); // protobufjs cannot encode values nested this deep
    expect(rows).toEqual([spanRow(TRACE, hexId(8, 9))]);
    expect(n.rejections.rejected).toBe(7);
    expect(n.rejections.message('span')).toBe(
      'rejected 7 spans: span: trace_id must be 16 bytes, got 5; span: trace_id must not be all zeros (2 times); span: span_id must not be all zeros; ' +
      'span: parent_span_id must be 8 bytes, got 3; span: start_time_unix_nano 18446744073709551615 is past the year 2262; and 1 more kinds',
    );
  });

  it('takes back all of a span rejected half-way: its bytes, and the verdict its evaluation event made', () => {
    const { rows, n } = spans(traces([
      { traceId: TRACE, spanId: hexId(8, 1) },
      // The garbled link is read after the attributes and the events.
      { traceId: TRACE, spanId: hexId(8, 2), attributes: { big: 'x'.repeat(70_000) }, events: [{ name: EVAL, time: T0, attributes: { 'gen_ai.evaluation.name': 'lost' } }], links: [{ traceId: new Uint8Array(3).fill(1) }] },
      { traceId: TRACE, spanId: hexId(8, 3) },
    ]).decoded());
    expect(rows).toEqual([spanRow(TRACE, hexId(8, 1)), spanRow(TRACE, hexId(8, 3))]);
    expect(n.batch.spans.rows).toBe(2);
    expect(n.batch.evaluations).toEqual([]);
    expect(n.rejections.message('span')).toBe('rejected 1 span: span: link trace_id must be 16 bytes, got 3');
  });

  it('rejects every span under resource attributes nested too deeply, naming why', () => {
    let deep: Attributes[string] = 1;
    for (let i = 0; i < 70; i++) deep = { d: deep };
    const { rows, n } = spans(traceRequest(
      [{ resource: { deep } }, [{ traceId: TRACE, spanId: hexId(8, 1) }, { traceId: TRACE, spanId: hexId(8, 2) }]],
      [service('fine'), [{ traceId: TRACE, spanId: hexId(8, 3) }]],
    ).decodedJson());
    expect(rows.map((r) => r.span_id)).toEqual([hexId(8, 3)]);
    expect(n.rejections.message('span')).toBe('rejected 2 spans: span: resource or scope attributes: value nests deeper than 64 levels (2 times)');
  });

  describe('evaluations from span events', () => {
    const evaluation = {
      'gen_ai.evaluation.name': 'Relevance', 'gen_ai.evaluation.score.value': 0.25, 'gen_ai.evaluation.score.label': 'not_relevant',
      'gen_ai.evaluation.explanation': 'The answer ignores the question.', 'gen_ai.response.id': 'chatcmpl-1', 'error.type': 'timeout',
    };
    const judged = (events: SpanSpec['events'], envelope = service('judge-ragas')) =>
      spans(traces([{ traceId: TRACE, spanId: hexId(8, 1), attributes: { 'gen_ai.conversation.id': 'conv-1' }, events }], envelope).decoded());

    it('makes a verdict on the span that carries the event, which keeps the event too', () => {
      const { rows, n } = judged([{ name: EVAL, time: T0 + 500n, attributes: evaluation }]);
      expect(evaluations(n)).toEqual([{
        id: expect.stringMatching(/^[0-9a-f]{32}$/), trace_id: TRACE, span_id: hexId(8, 1), response_id: 'chatcmpl-1', conversation_id: 'conv-1',
        name: 'Relevance', score_value: 0.25, score_label: 'not_relevant', explanation: 'The answer ignores the question.', error_type: 'timeout',
        time_unix_nano: T0 + 500n, channel: 'span_event', source: 'llm_judge', polarity: 'negative', service_name: 'judge-ragas', attributes: evaluation,
        // The span judges itself: its facts go with the verdict, so reads and rollups need no join.
        target: {
          trace_id: TRACE, span_id: hexId(8, 1), span_name: 'op', service_name: 'judge-ragas', service_version: null, operation_name: null,
          request_model: null, response_model: null, agent_name: null, conversation_id: 'conv-1',
        },
      }]);
      expect(rows[0]!.events).toEqual([{ time_unix_nano: String(T0 + 500n), name: EVAL, attributes: evaluation, dropped_attributes_count: 0 }]);
      expect(n.rejections.message('span')).toBe('');
    });

    it('takes the span\'s end as the time of an event without one, and verdict.feedback.source over the policy', () => {
      const { n } = judged([{ name: EVAL, attributes: { 'gen_ai.evaluation.name': 'Tone', 'verdict.feedback.source': 'reviewer' } }]);
      expect(evaluations(n).map((e) => [e.name, e.time_unix_nano, e.source, e.score_value, e.polarity])).toEqual([['Tone', T0 + SECOND, 'reviewer', null, null]]);
    });

    it('keeps the span but makes no verdict of an event without a name, and warns', () => {
      const { rows, n } = judged([{ name: EVAL, time: T0, attributes: { 'gen_ai.evaluation.score.label': 'pass' } }]);
      expect([rows.length, n.batch.evaluations.length, n.rejections.rejected]).toEqual([1, 0, 0]);
      expect(n.rejections.message('span')).toBe('warning: span event not stored as an evaluation: gen_ai.evaluation.name is missing from a gen_ai.evaluation.result event');
    });

    it('stores an unknown verdict.feedback.source as NULL, and warns', () => {
      const { n } = judged([{ name: EVAL, time: T0, attributes: { 'gen_ai.evaluation.name': 'Tone', 'verdict.feedback.source': 'human' } }], service('web'));
      expect(evaluations(n).map((e) => [e.name, e.source])).toEqual([['Tone', null]]);
      expect(n.rejections.message('span')).toBe('warning: unknown verdict.feedback.source "human" stored as NULL');
    });

    it('gives the same id to one verdict delivered as a span event and as a log record, and different ids to different verdicts', () => {
      const time = T0 + 700n;
      const asEvent = judged([{ name: EVAL, time, attributes: evaluation }, { name: EVAL, time, attributes: { ...evaluation, 'gen_ai.evaluation.score.value': 0.5 } }]).n.batch.evaluations;
      const asRecord = normalizeLogs(logs([{ eventName: EVAL, time, traceId: TRACE, spanId: hexId(8, 1), attributes: evaluation }], service('judge-ragas')).decoded(), { policy: POLICY }, NOW);
      const [record] = asRecord.batch.evaluations;
      expect(record!.channel).toBe('log');
      expect(record!.id).toBe(asEvent[0]!.id);
      expect(asEvent[1]!.id).not.toBe(asEvent[0]!.id);
      expect(asRecord.batch.logs).toEqual([]);
    });
  });
});

/** Every column of a log row made from these record defaults under TEST_ENVELOPE. */
const logRow = (columns: Row): Row => ({
  id: expect.stringMatching(/^[0-9a-f]{32}$/), trace_id: null, span_id: null, time: NOW / 1000n, observed_time: NOW / 1000n, time_unix_nano: 0n, observed_time_unix_nano: NOW,
  severity_number: 0, severity_text: null, event_name: null, body: null, attributes: {}, resource_attributes: { 'service.name': 'test-service' },
  service_name: 'test-service', scope_name: 'test-scope', scope_version: '1.0', scope_attributes: {}, flags: 0n, dropped_attributes_count: 0n,
  resource_schema_url: null, scope_schema_url: null,
  ...columns,
});

describe('normalizeLogs', () => {
  it('makes every column of the OTLP examples logs.json (every AnyValue kind) and events.json (no trace context)', () => {
    const rowsOf = (name: string) => logRows(decodeLogsJson(example(name))).rows;
    const envelope = {
      resource_attributes: { 'service.name': 'my.service' }, service_name: 'my.service', scope_name: 'my.library', scope_version: '1.0.0',
      scope_attributes: { 'my.scope.attribute': 'some scope attribute' },
    };
    const at = { time: 1544712660300000n, observed_time: 1544712660300000n, time_unix_nano: 1544712660300000000n, observed_time_unix_nano: 1544712660300000000n };
    expect(rowsOf('logs.json')).toEqual([logRow({
      ...envelope, ...at, trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', severity_number: 10, severity_text: 'Information',
      body: 'Example log record',
      attributes: {
        'string.attribute': 'some string', 'boolean.attribute': true, 'int.attribute': 10, 'double.attribute': 637.704,
        'array.attribute': ['many', 'values'], 'map.attribute': { 'some.map.key': 'some value' },
      },
    })]);
    expect(rowsOf('events.json')).toEqual([logRow({
      ...envelope, ...at, severity_number: 9, severity_text: 'test severity text', event_name: 'browser.page_view',
      body: { type: 0, url: 'https://www.guidgenerator.com/online-guid-generator.aspx', referrer: 'https://wwww.google.com', title: 'Free Online GUID Generator' },
      attributes: { 'event.attribute': 'some event attribute' },
    })]);
  });

  it('makes every column of a record with every field set, the same from protobuf and from OTLP/JSON', () => {
    const [traceId, spanId] = [hexId(16, 11), hexId(8, 11)];
    const req = everyFieldLog(traceId, spanId);
    const fromProto = logRows(req.decoded()).rows;
    expect(logRows(req.decodedJson()).rows).toEqual(fromProto);
    expect(fromProto).toEqual([logRow({
      trace_id: traceId, span_id: spanId, time: 1767225600123456n, observed_time: 1767225600223456n,
      time_unix_nano: 1767225600123456789n, observed_time_unix_nano: 1767225600223456789n, severity_number: 17, severity_text: 'ERROR',
      event_name: 'gen_ai.user.message', body: { content: 'What is my balance?' }, attributes: { 'user.id': 'u-1' },
      resource_attributes: { 'service.name': 'agent' }, service_name: 'agent', scope_name: 'agent.logger', scope_version: '3.2', scope_attributes: { x: 1 },
      flags: 1n, dropped_attributes_count: 2n,
      resource_schema_url: 'https://opentelemetry.io/schemas/1.38.0', scope_schema_url: 'https://opentelemetry.io/schemas/1.37.0',
    })]);
  });

  it('fills the observed time with the arrival time, and the time with the observed time, when they are absent', () => {
    const { rows } = logRows(logs([{ body: 'no times' }, { observedTime: T0, body: 'observed only' }]).decoded());
    expect(rows).toEqual([
      logRow({ body: 'no times' }),
      logRow({ body: 'observed only', time: T0 / 1000n, observed_time: T0 / 1000n, observed_time_unix_nano: T0 }),
    ]);
  });

  it('keeps the id of a record when it is sent again later, and changes it with the content', () => {
    const record = { time: T0, body: 'same', attributes: { a: 1 } };
    const id = (r: typeof record) => logRows(logs([r]).decoded()).rows[0]!.id;
    const first = id(record);
    expect(normalizeLogs(logs([record]).decoded(), { policy: POLICY }, NOW + SECOND).batch.logs[0]!.id).toBe(first);
    expect([id({ ...record, body: 'other' }), id({ ...record, attributes: { a: 2 } }), id({ ...record, time: T0 + 1n })]).not.toContain(first);
  });

  it('reads zero IDs as no trace, drops a span ID without a trace ID, and reads the event name from event.name', () => {
    const { rows } = logRows(logs([
      { time: T0, traceId: '0'.repeat(32), spanId: '0'.repeat(16), attributes: { 'event.name': 'gen_ai.choice' }, body: 'zeros' },
      { time: T0, spanId: hexId(8, 1), body: 'span only' },
    ]).decoded());
    const at = { time: T0 / 1000n, time_unix_nano: T0 };
    expect(rows).toEqual([
      logRow({ ...at, body: 'zeros', event_name: 'gen_ai.choice', attributes: { 'event.name': 'gen_ai.choice' } }),
      logRow({ ...at, body: 'span only' }),
    ]);
  });

  it('rejects records with a malformed trace ID or a time past 2262, keeps the others, and says why', () => {
    const { rows, n } = logRows(logs([
      { traceId: 'abcd', body: 'short id' },
      { time: 9223372036854775808n, body: 'too late' },
      { observedTime: 9223372036854775808n, body: 'observed too late' },
      { body: 'kept' },
    ]).decoded());
    expect(rows).toEqual([logRow({ body: 'kept' })]);
    expect(n.rejections.message('log record')).toBe(
      'rejected 3 log records: log record: trace_id must be 16 bytes, got 2; log record: time_unix_nano 9223372036854775808 is past the year 2262; ' +
      'log record: observed_time_unix_nano 9223372036854775808 is past the year 2262',
    );
  });

  it('keeps a verdict record whose time is past 2262: a verdict keeps a timestamptz, as it does from a span event', () => {
    const { rows, n } = logRows(logs([{ time: 18446744073709551615n, observedTime: 9223372036854775808n, eventName: EVAL, attributes: { 'gen_ai.evaluation.name': 'late' } }]).decoded());
    expect(rows).toEqual([]);
    expect(n.rejections.rejected).toBe(0);
    expect(n.batch.evaluations.map((e) => e.name)).toEqual(['late']);
  });

  it('turns gen_ai.evaluation.result records into verdicts, not log rows, and rejects those without a usable name or score', () => {
    const attributes = { 'gen_ai.evaluation.name': 'Correctness', 'gen_ai.evaluation.score.label': 'incorrect', 'gen_ai.evaluation.score': 2 };
    const { rows, n } = logRows(logs([
      { time: T0, traceId: TRACE, spanId: hexId(8, 1), eventName: EVAL, attributes },
      // Older SDKs put the event name in an attribute; with no time, the observed time is the verdict's time.
      { observedTime: T0 + 1n, attributes: { 'event.name': EVAL, 'gen_ai.evaluation.name': 'Legacy', 'gen_ai.response.id': 'resp-1' } },
      { time: T0, eventName: EVAL, attributes: { 'gen_ai.evaluation.score.value': 1 } },
      { time: T0, eventName: EVAL, attributes: { 'gen_ai.evaluation.name': 'x', 'gen_ai.evaluation.score.value': double(NaN) } },
      { time: T0, eventName: EVAL, attributes: { 'gen_ai.evaluation.name': 'x', 'gen_ai.evaluation.score.value': 'high' } },
    ], service('judge-1')).decoded());
    expect(rows).toEqual([]);
    expect(evaluations(n)).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f]{32}$/), trace_id: TRACE, span_id: hexId(8, 1), response_id: null, conversation_id: null, name: 'Correctness',
        score_value: 2, score_label: 'incorrect', explanation: null, error_type: null, time_unix_nano: T0, channel: 'log', source: 'llm_judge', polarity: 'negative',
        service_name: 'judge-1', attributes, target: null,
      },
      {
        id: expect.stringMatching(/^[0-9a-f]{32}$/), trace_id: null, span_id: null, response_id: 'resp-1', conversation_id: null, name: 'Legacy',
        score_value: null, score_label: null, explanation: null, error_type: null, time_unix_nano: T0 + 1n, channel: 'log', source: 'llm_judge', polarity: null,
        service_name: 'judge-1', attributes: { 'event.name': EVAL, 'gen_ai.evaluation.name': 'Legacy', 'gen_ai.response.id': 'resp-1' }, target: null,
      },
    ]);
    expect(n.rejections.message('log record')).toBe(
      'rejected 3 log records: log record: gen_ai.evaluation.name is missing from a gen_ai.evaluation.result event; ' +
      'log record: gen_ai.evaluation.score.value must be a finite number, got NaN; log record: gen_ai.evaluation.score.value must be a number, got string',
    );
  });
});
