#!/usr/bin/env node
/**
 * The process entry: `verdict [serve]`, `verdict migrate`, `verdict prune`,
 * `verdict export`, `verdict compare`, `verdict evaluate`,
 * `verdict --help`. The only module that reads process.env or exits. A
 * failure prints one line on stderr: a configuration problem exits 2,
 * anything else 1; the stack trace only with --log-level debug or trace.
 */
import { ConfigError, StartupError } from './errors.ts';
import { parseCommand, runCommand, type Parsed } from './commands.ts';

let parsed: Parsed | null = null;

async function main(argv: string[]): Promise<number> {
  parsed = parseCommand(argv, process.env);
  return runCommand(parsed, {
    print: (text) => process.stdout.write(text),
    out: process.stdout,
    progress: (text) => process.stderr.write(text),
    stdoutIsTerminal: process.stdout.isTTY === true,
    onSignal: (signal, handler) => process.on(signal, handler),
    exitNow: (code) => process.exit(code),
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    const level = parsed && 'config' in parsed ? parsed.config.logLevel : null;
    const verbose = level === 'debug' || level === 'trace';
    const known = e instanceof ConfigError || e instanceof StartupError;
    const text = verbose ? (e.stack ?? e.message) : known ? e.message : `${e.message || e.name} (--log-level debug shows where)`;
    process.stderr.write(`verdict: ${text}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
