/**
 * Empties what a bench run stores, so each measured run starts like the
 * ceiling's: the tables behind the views (spans and log records are views
 * since schema version 4, and TRUNCATE takes only tables), their summaries
 * and rollups, and the online judges' queue.
 */
export const CLEAR_SQL = `TRUNCATE verdict.span_rows, verdict.log_rows, verdict.evaluations, verdict.evaluation_keys, verdict.pending_verdicts,
  verdict.resources, verdict.user_turns, verdict.span_messages, verdict.trace_summary, verdict.conversation_summary, verdict.span_rollup,
  verdict.span_rollup_hourly, verdict.latency_rollup, verdict.latency_rollup_hourly, verdict.run_rollup, verdict.verdict_rollup,
  verdict.judge_jobs, verdict.judge_usage`;

/**
 * Runs CLEAR_SQL, again after a deadlock: a receiver's judge workers may be
 * writing while the tables are emptied (TRUNCATE locks them one by one).
 */
export async function clear(client: { query(sql: string): Promise<unknown> }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(CLEAR_SQL);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
    }
  }
}
