/**
 * Writes the `learning_loop:` configuration where SQL reads it
 * (verdict.loop_settings, verdict.judge_pairs). Runs at start-up after the
 * migrations. Idempotent: the settings row is overwritten and the pairs made
 * equal to the configured ones in one transaction, serialised across
 * receivers by an advisory lock, so receivers with the same configuration
 * leave the same rows whichever runs last.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { LoopConfig } from './config.ts';

export async function syncLoopSettings(db: Kysely<Database>, cfg: LoopConfig): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended('verdict.loop_settings', 0))`.execute(trx);
    await sql`
      UPDATE verdict.loop_settings SET
        kappa_threshold = ${cfg.kappaThreshold}, pair_span_with_run = ${cfg.pairSpanWithRun},
        context_attribute = ${cfg.contextAttribute}, change_z = ${cfg.changeZ}, min_verdicts = ${cfg.minVerdicts}`.execute(trx);
    const judges = cfg.pairs.map((p) => p.judge);
    const humans = cfg.pairs.map((p) => p.human);
    await sql`
      DELETE FROM verdict.judge_pairs p
      WHERE NOT EXISTS (SELECT FROM unnest(${judges}::text[], ${humans}::text[]) AS c(judge, human) WHERE c.judge = p.judge_name AND c.human = p.human_name)`.execute(trx);
    await sql`
      INSERT INTO verdict.judge_pairs (judge_name, human_name)
      SELECT judge, human FROM unnest(${judges}::text[], ${humans}::text[]) AS c(judge, human)
      ON CONFLICT DO NOTHING`.execute(trx);
  });
}
