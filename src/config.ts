/**
 * Configuration: one typed object, from defaults < YAML file (--config) <
 * environment < command-line flags, validated once at start-up and frozen.
 * A bad value stops start-up with a message naming the setting, where it came
 * from and the value.
 *
 * Every setting is declared once in SETTINGS; `verdict --help` and
 * docs/operations.md are generated from, or checked against, that table.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';
import { parseFeedbackConfig, type FeedbackConfig } from './feedback/policy.ts';
import type { LogFormat, LogLevel } from './log.ts';
import { parseEvaluators, type Evaluator } from './judges/config.ts';
import { parseLoopConfig, type LoopConfig } from './loop/config.ts';
import { parseReviewConfig, type ReviewConfig } from './review/config.ts';

export interface Config {
  host: string;
  grpcPort: number;
  httpPort: number;
  /** /healthz, /readyz and /metrics on a listener of their own (null: on the HTTP port). */
  adminPort: number | null;
  databaseUrl: string | null;
  dataDir: string;
  pgPort: number;
  pgHost: string;
  pgPasswordFile: string | null;
  maxBodyBytes: number;
  /** How many times its size a compressed HTTP body may inflate to. */
  maxInflateRatio: number;
  /** Bytes of request bodies being received at once, across connections. */
  maxReceivingBytes: number;
  /** Bytes one connection may have being received (HTTP bodies; HTTP/2 session memory for gRPC). */
  maxReceivingPerConnection: number;
  /** Bytes a second below which a body is cut (after a grace of 5 s). */
  minReceiveRate: number;
  /** Longest a body or gRPC message may take to arrive whole. */
  receiveTimeoutMs: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** How long start-up waits for an unreachable PostgreSQL (0 = not at all). */
  databaseWaitMs: number;
  writeTimeoutMs: number;
  shutdownTimeoutMs: number;
  batchMaxRows: number;
  batchMaxWaitMs: number;
  writers: number;
  maxInflightRows: number;
  maxInflightBytes: number;
  rulesFile: string | null;
  authTokens: readonly string[];
  authTokenFile: string | null;
  corsOrigins: readonly string[];
  tlsCert: string | null;
  tlsKey: string | null;
  /** The `feedback:` section of the config file: polarity labels and thresholds, source rules. */
  feedback: FeedbackConfig;
  /** The `learning_loop:` section: judge/human pairs, the kappa threshold, what drift reports read. */
  learningLoop: LoopConfig;
  /** The `review:` section: review queues and reviewers (docs/review.md). */
  review: ReviewConfig;
  /** The `evaluators:` section: online LLM judges (docs/evaluators.md). */
  evaluators: readonly Evaluator[];
  /** The config file the settings came from (--config or VERDICT_CONFIG), read again to reload the review section and the evaluators. */
  configFile: string | null;
}

type Kind = 'string' | 'port' | 'int' | 'bytes' | 'duration' | 'level' | 'list' | 'path' | 'url' | 'format';

