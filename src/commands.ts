/**
 * The commands (`serve`, `migrate`, `prune`, `export`, `compare`, `evaluate`): their flags, their help, and
 * how each runs. `cli.ts` is the process entry that calls `runCommand` and
 * turns its outcome into an exit code.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { ParseArgsOptionsConfig } from 'node:util';
import { startServer, type RunningServer } from './app/server.ts';
import { loadConfig, parseCommandLine, settingsHelp, type Config } from './config.ts';
import { ConfigError } from './errors.ts';
import { openDatabase } from './app/database.ts';
import { Judges } from './app/judges.ts';
import { backfill } from './judges/backfill.ts';
import { emptyBatch } from './model/rows.ts';
import { SUMMARY_INTERVAL_MS } from './app/summary.ts';
import { createLogger, type Logger } from './log.ts';
import { compareTasks, renderComparison, type CompareOptions } from './loop/compare.ts';
import { exportRuns } from './loop/export.ts';
import { OPTION_NAMES, parseExportOptions, type ExportOptions } from './loop/options.ts';
import { openStore } from './store/open.ts';
import { DEFAULT_BATCH_SIZE, parseAge, prune, type PruneOptions } from './store/prune.ts';

interface Command {
  usage: string;
  summary: string;
  /** The command's own flags, besides the settings. */
  options: ParseArgsOptionsConfig;
  optionsHelp?: string;
}

