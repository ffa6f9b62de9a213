/**
 * Every documented point lookup and list query can be served by indexes: its
 * plan, with sequential scans priced out, reads no partition of spans, log
 * records or verdicts sequentially (and none of the summaries the lists
 * sort). A sequential scan that remains then is one no index can replace,
 * which at ten million rows is the difference between milliseconds and
 * minutes. The queries are those of README.md, docs/schema.md,
 * docs/cookbook.md, docs/feedback.md, the Trace and Learning loop dashboards,
 * the learning loop's reads at ingest and the review queues (the page's and
 * the filler's), with their variables filled in.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestServer, type TestServer } from '../helpers/server.ts';

const TRACE = 'ab'.repeat(16);

/** The lookups and lists, by where they are documented. */
const QUERIES: Record<string, string> = {
  'README: verdicts with their model, newest first': `
    SELECT e.time, e.name, e.score_label, e.explanation, e.gen_ai_response_model, t.root_name, t.duration_ms
    FROM verdict.trace_evaluations e JOIN verdict.traces t USING (trace_id)
    WHERE e.score_label IN ('fail', 'incorrect', 'not_relevant') ORDER BY e.time DESC LIMIT 20`,
  'README: every span of one run': `
    SELECT span_id, parent_span_id, name, gen_ai_operation_name, duration_ns / 1e6 AS ms, status_code
    FROM verdict.spans WHERE trace_id = '${TRACE}' ORDER BY start_time`,
  'schema: one run': `SELECT * FROM verdict.traces WHERE trace_id = '${TRACE}'`,
  'schema: one run\'s verdicts': `SELECT * FROM verdict.trace_evaluations WHERE trace_id = '${TRACE}'`,
  'schema: one conversation': `SELECT * FROM verdict.conversations WHERE conversation_id = 'conv-1'`,
  'schema: the newest 50 runs': `SELECT * FROM verdict.traces ORDER BY start_time DESC LIMIT 50`,
  'schema: the newest 50 conversations': `SELECT * FROM verdict.conversations ORDER BY last_activity DESC LIMIT 50`,
  'schema: the log records of one run': `SELECT * FROM verdict.logs WHERE trace_id = '${TRACE}'`,
  'schema: the verdicts waiting for a response ID': `SELECT * FROM verdict.trace_evaluations WHERE response_id = 'chatcmpl-1'`,
  'cookbook: runs that earned a negative verdict': `
    SELECT t.trace_id, (SELECT string_agg(s.name, ' → ' ORDER BY s.start_time_unix_nano) FROM verdict.spans s
      WHERE s.trace_id = t.trace_id AND s.start_time BETWEEN t.start_time AND t.end_time) AS trajectory
    FROM verdict.traces t WHERE t.negative_verdicts > 0 AND t.start_time > now() - interval '1 day' ORDER BY t.start_time DESC LIMIT 20`,
  'cookbook: verdicts still waiting for their target': `
    SELECT v.* FROM verdict.trace_evaluations v JOIN verdict.pending_verdicts p ON p.id = v.id AND p.time = v.time`,
  'feedback.md: the trajectories of runs with negative verdicts, last day': `
    SELECT v.name, s.trace_id, s.name FROM verdict.trace_evaluations v
    JOIN verdict.traces t ON t.trace_id = v.trace_id
    JOIN verdict.spans s ON s.trace_id = v.trace_id AND s.start_time BETWEEN t.start_time AND t.end_time
    WHERE v.polarity = 'negative' AND v.time > now() - interval '1 day' ORDER BY v.time DESC LIMIT 500`,
  'Trace dashboard: the run': `SELECT * FROM verdict.traces WHERE trace_id = '${TRACE}'`,
  'Trace dashboard: its spans': `
    SELECT * FROM verdict.spans s WHERE s.trace_id = '${TRACE}'
      AND s.start_time BETWEEN (SELECT start_time FROM verdict.traces WHERE trace_id = '${TRACE}') AND (SELECT end_time FROM verdict.traces WHERE trace_id = '${TRACE}')`,
  'Trace dashboard: its verdicts': `SELECT * FROM verdict.trace_evaluations e WHERE e.trace_id = '${TRACE}' ORDER BY e.time, e.name`,
  'Trace dashboard: its log records': `
    SELECT l.*, s.name FROM verdict.logs l LEFT JOIN verdict.spans s ON s.trace_id = l.trace_id AND s.span_id = l.span_id
    WHERE l.trace_id = '${TRACE}' ORDER BY l.time, l.id`,
  'Trace dashboard: recent runs': `SELECT * FROM verdict.traces WHERE start_time BETWEEN now() - interval '6 hours' AND now() ORDER BY start_time DESC LIMIT 50`,
  'closing-the-loop: a judge\'s pairs with human verdicts, last week': `
    SELECT * FROM verdict.judge_human_pairs WHERE time > now() - interval '7 days'`,
  'closing-the-loop: judge calibration by week': `
    SELECT * FROM verdict.judge_calibration WHERE week >= now() - interval '8 weeks' ORDER BY week, judge`,
  'closing-the-loop: disagreements, newest first': `
    SELECT * FROM verdict.judge_disagreements WHERE time > now() - interval '7 days' ORDER BY time DESC LIMIT 50`,
  'closing-the-loop: drift by day and layer': `
    SELECT * FROM verdict.verdict_drift WHERE day >= now() - interval '14 days'`,
  'closing-the-loop: what changed': `SELECT * FROM verdict.drift_changes_between(now() - interval '1 day', now())`,
  'closing-the-loop: tasks with good and bad runs': `
    SELECT * FROM verdict.tasks_between(now() - interval '1 day', now()) WHERE good_runs > 0 AND bad_runs > 0`,
  'closing-the-loop: good and bad runs side by side': `SELECT * FROM verdict.task_comparisons_between(now() - interval '1 day', now())`,
  'Learning loop dashboard: negative rate by model': `
    SELECT date_trunc('hour', hour) AS time, COALESCE(model, 'unknown') AS model,
      (COALESCE(sum(verdicts) FILTER (WHERE polarity = 'negative'), 0))::float8 / NULLIF(sum(verdicts) FILTER (WHERE polarity IS NOT NULL), 0) AS negative_rate
    FROM verdict.verdict_layer_rollup WHERE hour BETWEEN now() - interval '6 hours' AND now() AND verdicts <> 0 GROUP BY 1, 2 ORDER BY 1`,
  'Learning loop dashboard: tasks with good and bad runs': `
    SELECT k.* FROM verdict.tasks_between(now() - interval '7 days', now()) k
    WHERE k.last_start BETWEEN now() - interval '7 days' AND now() AND k.good_runs > 0 AND k.bad_runs > 0
    ORDER BY k.bad_runs DESC, k.runs DESC LIMIT 50`,
  'ingest: the layers of a run\'s verdicts': `
    SELECT e.id, l.* FROM verdict.evaluations e
    CROSS JOIN LATERAL verdict.target_layers(e.target_trace_id, e.target_span_id, e.target_service_version) l
    WHERE e.target_trace_id = ANY (ARRAY['${TRACE}']) AND e.target_span_id IS NOT NULL`,
  'export: a page of failed runs after a cursor': `
    SELECT t.trace_id FROM verdict.trace_summary t
    WHERE t.span_count > 0 AND (t.start_time_unix_nano, t.trace_id) > (0::bigint, '${TRACE}'::text)
      AND EXISTS (SELECT FROM verdict.evaluations e WHERE e.target_trace_id = t.trace_id AND e.polarity = 'negative')
    ORDER BY t.start_time_unix_nano, t.trace_id LIMIT 200`,
  'Feedback dashboard: recent human feedback': `
    SELECT * FROM verdict.trace_evaluations WHERE time BETWEEN now() - interval '6 hours' AND now() AND source IN ('user', 'reviewer')
    ORDER BY time DESC LIMIT 100`,
  'review: claim the next item of a queue': `
    UPDATE verdict.review_items SET state = 'claimed', reviewer = 'ana', claimed_at = now(), lease_until = now() + interval '10 minutes'
    WHERE id = (SELECT id FROM verdict.review_items
      WHERE queue = 'support' AND state IN ('pending', 'claimed') AND (state = 'pending' OR lease_until <= now())
      ORDER BY priority, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)`,
  'review: open items of the queues by reason': `
    SELECT queue, reason, (state = 'claimed' AND lease_until > now()) AS live, count(*)::int AS n
    FROM verdict.review_items WHERE queue = ANY(ARRAY['support', 'judges']) AND state IN ('pending', 'claimed') GROUP BY 1, 2, 3`,
  'review: the queues a run is in': `SELECT * FROM verdict.review_items WHERE trace_id = '${TRACE}'`,
  'review filler: the runs a write touched': `SELECT trace_id, root_span_id, service_name FROM verdict.traces WHERE trace_id = ANY(ARRAY['${TRACE}', '${'cd'.repeat(16)}'])`,
  'review filler: their verdicts': `SELECT target_trace_id, name, source, polarity FROM verdict.evaluations WHERE target_trace_id = ANY(ARRAY['${TRACE}', '${'cd'.repeat(16)}'])`,
  'review filler: their root spans': `
    SELECT s.trace_id, s.attributes FROM unnest(ARRAY['${TRACE}'], ARRAY['${'ab'.repeat(8)}']) AS r(trace_id, span_id)
    JOIN verdict.span_rows s ON s.trace_id = r.trace_id AND s.span_id = r.span_id`,
  'review filler: the runs of the last hour': `
    SELECT trace_id FROM verdict.trace_summary WHERE end_time >= now() - interval '1 hour' AND span_count > 0 ORDER BY end_time DESC LIMIT 20000`,
  'review filler: the runs of verdicts on a completion': `SELECT DISTINCT target_trace_id FROM verdict.evaluations WHERE id = ANY(ARRAY['x', 'y']) AND target_trace_id IS NOT NULL`,
};