interface Setting {
  key: keyof Config;
  /** Name in the YAML file and, with dashes, the flag. */
  name: string;
  env: string;
  kind: Kind;
  default: unknown;
  help: string;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'host', name: 'host', env: 'VERDICT_HOST', kind: 'string', default: 'localhost', help: 'address to listen on; localhost binds 127.0.0.1 and ::1, use 0.0.0.0 in containers' },
  { key: 'grpcPort', name: 'grpc_port', env: 'VERDICT_GRPC_PORT', kind: 'port', default: 4317, help: 'OTLP/gRPC port (0 picks a free port)' },
  { key: 'httpPort', name: 'http_port', env: 'VERDICT_HTTP_PORT', kind: 'port', default: 4318, help: 'OTLP/HTTP, feedback API, health and metrics port' },
  { key: 'adminPort', name: 'admin_port', env: 'VERDICT_ADMIN_PORT', kind: 'port', default: null, help: '/healthz, /readyz and /metrics on a listener of their own, in a thread of its own (0 picks a free port); unset = on the HTTP port' },
  { key: 'databaseUrl', name: 'database_url', env: 'DATABASE_URL', kind: 'url', default: null, help: 'PostgreSQL URL (postgres://user:password@host:5432/database); unset = the embedded database' },
  { key: 'databaseWaitMs', name: 'database_wait', env: 'VERDICT_DATABASE_WAIT', kind: 'duration', default: 60_000, help: 'how long start-up waits for an unreachable PostgreSQL, retrying, before it gives up (0 = not at all)' },
  { key: 'dataDir', name: 'data_dir', env: 'VERDICT_DATA_DIR', kind: 'path', default: './verdict-data', help: 'where the embedded database keeps its files' },
  { key: 'pgPort', name: 'pg_port', env: 'VERDICT_PG_PORT', kind: 'port', default: 5433, help: 'PostgreSQL wire port of the embedded database, for psql and Grafana (0 = off)' },
  { key: 'pgHost', name: 'pg_host', env: 'VERDICT_PG_HOST', kind: 'string', default: '127.0.0.1', help: "address the embedded database's wire port listens on (independent of --host)" },
  { key: 'pgPasswordFile', name: 'pg_password_file', env: 'VERDICT_PG_PASSWORD_FILE', kind: 'path', default: null, help: "the wire port's password (owner-only file; made if missing); default: pg-password in --data-dir" },
  { key: 'maxBodyBytes', name: 'max_body_size', env: 'VERDICT_MAX_BODY_SIZE', kind: 'bytes', default: 64 * 1024 * 1024, help: 'largest request, after decompression (e.g. 64MiB)' },
  { key: 'maxInflateRatio', name: 'max_inflate_ratio', env: 'VERDICT_MAX_INFLATE_RATIO', kind: 'int', default: 200, help: 'a compressed HTTP body may inflate to this many times its size (bodies under 1MiB inflated: any ratio)' },
  { key: 'maxReceivingBytes', name: 'max_receiving_size', env: 'VERDICT_MAX_RECEIVING_SIZE', kind: 'bytes', default: 256 * 1024 * 1024, help: 'request bytes being received at once, all connections together, before new bodies get "slow down"' },
  { key: 'maxReceivingPerConnection', name: 'max_receiving_per_connection', env: 'VERDICT_MAX_RECEIVING_PER_CONNECTION', kind: 'bytes', default: 128 * 1024 * 1024, help: 'request bytes one connection may have being received (at least --max-body-size)' },
  { key: 'minReceiveRate', name: 'min_receive_rate', env: 'VERDICT_MIN_RECEIVE_RATE', kind: 'bytes', default: 4096, help: 'bytes a second a body must average after its first 5s, else it is cut (408 / DEADLINE_EXCEEDED)' },
  { key: 'receiveTimeoutMs', name: 'receive_timeout', env: 'VERDICT_RECEIVE_TIMEOUT', kind: 'duration', default: 60_000, help: 'longest a request body or gRPC message may take to arrive whole (408 / DEADLINE_EXCEEDED)' },
  { key: 'logLevel', name: 'log_level', env: 'VERDICT_LOG_LEVEL', kind: 'level', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
  { key: 'logFormat', name: 'log_format', env: 'VERDICT_LOG_FORMAT', kind: 'format', default: 'auto', help: 'text (for people), json (JSON lines) or auto: text on a terminal, else json' },
  { key: 'writeTimeoutMs', name: 'write_timeout', env: 'VERDICT_WRITE_TIMEOUT', kind: 'duration', default: 5000, help: 'a database write taking longer is abandoned and answered "retry" (e.g. 5s)' },
  { key: 'shutdownTimeoutMs', name: 'shutdown_timeout', env: 'VERDICT_SHUTDOWN_TIMEOUT', kind: 'duration', default: 20000, help: 'longest wait for in-flight exports on SIGTERM' },
  { key: 'batchMaxRows', name: 'batch_max_rows', env: 'VERDICT_BATCH_MAX_ROWS', kind: 'int', default: 4096, help: 'rows per write transaction to aim for' },
  { key: 'batchMaxWaitMs', name: 'batch_max_wait', env: 'VERDICT_BATCH_MAX_WAIT', kind: 'duration', default: 2, help: 'how long a free writer waits for more requests (e.g. 2ms)' },
  { key: 'writers', name: 'writers', env: 'VERDICT_WRITERS', kind: 'int', default: 2, help: 'write transactions in flight at once (the embedded database always uses 1)' },
  { key: 'maxInflightRows', name: 'max_inflight_rows', env: 'VERDICT_MAX_INFLIGHT_ROWS', kind: 'int', default: 100_000, help: 'rows queued or being written before new exports get "slow down"' },
  { key: 'maxInflightBytes', name: 'max_inflight_size', env: 'VERDICT_MAX_INFLIGHT_SIZE', kind: 'bytes', default: 96 * 1024 * 1024, help: 'request bytes queued or being written before new exports get "slow down"' },
  { key: 'rulesFile', name: 'rules', env: 'VERDICT_RULES', kind: 'path', default: null, help: 'YAML file of deterministic rules run on every span and log record' },
  { key: 'authTokens', name: 'auth_tokens', env: 'VERDICT_AUTH_TOKENS', kind: 'list', default: [], help: 'comma-separated bearer tokens; when set, ingest and feedback need one' },
  { key: 'authTokenFile', name: 'auth_token_file', env: 'VERDICT_AUTH_TOKEN_FILE', kind: 'path', default: null, help: 'file with one bearer token per line' },
  { key: 'corsOrigins', name: 'cors_origins', env: 'VERDICT_CORS_ORIGINS', kind: 'list', default: [], help: 'comma-separated browser origins allowed to call /v1/* (e.g. https://app.example.com)' },
  { key: 'tlsCert', name: 'tls_cert', env: 'VERDICT_TLS_CERT', kind: 'path', default: null, help: 'PEM certificate file: serve gRPC and HTTP over TLS' },
  { key: 'tlsKey', name: 'tls_key', env: 'VERDICT_TLS_KEY', kind: 'path', default: null, help: 'PEM private key file for --tls-cert' },
];

