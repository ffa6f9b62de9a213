/** Emptying Verdict's tables between benchmark runs. */

interface Queryable {
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * Empties every table Verdict writes (rows, resources, summaries, rollups,
 * waiting verdicts, queues), keeping the schema, its version and its
 * settings, so a run starts from what a fresh database holds. Tried again
 * after a deadlock: a receiver's judge workers may be writing while the
 * tables are emptied (TRUNCATE locks them one by one).
 */
export async function emptyTables(db: Queryable): Promise<void> {
  const { rows } = await db.query(`SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') AS tables FROM pg_tables
    WHERE schemaname = 'verdict' AND tablename NOT IN ('schema_migrations', 'loop_settings', 'judge_pairs')`);
  for (let attempt = 1; ; attempt++) {
    try {
      await db.query(`TRUNCATE ${rows[0]!.tables as string}`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
    }
  }
}

/** The number of stored spans (verdict.span_rows; verdict.spans in schemas before partitioning, for --baseline). */
export async function storedSpans(db: Queryable): Promise<number> {
  const { rows } = await db.query(`SELECT COALESCE(to_regclass('verdict.span_rows'), to_regclass('verdict.spans'))::text AS t`);
  const { rows: n } = await db.query(`SELECT count(*) AS n FROM ${rows[0]!.t as string}`);
  return Number(n[0]!.n);
}
