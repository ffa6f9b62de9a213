/**
 * A throwaway PostgreSQL cluster for the fault tests: `initdb` into a
 * temporary folder with the machine's PostgreSQL binaries, on a free port,
 * with its socket in that folder. A test may restart it, stall it or stop it
 * without touching the machine's shared server (127.0.0.1:5432).
 *
 * `initdb` and `postgres` refuse to run as root; when the tests run as root
 * (CI, containers) the cluster runs as the `postgres` OS user through
 * `runuser`, in a folder that user owns.
 *
 * Binaries: VERDICT_PG_BIN if set, else the newest /usr/lib/postgresql/<v>/bin
 * (Debian, Ubuntu), else `pg_config --bindir`, else /usr/local/pgsql/bin.
 * Missing binaries fail the tests; they never skip them.
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './server.ts';

export interface Cluster {
  /** The folder holding the data directory, the socket and the server log. */
  readonly dir: string;
  readonly port: number;
  /** postgres://postgres@127.0.0.1:port/<database> */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * Stops the server, waits `downMs` with no server at all, and starts it
   * again; returns how long it was away, in ms. `fast` (the default) rolls back
   * open transactions and disconnects every session with an error; `immediate`
   * is a crash: sessions are cut without one, and the start runs crash recovery.
   */
  restart(opts?: { mode?: 'fast' | 'immediate'; downMs?: number }): Promise<number>;
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** The server log so far (for failure messages). */
  log(): string;
  /** Stops the server (immediate mode) and deletes the folder; safe to call more than once, and after a failed start. */
  destroy(): Promise<void>;
}

const OS_USER = 'postgres';
/** util-linux's runuser, which a PATH without the sbin folders does not find. */
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser'].find((p) => existsSync(p)) ?? 'runuser';

/** Where the PostgreSQL server binaries are. */
export function pgBinDir(): string {
  const candidates: string[] = [];
  if (process.env.VERDICT_PG_BIN) candidates.push(process.env.VERDICT_PG_BIN);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // no pg_config on PATH
  }
  candidates.push('/usr/local/pgsql/bin');
  const found = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (!found) throw new Error(`PostgreSQL server binaries (initdb, pg_ctl) not found in ${candidates.join(', ')}; set VERDICT_PG_BIN`);
  return found;
}

/** uid and gid of an OS user, from /etc/passwd. */
function osUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`the fault tests run as root, and need the OS user "${name}" to run PostgreSQL (initdb refuses root)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Clusters of this process not destroyed yet: stopped on exit even if a test's afterAll never ran. */
const live = new Set<{ stopSync(): void }>();
process.once('exit', () => {
  for (const c of live) c.stopSync();
});

export async function startCluster(opts: { settings?: Record<string, string | number> } = {}): Promise<Cluster> {
  const bin = pgBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'verdict-fault-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  if (asRoot) {
    const { uid, gid } = osUser(OS_USER);
    chownSync(dir, uid, gid);
  }
  // As root, every PostgreSQL binary runs as the postgres user; otherwise as ourselves.
  const pgCmd = (tool: string, args: string[], timeoutMs = 60_000) =>
    asRoot ? run(RUNUSER, ['-u', OS_USER, '--', join(bin, tool), ...args], timeoutMs) : run(join(bin, tool), args, timeoutMs);
  const pgCtl = (args: string[]) => pgCmd('pg_ctl', ['-D', data, '-w', '-t', '60', ...args], 90_000);

  let port = 0;
  let destroyed = false;
  const entry = {
    stopSync() {
      // Last resort at process exit: SIGQUIT is PostgreSQL's immediate shutdown.
      try {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // not running
      }
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    },
  };
  live.add(entry);

  const cluster: Cluster = {
    dir,
    get port() {
      return port;
    },
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: cluster.url(), connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return cluster.url(name);
    },
    async restart({ mode = 'fast', downMs = 0 } = {}) {
      const started = Date.now();
      await pgCtl(['-m', mode, 'stop']);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await pgCtl(['-l', logFile, 'start']);
      return Date.now() - started;
    },
    async stop(mode = 'fast') {
      await pgCtl(['-m', mode, 'stop']);
    },
    async start() {
      await pgCtl(['-l', logFile, 'start']);
    },
    log() {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        if (existsSync(join(data, 'postmaster.pid'))) await pgCtl(['-m', 'immediate', 'stop']);
      } catch {
        entry.stopSync();
      }
      rmSync(dir, { recursive: true, force: true });
      live.delete(entry);
    },
  };

  try {
    await pgCmd('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // A free port can be taken between freePort() and the server's bind: then try another.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const settings: Record<string, string | number> = {
        port,
        listen_addresses: "'127.0.0.1'",
        unix_socket_directories: `'${dir}'`,
        max_connections: 50,
        shared_buffers: "'64MB'",
        logging_collector: 'off',
        log_min_messages: 'warning',
        ...opts.settings,
      };
      // Later lines win in postgresql.conf.
      appendFileSync(join(data, 'postgresql.conf'), `\n# verdict fault tests\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
      try {
        await cluster.start();
        break;
      } catch (err) {
        if (attempt >= 3 || !/could not bind|already in use/i.test(cluster.log())) throw err;
      }
    }
  } catch (err) {
    const log = cluster.log();
    await cluster.destroy();
    throw new Error(`could not start a throwaway PostgreSQL cluster with ${bin}: ${(err as Error).message}\n${log}`);
  }
  return cluster;
}
