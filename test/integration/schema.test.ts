/** Migrations, the SQL contract's names, and the health endpoints. */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/migrate.ts';
import { EVALUATIONS, LOGS, MESSAGES, SPANS } from '../../src/store/tables.ts';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';

describe.each(BACKENDS)('schema on %s', (backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('records each applied migration once, and applying again changes nothing', async () => {
    const files = loadMigrations();
    expect(await t.query(`SELECT version, name, checksum FROM verdict.schema_migrations ORDER BY version`)).toEqual(files.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
    expect(await t.server.store.migrate()).toEqual([]);
  });

  it.each([SPANS, LOGS, EVALUATIONS, MESSAGES])('writes every column of $name', async (table) => {
    const [schema, name] = table.name.split('.');
    const cols = await t.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = '${name}'`);
    expect([...table.columns].sort()).toEqual(cols.map((c) => c.column_name).sort());
  });

  it('has the contract\'s columns on the views', async () => {
    const cols = async (view: string) => (await t.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'verdict' AND table_name = '${view}' ORDER BY ordinal_position`)).map((c) => c.column_name);
    expect(await cols('traces')).toEqual(['trace_id', 'root_span_id', 'root_name', 'service_name', 'start_time', 'end_time', 'duration_ms', 'span_count', 'error_count', 'input_tokens', 'output_tokens', 'conversation_id', 'input_text', 'output_text', 'user_id']);
    expect((await cols('conversations')).at(-1)).toBe('user_id');
    expect(await cols('trace_evaluations')).toEqual(expect.arrayContaining(['id', 'trace_id', 'span_id', 'response_id', 'name', 'score_value', 'score_label', 'explanation', 'time', 'channel', 'source', 'span_name', 'service_name', 'gen_ai_request_model', 'gen_ai_response_model']));
  });

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(`${t.httpUrl}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${t.httpUrl}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
  });
});

describe.each(BACKENDS)('query plans on %s', (backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(backend);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('reaches the indexes when verdicts or traces are looked up by trace_id', async () => {
    // With sequential scans priced out (in one transaction, so on one session), the plan shows whether an index can serve the filter at all.
    const plan = (q: string) =>
      t.db.transaction().execute(async (trx) => {
        await sql`SET LOCAL enable_seqscan = off`.execute(trx);
        const { rows } = await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${q}`).execute(trx);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    expect(await plan(`SELECT * FROM verdict.trace_evaluations WHERE trace_id = '${'ab'.repeat(16)}'`)).toContain('evaluations_trace');
    expect(await plan(`SELECT * FROM verdict.traces WHERE trace_id = '${'ab'.repeat(16)}'`)).toContain('spans_pkey');
  });
});
