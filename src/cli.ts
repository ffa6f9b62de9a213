#!/usr/bin/env node
/**
 * The process entry: `verdict [serve]`, `verdict migrate`, `verdict prune`,
 * `verdict --help`. The only module that reads process.env or exits: a
 * configuration problem prints one line and exits 2; anything else exits 1.
 */
import { ConfigError } from './errors.ts';
import { parseCommand, runCommand } from './commands.ts';

async function main(argv: string[]): Promise<number> {
  return runCommand(parseCommand(argv, process.env), {
    print: (text) => process.stdout.write(text),
    onSignal: (signal, handler) => process.on(signal, handler),
    exitNow: (code) => process.exit(code),
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