export const COMMANDS = {
  serve: {
    usage: 'verdict [serve] [settings]',
    summary: 'run the OTLP receiver (gRPC :4317, HTTP :4318) and store what arrives',
    options: {},
  },
  migrate: {
    usage: 'verdict migrate [settings]',
    summary: 'apply the database migrations and exit (serve applies them at start too)',
    options: {},
  },
  prune: {
    usage: 'verdict prune --older-than 30d [--keep-with-verdicts] [--batch-size 5000] [settings]',
    summary: 'delete old spans, logs and verdicts: a trace once all of it is older',
    options: { 'older-than': { type: 'string' }, 'keep-with-verdicts': { type: 'boolean' }, 'batch-size': { type: 'string' } },
    optionsHelp: `  --older-than <age>           what to delete: 90m, 12h, 30d, 2w (required)
  --keep-with-verdicts         keep the traces that carry verdicts (the learning corpus)
  --batch-size <rows>          rows per delete transaction (default ${DEFAULT_BATCH_SIZE})
`,
  },
  export: {
    usage: 'verdict export [--format verdict|messages|dataset] [--polarity negative] [--name N] [--since 7d] ... [settings]',
    summary: 'write runs selected by their verdicts as JSON lines on stdout: an eval set (docs/closing-the-loop.md)',
    options: {
      ...Object.fromEntries(OPTION_NAMES.filter((n) => n !== 'correction').map((n) => [n, { type: 'string' as const }])),
      correction: { type: 'boolean' },
      'no-correction': { type: 'boolean' },
    },
    optionsHelp: `  --format <f>                 verdict (everything), messages ({"messages": [...]}), dataset ({input, expected_output, metadata})
  --name <evaluation>          runs with a verdict of this evaluation name
  --label <label>              ... with this label
  --polarity <p>               ... with this polarity: positive, negative, neutral
  --source <s>                 ... from this source: user, indirect, llm_judge, rule, reviewer
                               (name, label, polarity and source all apply to one verdict)
  --service <name>             runs of this service (the root's service.name)
  --model <model>              runs whose last model call used this model
  --since <time|age>           runs started from then: 2026-03-02, 2026-03-02T08:00:00Z, or 7d, 12h ago
  --until <time|age>           runs started before then
  --correction                 only runs a reviewer corrected (the correction is the expected output)
  --no-correction              only runs without a correction
  --after <cursor>             resume after this run (progress on stderr prints the cursor)
  --limit <n>                  at most n runs
`,
  },
  compare: {
    usage: 'verdict compare [--task ID | --trace ID] [--since 7d] [--until T] [--limit 5] [--json] [settings]',
    summary: 'show the best and the worst run of a task side by side: tools, spans, tokens, latency, errors, verdicts',
    options: { task: { type: 'string' }, trace: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    optionsHelp: `  --task <id>                  a task (verdict.tasks.task_id)
  --trace <id>                 the task of this run
  --since <time|age>           runs started from then (default 7d)
  --until <time|age>           runs started before then (default now)
  --limit <n>                  without --task or --trace: how many tasks with good and bad runs (default 5)
  --json                       one JSON line per comparison instead of text
`,
  },
  evaluate: {
    usage: 'verdict evaluate [--workers 4] | --backfill --since 7d [--until T] [--evaluator NAME] [settings]',
    summary: 'judge queued runs with the evaluators of the config file (online LLM judges; any number of machines); --backfill queues past runs',
    options: { backfill: { type: 'boolean' }, since: { type: 'string' }, until: { type: 'string' }, evaluator: { type: 'string' }, workers: { type: 'string' } },
    optionsHelp: `  --workers <n>                jobs judged at once by this process (default 4)
  --backfill                   queue the runs stored in a time range (sampling applied), then exit;
                               the judging is done by verdict serve or verdict evaluate, within the budgets
  --since <time|age>           with --backfill: runs started from then: 2026-03-02, or 7d, 12h ago (required)
  --until <time|age>           with --backfill: runs started before then (default now)
  --evaluator <name>           with --backfill: only this evaluator (default all)
`,
  },
} satisfies Record<string, Command>;

export type CommandName = keyof typeof COMMANDS;

export function helpText(command?: CommandName): string {
  if (command) {
    const c: Command = COMMANDS[command];
    return `${c.usage}\n  ${c.summary}\n\n${c.optionsHelp ? `Options:\n${c.optionsHelp}\n` : ''}${settingsHelp()}`;
  }
  const rows = Object.values(COMMANDS).map((c: Command) => `  ${c.usage}\n      ${c.summary}`);
  return `verdict: stores AI-agent traces and the verdicts on them in PostgreSQL.

Usage:
${rows.join('\n')}
  verdict <command> --help     the command's own options

With npm: npm start -- --http-port 4400 (the flags go after --).

${settingsHelp()}`;
}

export type Parsed =
  | { command: 'help'; text: string }
  | { command: 'serve'; config: Config; summaryIntervalMs: number; env?: Readonly<Record<string, string | undefined>> }
  | { command: 'migrate'; config: Config }
  | { command: 'prune'; config: Config; options: PruneOptions }
  | { command: 'export'; config: Config; options: ExportOptions }
  | { command: 'compare'; config: Config; options: CompareOptions; json: boolean }
  | { command: 'evaluate'; config: Config; options: EvaluateOptions; env: Readonly<Record<string, string | undefined>> };

export interface EvaluateOptions {
  workers: number;
  /** Queue past runs instead of judging. */
  backfill: { since: Date; until: Date; evaluators: string[] } | null;
}

/** Parses a command line into the command and its validated settings; ConfigError names what is wrong. */
export function parseCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, now = Date.now()): Parsed {
  const first = argv[0];
  const named = first !== undefined && Object.hasOwn(COMMANDS, first);
  if (first === 'help') return { command: 'help', text: helpText(Object.hasOwn(COMMANDS, argv[1] ?? '') ? (argv[1] as CommandName) : undefined) };
  if (first !== undefined && !first.startsWith('-') && !named) {
    throw new ConfigError(`unknown command ${JSON.stringify(first)}; commands: ${Object.keys(COMMANDS).join(', ')} (see verdict --help)`);
  }
  const command: CommandName = named ? (first as CommandName) : 'serve';
  const rest = named ? argv.slice(1) : argv;
  if (rest.includes('--help') || rest.includes('-h')) return { command: 'help', text: helpText(named ? command : undefined) };
  const line = parseCommandLine(rest, COMMANDS[command].options);
  const config = loadConfig({ flags: line.values, env });
  if (command === 'serve') return { command, config, summaryIntervalMs: summaryInterval(env.VERDICT_SUMMARY_INTERVAL), env };
  if (command === 'evaluate') return { command, config, options: evaluateOptions(line.values, config, now), env };
  if (command === 'migrate') return { command, config };
  if (command === 'export') return { command, config, options: exportOptions(line.values, now) };
  if (command === 'compare') return { command, config, options: compareOptions(line.values, now), json: line.values.json === true };
  return { command, config, options: pruneOptions(line.values, now) };
}

