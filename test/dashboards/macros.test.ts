/**
 * The test expander (test/helpers/grafana-macros.ts) against the expansions
 * Grafana documents and implements: the PostgreSQL macro engine
 * (pkg/tsdb/grafana-postgresql-datasource/macros.go), the SQL engine's global
 * substitutions (sqleng/sql_engine.go `Interpolate`), the browser's variable
 * interpolation for SQL data sources (packages/grafana-sql SqlDatasource
 * `interpolateVariable`, formatRegistry), and grafana-plugin-sdk-go's gtime.
 */
import { describe, expect, it } from 'vitest';
import {
  expandMacros,
  expandQuery,
  formatInterval,
  goFloat,
  interpolateGlobal,
  interpolateVariables,
  MacroError,
  panelInterval,
  parseInterval,
  rfc3339Nano,
  type ExpandOptions,
  type Variable,
} from '../helpers/grafana-macros.ts';

// 2026-03-02T08:00:00Z .. 09:00:00.5Z
const FROM = new Date(Date.UTC(2026, 2, 2, 8, 0, 0));
const TO = new Date(Date.UTC(2026, 2, 2, 9, 0, 0, 500));
const opts = (variables: Variable[] = [], intervalMs = 300_000): ExpandOptions => ({ range: { from: FROM, to: TO }, intervalMs, variables });
const macro = (sql: string) => expandMacros(sql, opts()).sql;

describe('PostgreSQL macros (macros.go)', () => {
  it('expands the time macros with RFC 3339 UTC times', () => {
    expect(macro('SELECT $__time(ts)')).toBe('SELECT ts AS "time"');
    expect(macro('SELECT $__timeEpoch(ts)')).toBe('SELECT extract(epoch from ts) as "time"');
    expect(macro('WHERE $__timeFilter(e.time)')).toBe(`WHERE e.time BETWEEN '2026-03-02T08:00:00Z' AND '2026-03-02T09:00:00.5Z'`);
    expect(macro('WHERE t > $__timeFrom() AND t < $__timeTo()')).toBe(`WHERE t > '2026-03-02T08:00:00Z' AND t < '2026-03-02T09:00:00.5Z'`);
  });

  it('groups by time in epoch seconds, with and without the "time" alias', () => {
    expect(macro(`$__timeGroup(start_time,'5m')`)).toBe('floor(extract(epoch from start_time)/300)*300');
    expect(macro(`$__timeGroupAlias(start_time, '1m')`)).toBe('floor(extract(epoch from start_time)/60)*60 AS "time"');
    expect(macro(`$__timeGroupAlias(t, 1h)`)).toBe('floor(extract(epoch from t)/3600)*3600 AS "time"');
    expect(macro(`$__timeGroupAlias(t, '1d')`)).toBe('floor(extract(epoch from t)/86400)*86400 AS "time"');
    expect(macro(`$__timeGroupAlias(t, '1w')`)).toBe('floor(extract(epoch from t)/604800)*604800 AS "time"');
    expect(macro(`$__timeGroupAlias(t, '500ms')`)).toBe('floor(extract(epoch from t)/0.5)*0.5 AS "time"');
    expect(macro(`$__timeGroupAlias(t, '1h30m')`)).toBe('floor(extract(epoch from t)/5400)*5400 AS "time"');
    // Go prints float64 seconds with %v: exponent form from 1e6 on.
    expect(macro(`$__timeGroupAlias(t, '30d')`)).toBe('floor(extract(epoch from t)/2.592e+06)*2.592e+06 AS "time"');
  });

  it('adds the alias to a $__timeGroup followed by a comma (pre-5.3 dashboards), not to one followed by anything else', () => {
    expect(macro(`SELECT $__timeGroup(t,'1m'), count(*) FROM x GROUP BY 1`)).toBe('SELECT floor(extract(epoch from t)/60)*60 AS "time", count(*) FROM x GROUP BY 1');
    expect(macro(`SELECT row_number() OVER (ORDER BY $__timeGroup(t,'1m'))`)).toBe('SELECT row_number() OVER (ORDER BY floor(extract(epoch from t)/60)*60)');
  });

  it('records a fill mode for Grafana to apply', () => {
    expect(expandMacros(`$__timeGroupAlias(t, '5m', 0)`, opts())).toEqual({ sql: 'floor(extract(epoch from t)/300)*300 AS "time"', fill: { intervalSeconds: 300, mode: 'value', value: 0 } });
    expect(expandMacros(`$__timeGroupAlias(t, '1m', NULL)`, opts()).fill).toEqual({ intervalSeconds: 60, mode: 'null' });
    expect(expandMacros(`$__timeGroupAlias(t, '1m', previous)`, opts()).fill).toEqual({ intervalSeconds: 60, mode: 'previous' });
    expect(expandMacros(`$__timeGroupAlias(t, '1m')`, opts()).fill).toBeNull();
    expect(() => macro(`$__timeGroupAlias(t, '1m', zero)`)).toThrow('error parsing fill value zero');
  });

  it('expands the epoch macros for numeric time columns', () => {
    expect(macro('$__unixEpochFilter(ts)')).toBe('ts >= 1772438400 AND ts <= 1772442000');
    expect(macro('$__unixEpochNanoFilter(ns)')).toBe('ns >= 1772438400000000000 AND ns <= 1772442000500000000');
    expect(macro('$__unixEpochNanoFrom() $__unixEpochNanoTo()')).toBe('1772438400000000000 1772442000500000000');
    expect(macro(`$__unixEpochGroup(ts, '5m')`)).toBe('floor((ts)/300)*300');
    expect(macro(`$__unixEpochGroupAlias(ts, '5m')`)).toBe('floor((ts)/300)*300 AS "time"');
  });

  it('refuses unknown macros and missing arguments, as Grafana does', () => {
    expect(() => macro('$__nope(x)')).toThrow(MacroError);
    expect(() => macro('$__nope(x)')).toThrow('unknown macro "__nope"');
    expect(() => macro(`$__timeGroup(t)`)).toThrow('needs time column and interval');
    expect(() => macro(`$__timeGroupAlias(t, 'five minutes')`)).toThrow('error parsing interval');
    expect(() => macro('$__timeFilter()')).toThrow('missing time column argument');
  });

  it('leaves a dollar sign that is not a macro call alone', () => {
    expect(macro(`SELECT regexp_replace(x, '(a)', '\\1'), $$body$$ FROM t`)).toBe(`SELECT regexp_replace(x, '(a)', '\\1'), $$body$$ FROM t`);
  });
});

