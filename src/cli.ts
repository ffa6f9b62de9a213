#!/usr/bin/env node
/**
 * The command line: `verdict [serve]`, `verdict migrate`, `verdict prune`,
 * `verdict --help`. The only module that reads process.env or exits.
 */
import { ConfigError, helpText, loadConfig, type Config } from './config.ts';
import { createLogger } from './log.ts';
import { startServer } from './server.ts';
import { openStore } from './store/open.ts';

const COMMANDS = ['serve', 'migrate'] as const;
type Command = (typeof COMMANDS)[number];

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  const command: Command = (COMMANDS as readonly string[]).includes(argv[0] ?? '') ? (argv.shift() as Command) : 'serve';
  const cfg = loadConfig({ argv, env: process.env });
  const log = createLogger(cfg.logLevel);
  if (command === 'migrate') return migrate(cfg, log);
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

async function serve(cfg: Config, log: ReturnType<typeof createLogger>): Promise<number> {
  const server = await startServer(cfg, log);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight exports');
      server.close().then(
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
    process.on('SIGHUP', () => server.reloadRules());
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
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