/**
 * The summary line's period. Not a setting (not in --help): a minute suits
 * people; the variable exists so tests need not wait one.
 */
function summaryInterval(raw: string | undefined): number {
  if (raw === undefined || raw === '') return SUMMARY_INTERVAL_MS;
  const m = /^(\d+)(ms|s)$/.exec(raw);
  const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
  if (!(ms >= 100)) throw new ConfigError(`invalid VERDICT_SUMMARY_INTERVAL: ${JSON.stringify(raw)} is not a duration of at least 100ms (e.g. 500ms, 10s)`);
  return ms;
}

function evaluateOptions(v: Record<string, string | boolean | undefined>, cfg: Config, now: number): EvaluateOptions {
  if (cfg.evaluators.length === 0) throw new ConfigError('verdict evaluate needs evaluators: add an evaluators: section to the --config file (docs/evaluators.md)');
  let workers = 2;
  if (typeof v.workers === 'string') {
    workers = /^\d+$/.test(v.workers) ? Number(v.workers) : NaN;
    if (!(workers >= 1 && workers <= 64)) throw new ConfigError(`invalid --workers: ${JSON.stringify(v.workers)} is not an integer from 1 to 64`);
  }
  if (v.backfill !== true) {
    for (const flag of ['since', 'until', 'evaluator']) if (v[flag] !== undefined) throw new ConfigError(`--${flag} goes with --backfill`);
    return { workers, backfill: null };
  }
  if (typeof v.since !== 'string') throw new ConfigError('verdict evaluate --backfill needs --since, e.g. --since 7d');
  const range = parseExportOptions({ since: v.since, until: v.until }, (m) => new ConfigError(m), (n) => `--${n}`, now);
  const names = cfg.evaluators.map((e) => e.name);
  if (typeof v.evaluator === 'string' && !names.includes(v.evaluator)) {
    throw new ConfigError(`invalid --evaluator: ${JSON.stringify(v.evaluator)} is not an evaluator of the config file (${names.join(', ')})`);
  }
  return { workers, backfill: { since: range.since as Date, until: range.until ?? new Date(now), evaluators: typeof v.evaluator === 'string' ? [v.evaluator] : names } };
}

function pruneOptions(v: Record<string, string | boolean | undefined>, now: number): PruneOptions {
  if (typeof v['older-than'] !== 'string') throw new ConfigError('verdict prune needs --older-than, e.g. --older-than 30d');
  const olderThanMs = parseAge(v['older-than'], '--older-than', now);
  let batchSize = DEFAULT_BATCH_SIZE;
  if (typeof v['batch-size'] === 'string') {
    batchSize = /^\d+$/.test(v['batch-size']) ? Number(v['batch-size']) : NaN;
    if (!(batchSize >= 1 && Number.isSafeInteger(batchSize))) throw new ConfigError(`invalid --batch-size: ${JSON.stringify(v['batch-size'])} is not a positive integer`);
  }
  return { olderThanMs, keepWithVerdicts: v['keep-with-verdicts'] === true, batchSize };
}

function exportOptions(v: Record<string, string | boolean | undefined>, now: number): ExportOptions {
  if (v.correction === true && v['no-correction'] === true) throw new ConfigError('--correction and --no-correction exclude each other');
  const values = { ...v, correction: v.correction === true ? true : v['no-correction'] === true ? false : undefined };
  return parseExportOptions(values, (m) => new ConfigError(m), (n) => `--${n}`, now);
}

function compareOptions(v: Record<string, string | boolean | undefined>, now: number): CompareOptions {
  if (v.task !== undefined && v.trace !== undefined) throw new ConfigError('give --task or --trace, not both');
  // The time flags read as the export's do.
  const range = parseExportOptions({ since: v.since ?? '7d', until: v.until }, (m) => new ConfigError(m), (n) => `--${n}`, now);
  let limit = 5;
  if (typeof v.limit === 'string') {
    limit = /^\d+$/.test(v.limit) ? Number(v.limit) : NaN;
    if (!(limit >= 1 && limit <= 1000)) throw new ConfigError(`invalid --limit: ${JSON.stringify(v.limit)} is not an integer from 1 to 1000`);
  }
  return {
    ...(typeof v.task === 'string' ? { task: v.task } : {}),
    ...(typeof v.trace === 'string' ? { trace: v.trace.toLowerCase() } : {}),
    since: range.since as Date,
    until: range.until ?? new Date(now),
    limit,
  };
}