describe('global substitutions (sqleng Interpolate)', () => {
  it('replaces $__interval_ms before $__interval, and the epoch bounds', () => {
    expect(interpolateGlobal('$__interval_ms $__interval $__unixEpochFrom() $__unixEpochTo()', opts([], 90_000))).toBe('90000 1m 1772438400 1772442000');
  });
});

describe('gtime and Go formatting', () => {
  it('formats an interval in its largest whole unit', () => {
    expect([999, 1000, 1500, 59_999, 60_000, 90_000, 3_600_000, 2 * 86_400_000, 400 * 86_400_000, 0.5].map(formatInterval)).toEqual(['999ms', '1s', '1s', '59s', '1m', '1m', '1h', '2d', '1y', '1ms']);
  });

  it('parses Go durations and day/week/month/year intervals', () => {
    expect(parseInterval('5m')).toBe(300_000);
    expect(parseInterval('1h30m')).toBe(5_400_000);
    expect(parseInterval('1.5h')).toBe(5_400_000);
    expect(parseInterval('250ms')).toBe(250);
    expect(parseInterval('0')).toBe(0);
    expect(parseInterval('2d')).toBe(2 * 86_400_000);
    expect(parseInterval('1w')).toBe(7 * 86_400_000);
    // A month from now, by the calendar (UTC), like gtime.ParseInterval.
    expect(parseInterval('1M', new Date(Date.UTC(2026, 1, 1)))).toBe(28 * 86_400_000);
    expect(parseInterval('1y', new Date(Date.UTC(2028, 0, 1)))).toBe(366 * 86_400_000);
    for (const bad of ['', 'm', '5', '5x', '1m junk']) expect(() => parseInterval(bad), bad).toThrow(MacroError);
  });

  it('gives a panel the rounded range/points interval, not below its minimum', () => {
    const hours = (h: number) => ({ from: FROM, to: new Date(FROM.getTime() + h * 3_600_000) });
    expect(panelInterval(hours(6))).toBe(20_000);
    expect(panelInterval(hours(6), '1m')).toBe(60_000);
    expect(panelInterval(hours(24 * 7))).toBe(600_000);
    expect(panelInterval(hours(24 * 7), '30m')).toBe(1_800_000);
  });

  it('prints floats like Go %v and times like RFC3339Nano', () => {
    expect([60, 0.5, 999_999, 1e6, 2_592_000, 123_456_789, 0.0001, 0.00001].map(goFloat)).toEqual(['60', '0.5', '999999', '1e+06', '2.592e+06', '1.23456789e+08', '0.0001', '1e-05']);
    expect(rfc3339Nano(new Date(Date.UTC(2026, 2, 2, 8, 0, 0, 120)))).toBe('2026-03-02T08:00:00.12Z');
    expect(rfc3339Nano(new Date(Date.UTC(2026, 2, 2, 8, 0, 0, 0)))).toBe('2026-03-02T08:00:00Z');
  });
});

