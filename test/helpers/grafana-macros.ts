/**
 * Expands a panel's SQL the way Grafana does before the query reaches
 * PostgreSQL, so the dashboards' queries can be run in tests exactly as
 * Grafana would send them. Three passes, in Grafana's order:
 *
 * 1. Template variables, in the browser (`templateSrv.replace` with the SQL
 *    data source's `interpolateVariable`, grafana/grafana
 *    packages/grafana-sql/src/datasource/SqlDatasource.ts): `$var`, `${var}`,
 *    `[[var]]`, `${var:format}`; a single value is inserted with `'` doubled
 *    but unquoted; a multi-value or include-All variable becomes a quoted,
 *    comma-separated list; All with a custom all value inserts that value
 *    as it is; `$__interval`, `$__interval_ms`, `$__from`, `$__to` are
 *    built-in variables.
 * 2. The SQL engine's global substitutions (pkg/tsdb/grafana-postgresql-
 *    datasource/sqleng/sql_engine.go `Interpolate`): `$__interval_ms`,
 *    `$__interval`, `$__unixEpochFrom()`, `$__unixEpochTo()`.
 * 3. The PostgreSQL macro engine (…/grafana-postgresql-datasource/macros.go):
 *    every `$name(args)`; an unknown macro is an error, as in Grafana.
 *
 * This is a re-implementation from those sources' documented behaviour, not a
 * copy; `test/dashboards/macros.test.ts` pins it to their expansions.
 *
 * Also here: loading the provisioned dashboards and provisioning files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export interface TimeRange {
  from: Date;
  to: Date;
}

/** A dashboard variable as the expander needs it (a subset of Grafana's variable model). */
export interface Variable {
  name: string;
  /** The selected value(s); `$__all` (or `['$__all']`) selects All. */
  value: string | string[];
  multi?: boolean;
  includeAll?: boolean;
  /** Custom all value: inserted as it is when All is selected. */
  allValue?: string | null;
  /** Every option's value: what All means without a custom all value. */
  options?: string[];
}

export interface ExpandOptions {
  range: TimeRange;
  /** The panel's interval ($__interval), in milliseconds. */
  intervalMs: number;
  variables?: readonly Variable[];
}

export interface Expanded {
  sql: string;
  /** Set when a `$__timeGroup(col, interval, fill)` asked Grafana to fill gaps. */
  fill: { intervalSeconds: number; mode: 'null' | 'previous' | 'value'; value?: number } | null;
}

export class MacroError extends Error {}

const ALL = '$__all';

// ---------------------------------------------------------------- formatting

/** Go's time.RFC3339Nano of a UTC time: fractional seconds without trailing zeros, `Z`. */
export function rfc3339Nano(d: Date): string {
  const iso = d.toISOString(); // 2026-03-02T10:00:00.120Z
  const [whole, frac] = iso.slice(0, -1).split('.') as [string, string];
  const trimmed = frac.replace(/0+$/, '');
  return `${whole}${trimmed ? `.${trimmed}` : ''}Z`;
}

