/**
 * Upgrading a database written by the previous schema (migrations up to
 * 0003: one row per span with its resource attributes, no summaries) gives
 * the same state as receiving the same data on the new schema: the same
 * spans, log records and verdicts through the views, and the same run and
 * conversation summaries, rollups and resolved verdict targets.
 *
 * The old database is filled with the rows a fresh receiver stored, copied
 * through the views (which show them in the old tables' shape), so both
 * sides hold exactly the same data. PostgreSQL only: the migration is one
 * SQL file that runs unchanged on the embedded database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';
import { applyMigrations, loadMigrations } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/open.ts';
import type { Session } from '../../src/store/driver.ts';
import { rng } from '../../bench/workload.ts';
import { postJson } from '../helpers/otlp.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { KEPT, plan, requests } from '../helpers/runs.ts';
import { baseConfig } from '../helpers/server.ts';

/** The tables of the previous schema, in the order their rows are copied. */
const OLD_TABLES = ['spans', 'logs', 'evaluations', 'user_turns'] as const;

const VIEWS = {
  // Resource IDs differ: the receiver hashes the resource as sent, the migration its stored attributes. The
  // GenAI conventions' columns (user_id, content) came after the previous schema: NULL for the rows it stored.
  spans: `SELECT to_jsonb(s) - ARRAY['resource_id', 'user_id', 'gen_ai_tool_call_id', 'gen_ai_system_instructions', 'gen_ai_input_messages',
    'gen_ai_output_messages', 'gen_ai_tool_call_arguments', 'gen_ai_tool_call_result', 'input_text', 'output_text', 'gen_ai_content_source'] AS span
    FROM verdict.spans s ORDER BY trace_id, span_id`,
  logs: `SELECT to_jsonb(l) - 'resource_id' AS log FROM verdict.logs l ORDER BY id`,
  evaluations: 'SELECT * FROM verdict.trace_evaluations ORDER BY id',
};