/** What runs a command needs from the process: output, and the signals it reacts to. */
export interface ProcessHooks {
  print(text: string): void;
  /** Where `export` streams its lines (stdout); print() is used when absent. */
  out?: NodeJS.WritableStream;
  /** Progress lines (stderr). */
  progress?(text: string): void;
  /** Whether stdout is a terminal: --log-format auto then writes text, else JSON lines (the default). */
  stdoutIsTerminal?: boolean;
  onSignal(signal: 'SIGHUP' | 'SIGINT' | 'SIGTERM', handler: () => void): void;
  /** Exits at once (a second SIGTERM). */
  exitNow(code: number): never;
}

/** Runs a parsed command; resolves with the exit code. */
export async function runCommand(p: Parsed, hooks: ProcessHooks): Promise<number> {
  if (p.command === 'help') {
    hooks.print(p.text);
    return 0;
  }
  const format = p.config.logFormat === 'auto' ? (hooks.stdoutIsTerminal === true ? 'text' : 'json') : p.config.logFormat;
  // Commands whose output is data keep stdout for it: their logs go to stderr.
  const log = createLogger(p.config.logLevel, format, p.command === 'export' || p.command === 'compare' ? 2 : 1);
  if (p.command === 'migrate') return migrate(p.config, log);
  if (p.command === 'prune') return pruneCommand(p.config, p.options, log);
  if (p.command === 'export') return exportCommand(p.config, p.options, log, hooks);
  if (p.command === 'compare') return compareCommand(p.config, p.options, p.json, log, hooks);
  if (p.command === 'evaluate') return evaluateCommand(p.config, p.options, p.env, log, hooks);
  return serve(p.config, p.summaryIntervalMs, log, hooks, p.env ?? {});
}

async function migrate(cfg: Config, log: Logger): Promise<number> {
  // openDatabase waits for PostgreSQL as serve does, applies the migrations and logs which.
  const { store, applied } = await openDatabase({ ...cfg, pgPort: 0 }, log);
  await store.close();
  if (applied.length === 0) log.info('database is up to date');
  return 0;
}

