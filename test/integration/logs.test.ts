/**
 * Log records that are not evaluations land in verdict.logs with every OTLP
 * field: GenAI message events and application logs belong to the run too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, serverForSuite } from '../helpers/server.ts';
import { grpcCall, LOGS_PATH, postJson, postProto } from '../helpers/otlp.ts';
import { everyFieldLog, hexId, logs, service, T0 } from '../helpers/fixtures.ts';

const example = (name: string) => readFileSync(new URL(`../fixtures/otlp/${name}`, import.meta.url), 'utf8');

const LOG_QUERY = (where: string) => `
  SELECT trace_id, span_id, (extract(epoch FROM time) * 1e6)::bigint::text AS time_us, (extract(epoch FROM observed_time) * 1e6)::bigint::text AS observed_us,
         time_unix_nano::text, observed_time_unix_nano::text, severity_number, severity_text, event_name, body, attributes, resource_attributes,
         service_name, scope_name, scope_version, scope_attributes, flags::text, dropped_attributes_count::text, resource_schema_url, scope_schema_url
  FROM verdict.logs WHERE ${where}`;

const EXPECTED = (traceId: string, spanId: string) => ({
  trace_id: traceId,
  span_id: spanId,
  time_us: '1767225600123456',
  observed_us: '1767225600223456',
  time_unix_nano: '1767225600123456789',
  observed_time_unix_nano: '1767225600223456789',
  severity_number: 17,
  severity_text: 'ERROR',
  event_name: 'gen_ai.user.message',
  body: { content: 'What is my balance?' },
  attributes: { 'user.id': 'u-1' },
  resource_attributes: { 'service.name': 'agent' },
  service_name: 'agent',
  scope_name: 'agent.logger',
  scope_version: '3.2',
  scope_attributes: { x: 1 },
  flags: '1',
  dropped_attributes_count: '2',
  resource_schema_url: 'https://opentelemetry.io/schemas/1.38.0',
  scope_schema_url: 'https://opentelemetry.io/schemas/1.37.0',
});

describe.each(BACKENDS)('logs on %s', (backend) => {
  const t = serverForSuite(backend);

  it('stores every OTLP log record field (protobuf over HTTP)', async () => {
    const [traceId, spanId] = [hexId(16, 11), hexId(8, 11)];
    const res = await postProto(`${t.httpUrl}/v1/logs`, everyFieldLog(traceId, spanId).proto());
    expect(res.status).toBe(200);
    expect(await t.query(LOG_QUERY(`trace_id = '${traceId}'`))).toEqual([EXPECTED(traceId, spanId)]);
  });

  it('stores every OTLP log record field (gRPC)', async () => {
    const [traceId, spanId] = [hexId(16, 12), hexId(8, 12)];
    const res = await grpcCall(t.grpcAddress, LOGS_PATH, everyFieldLog(traceId, spanId).proto());
    expect(res.code).toBe(0);
    expect(await t.query(LOG_QUERY(`trace_id = '${traceId}'`))).toEqual([EXPECTED(traceId, spanId)]);
  });

  it('stores the official logs.json (every AnyValue kind) and events.json (an event without trace context)', async () => {
    expect((await postJson(`${t.httpUrl}/v1/logs`, example('logs.json'))).status).toBe(200);
    expect((await postJson(`${t.httpUrl}/v1/logs`, example('events.json'))).status).toBe(200);
    const logs = await t.query(`SELECT trace_id, span_id, severity_number, severity_text, body, attributes, event_name FROM verdict.logs WHERE service_name = 'my.service' ORDER BY event_name NULLS FIRST`);
    expect(logs).toEqual([
      {
        trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', severity_number: 10, severity_text: 'Information', body: 'Example log record', event_name: null,
        attributes: { 'string.attribute': 'some string', 'boolean.attribute': true, 'int.attribute': 10, 'double.attribute': 637.704, 'array.attribute': ['many', 'values'], 'map.attribute': { 'some.map.key': 'some value' } },
      },
      {
        trace_id: null, span_id: null, severity_number: 9, severity_text: 'test severity text', event_name: 'browser.page_view',
        body: { type: 0, url: 'https://www.guidgenerator.com/online-guid-generator.aspx', referrer: 'https://wwww.google.com', title: 'Free Online GUID Generator' },
        attributes: { 'event.attribute': 'some event attribute' },
      },
    ]);
  });

  it('reads the event name from the deprecated event.name attribute, and treats zero IDs as "no trace"', async () => {
    const req = logs([{ time: T0, traceId: '0'.repeat(32), spanId: '0'.repeat(16), attributes: { 'event.name': 'gen_ai.choice' }, body: 'hi' }], service('legacy-sdk'));
    expect((await postJson(`${t.httpUrl}/v1/logs`, req.json())).status).toBe(200);
    expect(await t.query(`SELECT trace_id, span_id, event_name, body FROM verdict.logs WHERE service_name = 'legacy-sdk'`)).toEqual([{ trace_id: null, span_id: null, event_name: 'gen_ai.choice', body: 'hi' }]);
  });

  it('fills the observed time with the arrival time when the record has none', async () => {
    const before = Date.now();
    const req = logs([{ time: 0, body: 'no timestamps at all' }], service('no-time'));
    expect((await postJson(`${t.httpUrl}/v1/logs`, req.json())).status).toBe(200);
    const [row] = await t.query<{ observed_ms: string; time_ms: string }>(`SELECT (extract(epoch FROM observed_time) * 1000)::bigint::text AS observed_ms, (extract(epoch FROM time) * 1000)::bigint::text AS time_ms FROM verdict.logs WHERE service_name = 'no-time'`);
    expect(Number(row!.observed_ms)).toBeGreaterThanOrEqual(before - 1);
    expect(Number(row!.observed_ms)).toBeLessThanOrEqual(Date.now() + 1);
    expect(row!.time_ms).toBe(row!.observed_ms);
  });

  it('stores a record without timestamps once when it is re-sent later, or twice in one request', async () => {
    // Stored at its arrival time, which differs between the copies: the copies' ids must still meet.
    const record = { time: 0, body: 'no timestamps, re-sent' };
    const once = logs([record], service('no-time-resent')).json();
    const twice = logs([record, record], service('no-time-resent')).json();
    expect((await postJson(`${t.httpUrl}/v1/logs`, once)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    expect((await postJson(`${t.httpUrl}/v1/logs`, twice)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    expect((await grpcCall(t.grpcAddress, LOGS_PATH, logs([record], service('no-time-resent')).proto())).code).toBe(0);
    const other = logs([{ time: 0, body: 'no timestamps, another record' }, { time: 0, body: 'no timestamps, another record' }], service('no-time-resent')).json();
    expect((await postJson(`${t.httpUrl}/v1/logs`, other)).status).toBe(200);
    expect(await t.query(`SELECT body, count(*)::int AS n FROM verdict.logs WHERE service_name = 'no-time-resent' GROUP BY body ORDER BY body`)).toEqual([
      { body: 'no timestamps, another record', n: 1 },
      { body: 'no timestamps, re-sent', n: 1 },
    ]);
  });
});
