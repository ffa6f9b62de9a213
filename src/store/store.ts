/**
 * The storage seam: everything above it (receivers, pipeline, feedback API)
 * talks to this interface; `postgres.ts` and `pglite.ts` implement it.
 */
import type { Kysely } from 'kysely';
import type { Batch } from '../model/rows.ts';
import type { Database } from './schema.ts';

export interface Readiness {
  ok: boolean;
  /** Why not, for /readyz. */
  reason?: string;
}

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  /** Typed queries (reads, small writes). Bulk writes go through `write`. */
  readonly db: Kysely<Database>;
  /** Applies pending migrations from sql/; safe to call from several processes at once. */
  migrate(): Promise<string[]>;
  /**
   * Writes the batches in one transaction and resolves once it has committed.
   * Idempotent: rows already stored are skipped. Rejects with DataError when
   * the data itself is refused, UnavailableError when the database is.
   */
  write(batches: readonly Batch[]): Promise<void>;
  /** Database reachable and every migration applied. */
  ready(): Promise<Readiness>;
  /** Where users connect with psql (embedded store, password included), for the start-up log. */
  readonly psqlCommand: string | null;
  /** The same as a postgres:// URL (for Grafana and other clients). */
  readonly pgUrl: string | null;
  close(): Promise<void>;
}