describe('template variables (SqlDatasource.interpolateVariable, formatRegistry)', () => {
  const service: Variable = { name: 'service', value: ['support-agent', "o'brien"], multi: true, includeAll: true, allValue: "'__all'", options: ['support-agent', "o'brien", 'judge'] };
  const expand = (sql: string, vars: Variable[]) => interpolateVariables(sql, opts(vars));

  it('inserts a single value with quotes doubled but no quotes around it', () => {
    const traceId: Variable = { name: 'trace_id', value: "ab' OR '1'='1" };
    expect(expand(`WHERE trace_id = '\${trace_id}'`, [traceId])).toBe(`WHERE trace_id = 'ab'' OR ''1''=''1'`);
    expect(expand(`WHERE trace_id = '$trace_id'`, [traceId])).toBe(`WHERE trace_id = 'ab'' OR ''1''=''1'`);
    expect(expand(`WHERE trace_id = '[[trace_id]]'`, [traceId])).toBe(`WHERE trace_id = 'ab'' OR ''1''=''1'`);
  });

  it('quotes and joins multi-value and include-All variables', () => {
    expect(expand('IN ($service)', [service])).toBe(`IN ('support-agent','o''brien')`);
    expect(expand('IN ($service)', [{ ...service, value: ['judge'] }])).toBe(`IN ('judge')`);
    // A single string value of an include-All variable is quoted too.
    expect(expand('IN ($service)', [{ ...service, value: 'judge' }])).toBe(`IN ('judge')`);
  });

  it('inserts a custom all value as it is, and every option when there is none', () => {
    expect(expand(`('__all' IN ($service) OR s IN ($service))`, [{ ...service, value: ['$__all'] }])).toBe(`('__all' IN ('__all') OR s IN ('__all'))`);
    expect(expand('IN ($service)', [{ ...service, value: '$__all', allValue: null }])).toBe(`IN ('support-agent','o''brien','judge')`);
    expect(() => expand('$x', [{ name: 'x', value: '$__all' }])).toThrow('includeAll is off');
  });

  it('applies explicit formats', () => {
    expect(expand('${service:csv}', [service])).toBe(`support-agent,o'brien`);
    expect(expand('${service:sqlstring}', [service])).toBe(`'support-agent','o''brien'`);
    expect(expand('${service:singlequote}', [service])).toBe(`'support-agent','o\\'brien'`);
    expect(expand('${service:doublequote}', [service])).toBe(`"support-agent","o'brien"`);
    expect(expand('${service:pipe}', [service])).toBe(`support-agent|o'brien`);
    expect(expand('${service:json}', [service])).toBe(`["support-agent","o'brien"]`);
    expect(expand('[[service:csv]]', [service])).toBe(`support-agent,o'brien`);
    expect(expand('${service:csv}', [{ ...service, value: ['$__all'], allValue: null }])).toBe(`support-agent,o'brien,judge`);
    expect(() => expand('${service:lucene}', [service])).toThrow('not supported');
  });

  it('knows the built-in interval and range variables, and leaves unknown names and macros alone', () => {
    expect(interpolateVariables('$__interval $__interval_ms ${__from} ${__to}', opts([], 60_000))).toBe('1m 60000 1772438400000 1772442000500');
    expect(expand('$nope ${nope} $1 $__timeFilter(t)', [service])).toBe('$nope ${nope} $1 $__timeFilter(t)');
  });
});

describe('the whole expansion, in Grafana order', () => {
  it('turns a dashboard query into the SQL PostgreSQL receives', () => {
    const sql = `SELECT $__timeGroupAlias(start_time, $__interval, 0), count(*) / ($__interval_ms / 60000.0) AS "spans / min"
FROM verdict.spans WHERE $__timeFilter(start_time) AND ('__all' IN ($service) OR service_name IN ($service)) GROUP BY 1 ORDER BY 1`;
    const out = expandQuery(sql, opts([{ name: 'service', value: ['a', 'b'], multi: true, includeAll: true, allValue: "'__all'" }], 300_000));
    expect(out.sql).toBe(`SELECT floor(extract(epoch from start_time)/300)*300 AS "time", count(*) / (300000 / 60000.0) AS "spans / min"
FROM verdict.spans WHERE start_time BETWEEN '2026-03-02T08:00:00Z' AND '2026-03-02T09:00:00.5Z' AND ('__all' IN ('a','b') OR service_name IN ('a','b')) GROUP BY 1 ORDER BY 1`);
    expect(out.fill).toEqual({ intervalSeconds: 300, mode: 'value', value: 0 });
  });
});
