/**
 * The summaries and rollups kept at ingest equal a recomputation from the
 * stored rows, however the data arrived: runs in pieces in a shuffled order,
 * roots (with another service) last or never, batches sent twice, verdicts
 * before the spans they judge (by span, run, response ID or thread), span
 * events, and, on PostgreSQL, two receivers writing the same runs at once.
 *
 * The recomputation is written here, independently of the ingest code, from
 * the definitions in docs/schema.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app/server.ts';
import { silentLogger } from '../../src/log.ts';
import { rng } from '../../bench/workload.ts';
import { postJson } from '../helpers/otlp.ts';
import { KEPT, plan, REFERENCE, requests, RESOLVED } from '../helpers/runs.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { baseConfig, BACKENDS, type Backend } from '../helpers/server.ts';
import { sql } from 'kysely';

interface Running {
  urls: string[];
  query<T>(text: string): Promise<T[]>;
  close(): Promise<void>;
}

async function start(backend: Backend): Promise<Running> {
  let db: TestDatabase | null = null;
  const servers: RunningServer[] = [];
  if (backend === 'postgres') {
    db = await createDatabase('verdict_sum');
    const cfg = baseConfig({ databaseUrl: db.url });
    servers.push(...(await Promise.all([startServer(cfg, silentLogger), startServer(cfg, silentLogger)])));
  } else {
    servers.push(await startServer(baseConfig({ databaseUrl: null, dataDir: 'memory://' }), silentLogger));
  }
  const kysely = servers[0]!.store.db;
  return {
    urls: servers.map((s) => `http://127.0.0.1:${s.http.port}`),
    query: async <T>(text: string) => (await sql.raw<T>(text).execute(kysely)).rows,
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await db?.drop();
    },
  };
}

describe.each(BACKENDS)('summaries and rollups on %s', (backend) => {
  let r: Running;
  beforeAll(async () => {
    r = await start(backend);
    const rand = rng(backend === 'postgres' ? 7 : 11);
    const sent = requests(plan(rand), rand);
    // A few at a time, spread over the receivers: with two, the same runs are written by both at once.
    for (let i = 0; i < sent.length; i += 4) {
      const results = await Promise.all(sent.slice(i, i + 4).map((q, k) => postJson(`${r.urls[(i + k) % r.urls.length]}${q.path}`, q.body)));
      for (const res of results) expect(res.status, res.body.toString()).toBe(200);
    }
  }, 120_000);
  afterAll(async () => {
    await r?.close();
  });

  it.each(Object.keys(REFERENCE) as Array<keyof typeof REFERENCE>)('%s equal a recomputation from the stored rows', async (what) => {
    const [kept, recomputed] = await Promise.all([r.query(KEPT[what]), r.query(REFERENCE[what])]);
    // Hourly rollups: the runs span an hour or two.
    expect(recomputed.length).toBeGreaterThan(what === 'conversations' || what.endsWith('Hourly') ? 2 : 10);
    expect(kept).toEqual(recomputed);
  });

  it('has layers and tasks to compare: several harness and context versions, tasks spelt several ways', async () => {
    const [layers] = await r.query<{ harness: number; context: number }>(`SELECT count(DISTINCT harness_version)::int AS harness,
      count(DISTINCT context_version)::int AS context FROM (${REFERENCE.layerRollup}) x`);
    expect(layers).toEqual({ harness: 6, context: 3 });
    const tasks = await r.query<{ task: string; runs: number }>(`SELECT task, count(*)::int AS runs FROM (${REFERENCE.tasks}) x GROUP BY 1 ORDER BY 1`);
    expect(tasks.map((t) => t.task)).toEqual(['how do i get a refund?', 'where is my order?']);
    for (const t of tasks) expect(t.runs).toBeGreaterThan(2);
  });

  it('resolved the verdicts that waited for their target; only those whose target never came still wait', async () => {
    const waiting = await r.query<{ id: string }>(`SELECT id FROM verdict.pending_verdicts ORDER BY id`);
    const unresolved = await r.query<{ id: string }>(`SELECT id FROM (${RESOLVED}) v WHERE r_span IS NULL AND (trace_id IS NOT NULL OR response_id IS NOT NULL) ORDER BY id`);
    // At least the two that never arrive, and the run-level verdicts of runs whose root never came.
    expect(unresolved.length).toBeGreaterThanOrEqual(2);
    expect(waiting).toEqual(unresolved);
  });
});