/** Go's `fmt.Sprintf("%v", float64)`: shortest digits, `e` notation when the exponent is < -4 or >= 6. */
export function goFloat(n: number): string {
  if (!Number.isFinite(n)) throw new MacroError(`not a finite number: ${n}`);
  if (n === 0) return '0';
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** grafana-plugin-sdk-go gtime.FormatInterval: the largest whole unit (y, d, h, m, s, ms). */
export function formatInterval(ms: number): string {
  const units: Array<[string, number]> = [['y', 365 * 86_400_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  for (const [unit, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return '1ms';
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** grafana-plugin-sdk-go gtime.ParseInterval, in milliseconds: Go durations, and Nd, Nw, NM, Ny from now (UTC). */
export function parseInterval(text: string, now = new Date()): number {
  const dated = /^(\d+)([dwMy])$/.exec(text);
  if (dated) {
    const n = Number(dated[1]);
    const later = new Date(now.getTime());
    if (dated[2] === 'd') later.setUTCDate(later.getUTCDate() + n);
    else if (dated[2] === 'w') later.setUTCDate(later.getUTCDate() + 7 * n);
    else if (dated[2] === 'M') later.setUTCMonth(later.getUTCMonth() + n);
    else later.setUTCFullYear(later.getUTCFullYear() + n);
    return later.getTime() - now.getTime();
  }
  // time.ParseDuration: [-+]? then one or more <decimal><unit>; a bare "0" is allowed.
  const m = /^([-+]?)(.*)$/.exec(text) as RegExpExecArray;
  const body = m[2] as string;
  if (body === '0') return 0;
  const part = /(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const p = part.exec(body);
    if (!p || p[1] === '' || p[1] === '.') throw new MacroError(`error parsing interval ${text}`);
    total += Number(p[1]) * (GO_UNITS[p[2] as string] as number);
    at = part.lastIndex;
  }
  if (body === '') throw new MacroError(`error parsing interval ${text}`);
  return m[1] === '-' ? -total : total;
}

/**
 * The interval Grafana gives a panel's query ($__interval): the range divided
 * by the points the panel can show, rounded to a round value (grafana-data
 * rangeutil `roundInterval`), and never below the panel's minimum interval.
 */
export function panelInterval(range: TimeRange, minInterval?: string, maxDataPoints = 1000): number {
  const raw = (range.to.getTime() - range.from.getTime()) / maxDataPoints;
  // [upper bound (exclusive), rounded interval] in ms, from rangeutil.roundInterval.
  const steps: Array<[number, number]> = [
    [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000], [7500, 5000],
    [12_500, 10_000], [17_500, 15_000], [25_000, 20_000], [45_000, 30_000], [90_000, 60_000], [210_000, 120_000], [450_000, 300_000],
    [750_000, 600_000], [1_050_000, 900_000], [1_500_000, 1_200_000], [2_700_000, 1_800_000], [5_400_000, 3_600_000], [9_000_000, 7_200_000],
    [16_200_000, 10_800_000], [32_400_000, 21_600_000], [86_400_000, 43_200_000], [604_800_000, 86_400_000], [1_814_400_000, 604_800_000],
    [3_628_800_000, 2_592_000_000],
  ];
  const rounded = steps.find(([limit]) => raw < limit)?.[1] ?? 31_536_000_000;
  return Math.max(rounded, minInterval ? parseInterval(minInterval) : 0);
}

// ------------------------------------------------- 1. template variables

// grafana/grafana public/app/features/variables/utils.ts `variableRegex`.
const VARIABLE = /\$(\w+)|\[\[([\s\S]+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

const sqlQuote = (v: string) => `'${v.replace(/'/g, "''")}'`;

/** The formats of Grafana's formatRegistry that make sense in SQL. */
function applyFormat(format: string, value: string | string[], variable: Variable): string {
  const list = Array.isArray(value) ? value : null;
  switch (format) {
    case 'raw':
      return list ? list.join(',') : (value as string);
    case 'csv':
      return list ? list.join(',') : (value as string);
    case 'pipe':
      return list ? list.join('|') : (value as string);
    case 'sqlstring':
      return list ? list.map(sqlQuote).join(',') : sqlQuote(value as string);
    case 'singlequote':
      return list ? list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',') : `'${(value as string).replace(/'/g, "\\'")}'`;
    case 'doublequote':
      return list ? list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',') : `"${(value as string).replace(/"/g, '\\"')}"`;
    case 'json':
      return JSON.stringify(value);
    case 'text':
      return list ? list.join(' + ') : (value as string);
    default:
      throw new MacroError(`variable format ${JSON.stringify(format)} (in $\{${variable.name}:${format}}) is not supported by the test expander`);
  }
}

/** SqlDatasource.interpolateVariable: what Grafana inserts for a variable without an explicit format. */
function sqlInterpolate(value: string | string[], variable: Variable): string {
  if (typeof value === 'string') return variable.multi || variable.includeAll ? sqlQuote(value) : value.replace(/'/g, "''");
  return value.map(sqlQuote).join(',');
}

export function interpolateVariables(sql: string, opts: ExpandOptions): string {
  const vars = new Map((opts.variables ?? []).map((v) => [v.name, v]));
  const builtins: Record<string, string> = {
    __interval: formatInterval(opts.intervalMs),
    __interval_ms: String(opts.intervalMs),
    __from: String(opts.range.from.getTime()),
    __to: String(opts.range.to.getTime()),
  };
  return sql.replace(VARIABLE, (match, g1?: string, g2?: string, g3?: string, g4?: string, g5?: string, g6?: string) => {
    const name = (g1 ?? g2 ?? g4) as string;
    const format = g3 ?? g6;
    if (g5 !== undefined) throw new MacroError(`field paths (${match}) are not supported by the test expander`);
    if (name in builtins) {
      if (format && format !== 'raw') throw new MacroError(`format ${format} on ${name} is not supported by the test expander`);
      return builtins[name] as string;
    }
    const v = vars.get(name);
    if (!v) return match; // not a variable: left for the macro engine (or as it is, like Grafana)
    let value = v.value;
    const isAll = value === ALL || (Array.isArray(value) && value[0] === ALL);
    if (isAll) {
      if (!v.includeAll) throw new MacroError(`variable ${name} has All selected but includeAll is off`);
      if (v.allValue && format !== 'text' && format !== 'percentencode') return interpolateVariables(v.allValue, opts);
      value = v.options ?? [];
    }
    return format ? applyFormat(format, value, v) : sqlInterpolate(value, v);
  });
}

// ------------------------------------------- 2. the SQL engine's globals

export function interpolateGlobal(sql: string, opts: ExpandOptions): string {
  return sql
    .replaceAll('$__interval_ms', String(opts.intervalMs))
    .replaceAll('$__interval', formatInterval(opts.intervalMs))
    .replaceAll('$__unixEpochFrom()', String(Math.floor(opts.range.from.getTime() / 1000)))
    .replaceAll('$__unixEpochTo()', String(Math.floor(opts.range.to.getTime() / 1000)));
}

// -------------------------------------------- 3. the PostgreSQL macros

const MACRO = /\$([_a-zA-Z0-9]+)\(([^)]*)\)/g;

function fillOf(intervalSeconds: number, arg: string): NonNullable<Expanded['fill']> {
  if (arg === 'NULL') return { intervalSeconds, mode: 'null' };
  if (arg === 'previous') return { intervalSeconds, mode: 'previous' };
  const value = Number(arg);
  if (arg.trim() === '' || Number.isNaN(value)) throw new MacroError(`error parsing fill value ${arg}`);
  return { intervalSeconds, mode: 'value', value };
}

export function expandMacros(sql: string, opts: ExpandOptions): Expanded {
  const from = opts.range.from;
  const to = opts.range.to;
  const epochNs = (d: Date) => (BigInt(d.getTime()) * 1_000_000n).toString();
  let fill: Expanded['fill'] = null;

  const evaluate = (name: string, args: string[]): string => {
    // Stricter than Grafana in one way: an empty column argument, which Grafana would expand into broken SQL, is an error.
    const col = () => {
      if (args.length === 0 || (args.length === 1 && args[0] === '')) throw new MacroError(`missing time column argument for macro ${name}`);
      return args[0] as string;
    };
    const group = (): number => {
      if (args.length < 2) throw new MacroError(`macro ${name} needs time column and interval and optional fill value`);
      const seconds = parseInterval((args[1] as string).replace(/^'+|'+$/g, '')) / 1000;
      if (args.length === 3) fill = fillOf(seconds, args[2] as string);
      return seconds;
    };
    switch (name) {
      case '__time':
        return `${col()} AS "time"`;
      case '__timeEpoch':
        return `extract(epoch from ${col()}) as "time"`;
      case '__timeFilter':
        return `${col()} BETWEEN '${rfc3339Nano(from)}' AND '${rfc3339Nano(to)}'`;
      case '__timeFrom':
        return `'${rfc3339Nano(from)}'`;
      case '__timeTo':
        return `'${rfc3339Nano(to)}'`;
      case '__timeGroup': {
        const s = goFloat(group());
        return `floor(extract(epoch from ${args[0]})/${s})*${s}`;
      }
      case '__timeGroupAlias':
        return `${evaluate('__timeGroup', args)} AS "time"`;
      case '__unixEpochFilter':
        return `${col()} >= ${Math.floor(from.getTime() / 1000)} AND ${col()} <= ${Math.floor(to.getTime() / 1000)}`;
      case '__unixEpochNanoFilter':
        return `${col()} >= ${epochNs(from)} AND ${col()} <= ${epochNs(to)}`;
      case '__unixEpochNanoFrom':
        return epochNs(from);
      case '__unixEpochNanoTo':
        return epochNs(to);
      case '__unixEpochGroup': {
        const s = goFloat(group());
        return `floor((${args[0]})/${s})*${s}`;
      }
      case '__unixEpochGroupAlias':
        return `${evaluate('__unixEpochGroup', args)} AS "time"`;
      default:
        throw new MacroError(`unknown macro "${name}"`);
    }
  };

  const out = sql.replace(MACRO, (whole: string, rawName: string, rawArgs: string) => {
    let name = rawName;
    // pre-5.3 compatibility: `$__timeGroup(...)` directly followed by ',' (checked at its first occurrence) gets the alias.
    if (name === '__timeGroup') {
      const at = sql.indexOf(whole);
      if (at >= 0 && sql[at + whole.length] === ',') name = '__timeGroupAlias';
    }
    // strings.Trim(arg, " "): spaces only, as in macros.go.
    return evaluate(name, rawArgs.split(',').map((a) => a.replace(/^ +| +$/g, '')));
  });
  return { sql: out, fill };
}

/** All three passes, in Grafana's order. */
export function expandQuery(sql: string, opts: ExpandOptions): Expanded {
  return expandMacros(interpolateGlobal(interpolateVariables(sql, opts), opts), opts);
}

// ------------------------------------------------ the provisioned files

export const GRAFANA_DIR = fileURLToPath(new URL('../../grafana/', import.meta.url));

export interface Target {
  refId: string;
  datasource?: { type: string; uid: string };
  rawSql: string;
  format: string;
  rawQuery: boolean;
  editorMode: string;
}

export interface Override {
  matcher: { id: string; options: string };
  properties: Array<{ id: string; value: any }>;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  /** The panel's minimum interval ("1m"). */
  interval?: string;
  /** Points a chart asks for; with the range, it sets $__interval. */
  maxDataPoints?: number;
  targets?: Target[];
  fieldConfig?: { defaults: Record<string, any>; overrides: Override[] };
  options?: Record<string, any>;
  /** A collapsed row's panels. */
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  tags?: string[];
  id?: number | null;
  panels: Panel[];
  templating: { list: Array<Record<string, any>> };
}

/** grafana/dashboards/*.json, by file name. */
export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  const dir = join(GRAFANA_DIR, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard }));
}

/** Every panel, including those inside collapsed rows; rows themselves left out. */
export const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

/** A provisioning YAML file under grafana/provisioning/. */
export function provisioning(kind: 'datasources' | 'dashboards' | 'alerting'): Array<{ file: string; doc: Record<string, any> }> {
  const dir = join(GRAFANA_DIR, 'provisioning', kind);
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((file) => ({ file, doc: parseYaml(readFileSync(join(dir, file), 'utf8')) as Record<string, any> }));
}
