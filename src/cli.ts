#!/usr/bin/env node
/**
 * The command line: `verdict [serve]`, `verdict migrate`, `verdict prune`,
 * `verdict --help`. The only module that reads process.env or exits.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, helpText, loadConfig, type Config } from './config.ts';
import { createLogger } from './log.ts';
import { parsePruneArgs, prune, type PruneOptions } from './prune.ts';
import { startServer, type RunningServer } from './server.ts';
import { openStore } from './store/open.ts';

const COMMANDS = ['serve', 'migrate', 'prune'] as const;
type Command = (typeof COMMANDS)[number];

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  const command: Command = (COMMANDS as readonly string[]).includes(argv[0] ?? '') ? (argv.shift() as Command) : 'serve';
  // loadConfig refuses flags it does not know: the prune flags are taken off first.
  const pruneArgs = command === 'prune' ? parsePruneArgs(argv) : null;
  const cfg = loadConfig({ argv: pruneArgs?.rest ?? argv, env: process.env });
  const log = createLogger(cfg.logLevel);
  if (command === 'migrate') return migrate(cfg, log);
  if (pruneArgs) return pruneCommand(cfg, pruneArgs.options, log);
  return serve(cfg, log);
}

async function migrate(cfg: Config, log: ReturnType<typeof createLogger>): Promise<number> {
  const store = await openStore({ ...cfg, pgPort: 0 }, log);
  try {
    const applied = await store.migrate();
    log.info({ migrations: applied }, applied.length > 0 ? `applied ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await store.close();
  }
  return 0;
}

async function pruneCommand(cfg: Config, options: PruneOptions, log: ReturnType<typeof createLogger>): Promise<number> {
  if (!cfg.databaseUrl && !cfg.dataDir.startsWith('memory://')) {
    // Opening a directory that does not exist would create an empty database there; a wrong path should say so instead.
    if (!existsSync(cfg.dataDir)) throw new ConfigError(`no embedded database in ${cfg.dataDir}; set --data-dir or --database-url`);
    // PGlite lets a second process open a data directory in use, and each then overwrites the other's changes.
    // It leaves postmaster.pid there while open (with a made-up PID, so whether that process lives cannot be told).
    const pidFile = join(cfg.dataDir, 'postmaster.pid');
    if (existsSync(pidFile)) {
      throw new ConfigError(
        `the embedded database in ${cfg.dataDir} is open in another process (verdict serve?): stop it, or prune through its ` +
          `PostgreSQL port with --database-url postgres://postgres@127.0.0.1:${cfg.pgPort || 5433}/postgres; ` +
          `if no Verdict runs there (one was killed), delete ${pidFile}`,
      );
    }
  }
  // One batch may take longer than an ingest write is allowed to (the pool's query timeout follows write_timeout).
  const store = await openStore({ ...cfg, pgPort: 0, writeTimeoutMs: Math.max(cfg.writeTimeoutMs, 60_000) }, log);
  try {
    await prune(store, options, log);
  } finally {
    await store.close();
  }
  return 0;
}

async function serve(cfg: Config, log: ReturnType<typeof createLogger>): Promise<number> {
  // Handlers go in before start-up ends: the start-up line announces a process that already answers signals.
  let server: RunningServer | null = null;
  let signalled: string | null = null;
  let onSignal: (signal: string) => void = (signal) => {
    signalled = signal;
  };
  process.on('SIGHUP', () => server?.reloadRules());
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  server = await startServer(cfg, log);
  const running = server;
  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight exports');
      running.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err: (err as Error).message }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    if (signalled) onSignal(signalled);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`verdict: ${err.message}\n`);
    else process.stderr.write(`verdict: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