/** YAML keys that are structured sections rather than settings. */
const SECTIONS = new Set(['feedback', 'learning_loop', 'review', 'evaluators']);

export { ConfigError };

export const flagName = (s: Setting): string => `--${s.name.replaceAll('_', '-')}`;

export interface ConfigSources {
  /** Flags after the command word; or `flags`, already parsed by parseCommandLine. */
  argv?: readonly string[];
  flags?: Readonly<Record<string, string | boolean | undefined>>;
  env: Readonly<Record<string, string | undefined>>;
}

/** The flags of every setting, for node:util parseArgs (`--http-port 4318` or `--http-port=4318`). */
const SETTING_OPTIONS: ParseArgsOptionsConfig = Object.fromEntries([
  ['config', { type: 'string' }],
  ...SETTINGS.map((s) => [flagName(s).slice(2), { type: 'string' }]),
]);

export interface CommandLine {
  /** Values by flag name without dashes (`http-port`). */
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses a command line with the settings' flags plus a command's own
 * (`extra`), turning parseArgs's errors into one line that names the flag.
 */
export function parseCommandLine(argv: readonly string[], extra: ParseArgsOptionsConfig = {}, positionals = false): CommandLine {
  try {
    const r = parseArgs({ args: [...argv], options: { ...SETTING_OPTIONS, ...extra }, strict: true, allowPositionals: positionals });
    return { values: r.values as CommandLine['values'], positionals: r.positionals };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const flag = /'(-[-\w]+)/.exec(e.message)?.[1] ?? '';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new ConfigError(`unknown option ${flag}; see verdict --help`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new ConfigError(extra[flag.slice(2)]?.type === 'boolean' ? `option ${flag} takes no value` : `option ${flag} needs a value`);
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new ConfigError(`unexpected argument ${JSON.stringify(/'([^']*)'/.exec(e.message)?.[1] ?? '')}; see verdict --help`);
    }
    throw err;
  }
}

/** Reads the settings from flags, the environment and the file they name, and builds the Config. */
export function loadConfig({ argv, flags: given, env }: ConfigSources): Config {
  const flags = new Map<string, string>();
  for (const [k, v] of Object.entries(given ?? parseCommandLine(argv ?? []).values)) {
    if (typeof v === 'string') flags.set(k.replaceAll('-', '_'), v);
  }
  const file = flags.get('config') ?? env.VERDICT_CONFIG;
  flags.delete('config');
  const fromFile = file ? readConfigFile(file) : {};
  let feedback: FeedbackConfig;
  let learningLoop: LoopConfig;
  let review: ReviewConfig;
  let evaluators: readonly Evaluator[];
  try {
    feedback = parseFeedbackConfig(fromFile.feedback);
    learningLoop = parseLoopConfig(fromFile.learning_loop);
    review = parseReviewConfig(fromFile.review);
    evaluators = parseEvaluators(fromFile.evaluators, env);
  } catch (err) {
    throw err instanceof ConfigError && file ? new ConfigError(`${err.message} (in ${file})`) : err;
  }
  const out: Record<string, unknown> = { feedback, learningLoop, review, evaluators, configFile: file ?? null };
  for (const s of SETTINGS) {
    let raw: unknown = s.default;
    let origin = 'default';
    if (fromFile[s.name] !== undefined) [raw, origin] = [fromFile[s.name], `${s.name} in ${file}`];
    if (env[s.env] !== undefined && env[s.env] !== '') [raw, origin] = [env[s.env], s.env];
    if (flags.has(s.name)) [raw, origin] = [flags.get(s.name), flagName(s)];
    out[s.key] = raw === null ? null : coerce(s, raw, origin);
  }
  const cfg = out as unknown as Config;
  if ((cfg.tlsCert === null) !== (cfg.tlsKey === null)) throw new ConfigError('--tls-cert and --tls-key must be given together');
  if (cfg.maxReceivingPerConnection < cfg.maxBodyBytes) {
    throw new ConfigError(`--max-receiving-per-connection (${cfg.maxReceivingPerConnection} bytes) must be at least --max-body-size (${cfg.maxBodyBytes} bytes): a connection could not send one whole request`);
  }
  return Object.freeze(cfg);
}

