/**
 * Once per `vitest run`: everything the tests create is removed at the end,
 * passed or failed, even when a test file crashed before its own afterAll.
 *
 * - Temporary folders: TMPDIR points at one folder of this run, which every
 *   test worker and every process they start inherit (os.tmpdir() reads it);
 *   it goes, whole, at the end. Throwaway clusters (cluster.ts) live there
 *   too; any whose server still runs is stopped first.
 * - Databases on the shared PostgreSQL server: their names carry this run's
 *   id (postgres.ts), and those still there at the end are dropped. The id
 *   keeps other runs' databases (another engineer's, CI's) out of reach.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export default function setup(): () => Promise<void> {
  const run = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');
  const originalTmp = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), `verdict-test-${run}-`));
  // Throwaway clusters run as the postgres OS user when the tests run as root: it must reach its folder in here.
  chmodSync(dir, 0o755);
  process.env.TMPDIR = dir;
  process.env.VERDICT_TEST_RUN = run;
  return async () => {
    stopClusters(dir);
    rmSync(dir, { recursive: true, force: true });
    if (originalTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = originalTmp;
    await dropDatabases(run);
  };
}

/** SIGQUIT (immediate shutdown) to every PostgreSQL server whose data directory is in `dir`. */
function stopClusters(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pidFile = join(dir, name, 'data', 'postmaster.pid');
    if (!existsSync(pidFile)) continue;
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
    } catch {
      // already gone
    }
  }
}

async function dropDatabases(run: string): Promise<void> {
  const admin = new pg.Client({ connectionString: process.env.VERDICT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`%\\_${run}\\_%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } catch {
    // No server: then the tests that needed one failed and said so; nothing was created.
  } finally {
    await admin.end().catch(() => {});
  }
}
