/**
 * Applies sql/NNNN_name.sql files in order, once each, recorded in
 * verdict.schema_migrations with a checksum. All pending files run in one
 * transaction under an advisory lock, so receivers starting together
 * (several replicas, or `verdict migrate` beside a running one) do not race.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Session } from './driver.ts';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir = SQL_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(dir + file, 'utf8');
      return { version: Number(file.slice(0, 4)), name: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** The schema version this build expects: the newest file in sql/, read once. */
export const LATEST_VERSION: number = loadMigrations().at(-1)?.version ?? 0;

const BOOKKEEPING = `
CREATE SCHEMA IF NOT EXISTS verdict;
CREATE TABLE IF NOT EXISTS verdict.schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;

/** Runs inside a transaction the caller opened and commits; returns the names applied. */
export async function applyMigrations(s: Session, migrations = loadMigrations()): Promise<string[]> {
  // Serialises concurrent migrators until this transaction ends (the key is arbitrary but fixed).
  await s.rows('SELECT pg_advisory_xact_lock(7314159265)');
  await s.exec(BOOKKEEPING);
  const applied = new Map((await s.rows<{ version: number; checksum: string }>('SELECT version, checksum FROM verdict.schema_migrations')).map((r) => [r.version, r.checksum]));
  const done: string[] = [];
  for (const m of migrations) {
    const checksum = applied.get(m.version);
    if (checksum !== undefined) {
      if (checksum !== m.checksum) throw new Error(`migration ${m.name}.sql was changed after it was applied; add a new migration instead`);
      continue;
    }
    await s.exec(m.sql);
    await s.rows('INSERT INTO verdict.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
    done.push(m.name);
  }
  return done;
}