async function query<T>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('upgrading a database of the previous schema', () => {
  let fresh: TestDatabase;
  let old: TestDatabase;
  let applied: string[];

  beforeAll(async () => {
    [fresh, old] = await Promise.all([createDatabase('verdict_upg_new'), createDatabase('verdict_upg_old')]);
    const server = await startServer(baseConfig({ databaseUrl: fresh.url }), silentLogger);
    try {
      const rand = rng(23);
      for (const q of requests(plan(rand), rand)) {
        const res = await postJson(`http://127.0.0.1:${server.http.port}${q.path}`, q.body);
        expect(res.status, res.body.toString()).toBe(200);
      }
    } finally {
      await server.close();
    }

    const src = new pg.Client(fresh.url);
    const dst = new pg.Client(old.url);
    await Promise.all([src.connect(), dst.connect()]);
    try {
      const session: Session = {
        exec: async (text) => void (await dst.query(text)),
        rows: async <T>(text: string, params?: unknown[]) => (await dst.query(text, params)).rows as T[],
        copy: () => Promise.reject(new Error('not used')),
        staged: false,
      };
      await dst.query('BEGIN');
      await applyMigrations(session, loadMigrations().filter((m) => m.version <= 3));
      await dst.query('COMMIT');
      for (const table of OLD_TABLES) {
        const { rows } = await dst.query<{ cols: string }>(
          `SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS cols
           FROM information_schema.columns WHERE table_schema = 'verdict' AND table_name = $1`, [table]);
        const cols = rows[0]!.cols;
        // Small enough to move as one JSON document per table.
        // As text: nanosecond times do not survive a round trip through JavaScript numbers.
        const data = (await src.query(`SELECT COALESCE(json_agg(t), '[]')::text AS rows FROM (SELECT ${cols} FROM verdict.${table}) t`)).rows[0].rows;
        await dst.query(`INSERT INTO verdict.${table} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::verdict.${table}, $1::json)`, [data]);
      }
    } finally {
      await Promise.all([src.end(), dst.end()]);
    }

    const store = await openStore(baseConfig({ databaseUrl: old.url }), silentLogger);
    try {
      applied = await store.migrate();
    } finally {
      await store.close();
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([fresh?.drop(), old?.drop()]);
  });

  it('applies the newer migrations to the old rows', async () => {
    expect(applied[0]).toBe('0004_partitions_and_summaries');
    const [stored] = await query<{ n: number }>(old.url, 'SELECT count(*)::int AS n FROM verdict.span_rows');
    expect(stored!.n).toBeGreaterThan(50);
    // The old tables are gone once their rows have moved.
    expect(await query(old.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'verdict' AND tablename LIKE '%0003'`)).toEqual([]);
  });

  it.each(Object.keys(VIEWS) as Array<keyof typeof VIEWS>)('shows the same %s', async (what) => {
    const [before, after] = await Promise.all([query(fresh.url, VIEWS[what]), query(old.url, VIEWS[what])]);
    expect(before.length).toBeGreaterThan(2);
    expect(after).toEqual(before);
  });

  // The previous schema kept no message content, so runs it stored have no first request and no task (tasks are compared below,
  // upgrading from the schema before 0010).
  it.each((Object.keys(KEPT) as Array<keyof typeof KEPT>).filter((k) => k !== 'tasks'))('keeps the same %s as a receiver that got the data on the new schema', async (what) => {
    // Columns the previous schema did not have (the GenAI conventions' user_id, and the message content a run's text
    // comes from) start out NULL for the rows it stored.
    const unknownBefore = (rows: Array<Record<string, unknown>>) => rows.map(({ user_id: _u, input_text: _i, output_text: _o, ...rest }) => rest);
    const before = unknownBefore(await query(fresh.url, KEPT[what]));
    const after = unknownBefore(await query(old.url, KEPT[what]));
    expect(before.length).toBeGreaterThan(2);
    expect(after).toEqual(before);
  });

  it('stores each resource once, and spans of recent days in their own day partitions', async () => {
    const [r] = await query<{ resources: number; sent: number }>(old.url,
      `SELECT (SELECT count(*)::int FROM verdict.resources) AS resources,
        (SELECT count(*)::int FROM (SELECT resource_attributes, resource_schema_url FROM verdict.spans
          UNION SELECT resource_attributes, resource_schema_url FROM verdict.logs) x) AS sent`);
    expect(r!.sent).toBeGreaterThan(2);
    expect(r!.resources).toBe(r!.sent);
    expect(await query(old.url, `SELECT count(*)::int AS n FROM verdict.span_rows_default`)).toEqual([{ n: 0 }]);
  });
});

/**
 * Upgrading a database of the schema before the learning loop's layers,
 * layer rollup and stored tasks (0010): the migration's backfill gives what
 * a receiver keeps at ingest. The old database gets every table a receiver
 * on that schema keeps (copied from a receiver on the new one, without the
 * columns 0010 adds), then migrates.
 */
describe('upgrading a database of the schema before 0010', () => {
  let fresh: TestDatabase;
  let old: TestDatabase;
  let applied: string[];

  beforeAll(async () => {
    [fresh, old] = await Promise.all([createDatabase('verdict_upg11_new'), createDatabase('verdict_upg11_old')]);
    const server = await startServer(baseConfig({ databaseUrl: fresh.url }), silentLogger);
    try {
      const rand = rng(29);
      for (const q of requests(plan(rand), rand)) {
        const res = await postJson(`http://127.0.0.1:${server.http.port}${q.path}`, q.body);
        expect(res.status, res.body.toString()).toBe(200);
      }
    } finally {
      await server.close();
    }

    const src = new pg.Client(fresh.url);
    const dst = new pg.Client(old.url);
    await Promise.all([src.connect(), dst.connect()]);
    try {
      const session: Session = {
        exec: async (text) => void (await dst.query(text)),
        rows: async <T>(text: string, params?: unknown[]) => (await dst.query(text, params)).rows as T[],
        copy: () => Promise.reject(new Error('not used')),
        staged: false,
      };
      await dst.query('BEGIN');
      await applyMigrations(session, loadMigrations().filter((m) => m.version < 10));
      await dst.query('COMMIT');
      // The same day partitions, so rows land where the receiver put them.
      for (const p of (await src.query<{ parent: string; day: string }>(`SELECT parent, to_char(day, 'YYYY-MM-DD') AS day FROM verdict.partitions WHERE day IS NOT NULL`)).rows) {
        await dst.query('SELECT verdict.ensure_partition($1, $2::date)', [p.parent, p.day]);
      }
      // Every table the old schema has (partitioned ones through their parent), but the settings its migration already wrote.
      const tables = (await dst.query<{ name: string }>(`
        SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'verdict' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname NOT IN ('schema_migrations', 'loop_settings', 'judge_pairs') ORDER BY 1`)).rows.map((r) => r.name);
      expect(tables).toEqual(expect.arrayContaining(['evaluations', 'span_rows', 'trace_summary', 'verdict_rollup']));
      expect(tables).not.toContain('verdict_layer_rollup');
      for (const table of tables) {
        const { rows } = await dst.query<{ cols: string }>(
          `SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS cols
           FROM information_schema.columns WHERE table_schema = 'verdict' AND table_name = $1`, [table]);
        const cols = rows[0]!.cols;
        const data = (await src.query(`SELECT COALESCE(json_agg(t), '[]')::text AS rows FROM (SELECT ${cols} FROM verdict.${table}) t`)).rows[0].rows;
        await dst.query(`INSERT INTO verdict.${table} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::verdict.${table}, $1::json)`, [data]);
      }
    } finally {
      await Promise.all([src.end(), dst.end()]);
    }

    const store = await openStore(baseConfig({ databaseUrl: old.url }), silentLogger);
    try {
      applied = await store.migrate();
    } finally {
      await store.close();
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([fresh?.drop(), old?.drop()]);
  });

  it('applies 0010 and what came after it, nothing before it', () => {
    expect(applied[0]).toBe('0010_learning_loop_at_scale');
    expect(applied).toEqual(loadMigrations().filter((m) => m.version >= 10).map((m) => m.name));
  });

  it.each(['verdictLayers', 'layerRollup', 'tasks', 'verdictRollup', 'traces'] as const)('keeps the same %s as a receiver that got the data on the new schema', async (what) => {
    const [before, after] = await Promise.all([query(fresh.url, KEPT[what]), query(old.url, KEPT[what])]);
    expect(before.length).toBeGreaterThan(2);
    expect(after).toEqual(before);
  });

  it('answers the learning loop reports the same', async () => {
    for (const q of [
      `SELECT * FROM verdict.verdict_drift ORDER BY day, name, source, service_name, harness_version, model, context_version`,
      `SELECT * FROM verdict.drift_changes_between(now() - interval '1 day', now() + interval '1 day')`,
      `SELECT * FROM verdict.tasks_between(now() - interval '1 day', now() + interval '1 day') ORDER BY task_id`,
    ]) {
      const [before, after] = await Promise.all([query(fresh.url, q), query(old.url, q)]);
      expect(before.length, q).toBeGreaterThan(0);
      expect(after, q).toEqual(before);
    }
  });
});