export function readConfigFile(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must hold a mapping of settings`);
  const known = new Set(SETTINGS.map((s) => s.name));
  for (const key of Object.keys(doc)) {
    if (!known.has(key) && !SECTIONS.has(key)) throw new ConfigError(`config file ${path} has an unknown setting ${JSON.stringify(key)}`);
  }
  return doc as Record<string, unknown>;
}

const UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
const DURATIONS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const FORMATS = ['text', 'json', 'auto'];

function coerce(s: Setting, raw: unknown, origin: string): unknown {
  const bad = (expected: string) => new ConfigError(`invalid ${origin}: ${JSON.stringify(String(raw))} is not ${expected}`);
  const text = typeof raw === 'number' ? String(raw) : raw;
  switch (s.kind) {
    case 'string':
    case 'path':
      if (typeof text !== 'string' || text === '') throw bad('a non-empty string');
      return text;
    case 'port': {
      const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= 0 && n <= 65535)) throw bad('a port number (0-65535)');
      return n;
    }
    case 'int': {
      const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!(n >= 1 && Number.isSafeInteger(n))) throw bad('a positive integer');
      return n;
    }
    case 'bytes': {
      const m = typeof text === 'string' ? /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim()) : null;
      const unit = UNITS[(m?.[2] || 'b').toLowerCase()];
      if (!m || unit === undefined || Number(m[1]) * unit < 1) throw bad('a size such as 65536, 64KiB or 64MiB');
      return Math.floor(Number(m[1]) * unit);
    }
    case 'duration': {
      const m = typeof text === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim()) : null;
      if (!m) throw bad('a duration such as 500ms, 5s or 1m');
      return Math.round(Number(m[1]) * (DURATIONS[m[2] ?? 'ms'] as number));
    }
    case 'level':
      if (typeof text !== 'string' || !LEVELS.includes(text)) throw bad(`one of ${LEVELS.join(', ')}`);
      return text;
    case 'format':
      if (typeof text !== 'string' || !FORMATS.includes(text)) throw bad(`one of ${FORMATS.join(', ')}`);
      return text;
    case 'url': {
      // The value is not quoted back: it may hold a password.
      const invalid = (why: string) => new ConfigError(`invalid ${origin}: ${why}; expected a URL such as postgres://user:password@host:5432/database`);
      if (typeof text !== 'string' || text === '') throw invalid('it is empty');
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw invalid(`${JSON.stringify(withoutPassword(text))} is not a URL`);
      }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw invalid(`the scheme is ${JSON.stringify(url.protocol.slice(0, -1))}, not postgres`);
      // A socket directory may stand in for the host (postgres:///db?host=/var/run/postgresql).
      if (url.hostname === '' && !url.searchParams.has('host')) throw invalid('it names no host');
      return text;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : typeof text === 'string' ? text.split(',') : null;
      if (!items) throw bad('a comma-separated list');
      return Object.freeze(items.map((x) => x.trim()).filter((x) => x !== ''));
    }
  }
}

/** The text with any password in a URL (user:password@) replaced by ***. */
export function withoutPassword(text: string): string {
  return text.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
}

/** The settings every command takes, for `--help`. */
export function settingsHelp(): string {
  const rows = SETTINGS.map((s) => {
    const def = s.default === null ? '' : ` (default ${Array.isArray(s.default) ? 'none' : String(s.default)})`;
    return `  ${`${flagName(s)} <value>`.padEnd(28)} ${s.help}${def}\n  ${''.padEnd(28)} env ${s.env}, file key ${s.name}`;
  });
  return `Settings (flags override environment variables, which override the --config file):
  ${'--config <file>'.padEnd(28)} YAML file of settings (env VERDICT_CONFIG)
${rows.join('\n')}
`;
}