async function pruneCommand(cfg: Config, options: PruneOptions, log: Logger): Promise<number> {
  // Opening a directory that does not exist would create an empty database there; a wrong path should say so instead.
  // (A directory in use by a running Verdict is refused when the store claims it: store/pglite/data-dir.ts.)
  if (!cfg.databaseUrl && !cfg.dataDir.startsWith('memory://') && !existsSync(cfg.dataDir)) {
    throw new ConfigError(`no embedded database in ${cfg.dataDir}; set --data-dir or --database-url`);
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

/** Opens the database of the settings for a command that reads it; a wrong data directory says so rather than making an empty one. */
async function openForReading(cfg: Config, log: Logger) {
  if (!cfg.databaseUrl && !cfg.dataDir.startsWith('memory://') && !existsSync(cfg.dataDir)) {
    throw new ConfigError(`no embedded database in ${cfg.dataDir}; set --data-dir or --database-url`);
  }
  return openStore({ ...cfg, pgPort: 0 }, log);
}

async function exportCommand(cfg: Config, options: ExportOptions, log: Logger, hooks: ProcessHooks): Promise<number> {
  const store = await openForReading(cfg, log);
  const progress = hooks.progress ?? (() => {});
  const started = performance.now();
  let runs = 0;
  let cursor = '';
  let lastReport = started;
  try {
    for await (const { line, cursor: c } of exportRuns(store.db, options)) {
      if (hooks.out) {
        // Wait while the reader is behind, so memory stays one page.
        if (!hooks.out.write(line)) await once(hooks.out, 'drain');
      } else {
        hooks.print(line);
      }
      runs++;
      cursor = c;
      if (performance.now() - lastReport > 2000) {
        lastReport = performance.now();
        progress(`exported ${runs} runs (${Math.round(runs / ((lastReport - started) / 1000))}/s); resume with --after ${cursor}\n`);
      }
    }
    // Everything written is flushed before the process exits (a pipe may still hold a queue).
    if (hooks.out) await new Promise<void>((resolve) => hooks.out!.write('', () => resolve()));
  } finally {
    await store.close();
  }
  progress(`exported ${runs} runs in ${((performance.now() - started) / 1000).toFixed(1)} s${cursor ? `; the last cursor is ${cursor}` : ''}\n`);
  return 0;
}

async function compareCommand(cfg: Config, options: CompareOptions, json: boolean, log: Logger, hooks: ProcessHooks): Promise<number> {
  const store = await openForReading(cfg, log);
  try {
    const found = await compareTasks(store.db, options);
    if (found.length === 0) {
      const what = options.trace ? `the task of run ${options.trace}` : options.task ? `task ${options.task}` : 'any task';
      (hooks.progress ?? hooks.print)(`no good and bad runs of ${what} started between ${options.since.toISOString()} and ${options.until.toISOString()}\n`);
      return 1;
    }
    hooks.print(json ? found.map((c) => `${JSON.stringify(c)}\n`).join('') : `${found.map(renderComparison).join('\n\n')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * `verdict evaluate`: a judge worker beside (or instead of) the receivers'
 * own, claiming from the same tables until SIGTERM, which releases its
 * leases; or, with --backfill, queues past runs and exits.
 */
async function evaluateCommand(cfg: Config, options: EvaluateOptions, env: Readonly<Record<string, string | undefined>>, log: Logger, hooks: ProcessHooks): Promise<number> {
  const { store } = await openDatabase({ ...cfg, pgPort: 0 }, log);
  if (options.backfill) {
    const b = options.backfill;
    const progress = hooks.progress ?? hooks.print;
    try {
      const totals = await backfill(store.db, {
        since: b.since, until: b.until, evaluators: cfg.evaluators.filter((e) => b.evaluators.includes(e.name)),
        progress: (p) => progress(`${p.evaluator}: scanned ${p.scanned}, queued ${p.queued}\n`),
      });
      for (const [name, n] of totals) log.info({ evaluator: name, queued: n }, `backfill queued ${n} job(s) for ${name}`);
    } finally {
      await store.close();
    }
    return 0;
  }
  const judges = new Judges({ cfg, env, log, registry: null, concurrency: options.workers });
  judges.start(store, (rows) => {
    const batch = emptyBatch();
    batch.evaluations = rows;
    return store.write([batch]);
  });
  hooks.onSignal('SIGHUP', () => judges.reload());
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) hooks.exitNow(1);
      stopping = true;
      log.info({ signal }, 'shutting down: releasing judge jobs');
      void stopped(judges.close().then(() => store.close()), log).then(resolve);
    };
    hooks.onSignal('SIGINT', () => stop('SIGINT'));
    hooks.onSignal('SIGTERM', () => stop('SIGTERM'));
  });
}

async function serve(cfg: Config, summaryIntervalMs: number, log: Logger, hooks: ProcessHooks, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  // Handlers go in before start-up ends: the start-up line announces a process that already answers signals.
  // A signal while start-up waits for the database ends the wait.
  let server: RunningServer | null = null;
  let signalled: string | null = null;
  const starting = new AbortController();
  let onSignal: (signal: string) => void = (signal) => {
    signalled = signal;
    starting.abort(new Error(`${signal} during start-up`));
  };
  hooks.onSignal('SIGHUP', () => {
    server?.reloadRules();
    server?.reloadReview();
    server?.judges?.reload();
  });
  hooks.onSignal('SIGINT', () => onSignal('SIGINT'));
  hooks.onSignal('SIGTERM', () => onSignal('SIGTERM'));
  try {
    server = await startServer(cfg, log, { signal: starting.signal, summaryIntervalMs, env });
  } catch (err) {
    if (!signalled) throw err;
    log.info({ signal: signalled }, 'stopped before start-up finished');
    return 0;
  }
  const running = server;
  return new Promise<number>((resolve) => {
    let stopping = false;
    onSignal = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        hooks.exitNow(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight exports');
      void stopped(running.close(), log).then(resolve);
    };
    if (signalled) onSignal(signalled);
  });
}

/** The exit code once a shutdown has finished: 0, or 1 (logged) when it failed. */
async function stopped(closing: Promise<void>, log: Logger): Promise<number> {
  try {
    await closing;
    log.info('stopped');
    return 0;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'shutdown failed');
    return 1;
  }
}