/** Relations whose sequential scan fails the test: the partitioned tables (any partition), the summaries and the review items. */
const BIG = /Seq Scan on (span_rows|log_rows|evaluations|trace_summary|conversation_summary|review_items)\w*/g;

describe.each(BACKENDS)('query plans on %s', (backend) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(backend);
    // Partitions of several days, as a running receiver has them.
    for (const d of [-2, -1, 0]) {
      const day = new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
      for (const parent of ['span_rows', 'log_rows', 'evaluations']) await sql`SELECT verdict.ensure_partition(${parent}, ${day}::date)`.execute(t.db);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The plan with sequential scans priced out (in one transaction, so on one session). */
  const plan = (q: string) =>
    t.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const { rows } = await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${q}`).execute(trx);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });

  it.each(Object.entries(QUERIES))('%s reads no big table sequentially', async (_name, q) => {
    const p = await plan(q);
    expect(p).toMatch(/Index|Bitmap|Result|Values Scan/);
    expect(p.match(BIG) ?? [], p).toEqual([]);
  });

  it('answers the learning loop reports from the layer rollup and the judged runs, not from verdicts or spans', async () => {
    for (const q of [
      QUERIES['Learning loop dashboard: negative rate by model']!,
      `SELECT * FROM verdict.verdict_drift WHERE day >= now() - interval '14 days'`,
      `SELECT * FROM verdict.drift_changes_between(now() - interval '7 days', now())`,
    ]) {
      const p = await plan(q);
      expect(p).toMatch(/verdict_layer_rollup/);
      expect(p).not.toMatch(/evaluations|span_rows|trace_summary/);
    }
    const tasks = await plan(QUERIES['Learning loop dashboard: tasks with good and bad runs']!);
    // The judged runs only, through one of the two partial indexes of tasks (which one depends on the table's size).
    expect(tasks).toMatch(/Index (Only )?Scan using trace_summary_(judged_tasks|task_runs) on trace_summary r\b/);
    expect(tasks).not.toMatch(/span_rows|evaluations/);
  });

  it('would see a sequential scan where no index serves', async () => {
    const p = await plan(`SELECT * FROM verdict.spans WHERE status_message = 'boom'`);
    expect(p.match(BIG)?.length ?? 0).toBeGreaterThan(0);
  });
});
