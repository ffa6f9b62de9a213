/**
 * The Grafana provisioning files and dashboard JSON, checked for structure
 * (the queries themselves run in panels.test.ts): one PostgreSQL data source
 * under the plugin id `grafana-postgresql-datasource` with its database in
 * jsonData, every panel and query referring to it by uid, queries in the
 * shape Grafana's SQL editor saves, sane layout, and data links that land on
 * a dashboard and variable that exist.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GRAFANA_DIR, loadDashboards, panelsOf, provisioning } from '../helpers/grafana-macros.ts';

const TYPE = 'grafana-postgresql-datasource';
const KNOWN_PANELS = new Set(['timeseries', 'table', 'stat', 'bargauge', 'barchart', 'traces', 'row', 'text']);

describe('data source provisioning', () => {
  it('declares one PostgreSQL data source, by plugin id and fixed uid, with its database in jsonData', () => {
    expect(provisioning('datasources')).toHaveLength(1);
    const file = provisioning('datasources')[0]!.doc;
    expect(file.apiVersion).toBe(1);
    expect(file.datasources).toHaveLength(1);
    const ds = file.datasources[0];
    expect(ds.type).toBe(TYPE);
    expect(ds.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    // host:port without a scheme.
    expect(ds.url).toMatch(/^[a-z0-9.-]+:\d+$/);
    expect(typeof ds.user).toBe('string');
    expect(ds.jsonData.database).toEqual(expect.any(String));
    // The legacy top-level field breaks queries with the new plugin id (grafana/grafana#132582).
    expect(ds).not.toHaveProperty('database');
    expect(ds).not.toHaveProperty('password');
    // The password comes from the environment, not the file.
    expect(ds.secureJsonData.password).toMatch(/^(\$\{[A-Z_]+\}|\$__env\{[A-Z_]+\}|\$[A-Z_]+)$/);
    expect(ds.editable).toBe(false);
  });
});

describe('dashboard provisioning', () => {
  it('loads the dashboards from one file provider into a Verdict folder, read-only', () => {
    expect(provisioning('dashboards')).toHaveLength(1);
    const file = provisioning('dashboards')[0]!.doc;
    expect(file.apiVersion).toBe(1);
    expect(file.providers).toHaveLength(1);
    const p = file.providers[0];
    expect(p).toMatchObject({ type: 'file', folder: 'Verdict', allowUiUpdates: false });
    expect(p.options.path).toMatch(/^\/[\w/.-]+$/);
  });
});

describe.each(loadDashboards())('dashboard $file', ({ file, dashboard }) => {
  const dsUid = (provisioning('datasources')[0]!.doc.datasources[0] as { uid: string }).uid;
  const panels = panelsOf(dashboard);

  it('has a uid, a title, the verdict tag and no numeric id', () => {
    expect(dashboard.uid).toMatch(/^verdict-[a-z-]+$/);
    expect(dashboard.title).toMatch(/^Verdict \/ /);
    expect(dashboard.tags).toContain('verdict');
    expect(dashboard.id ?? null).toBeNull();
    expect(file).toMatch(/^[a-z-]+\.json$/);
  });

  it('refers every panel, query and query variable to the provisioned data source by type and uid', () => {
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(KNOWN_PANELS.has(p.type), `${p.title}: panel type ${p.type}`).toBe(true);
      if (p.type === 'text') continue;
      expect(p.datasource, p.title).toEqual({ type: TYPE, uid: dsUid });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual({ type: TYPE, uid: dsUid });
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) expect(v.datasource, v.name).toEqual({ type: TYPE, uid: dsUid });
  });

  it('saves every query in code mode, raw SQL, in the format its panel type reads', () => {
    for (const p of panels.filter((p) => p.targets)) {
      const refIds = new Set<string>();
      for (const t of p.targets ?? []) {
        expect(t, p.title).toMatchObject({ editorMode: 'code', rawQuery: true });
        expect(t.rawSql.trim().length, p.title).toBeGreaterThan(0);
        expect(refIds.has(t.refId), `${p.title}: duplicate refId ${t.refId}`).toBe(false);
        refIds.add(t.refId);
        expect(t.format, p.title).toBe(p.type === 'timeseries' ? 'time_series' : 'table');
        if (p.type === 'timeseries') {
          // A "time" column first, and rows sorted by it: Grafana refuses unsorted long series, and the
          // database may happen to return them sorted in a test, so the ORDER BY is checked here.
          expect(t.rawSql, p.title).toMatch(/^(WITH [\s\S]*\)\s*)?SELECT\s+\$__timeGroupAlias\(/);
          expect(t.rawSql, p.title).toMatch(/\nORDER BY (1|"time")(, [^\n]*)?$/);
        }
      }
    }
  });

  it('uses $__timeFilter in every query except the ones about one trace', () => {
    for (const p of panels.filter((p) => p.targets)) {
      for (const t of p.targets ?? []) {
        const oneTrace = /trace_id = '\$\{trace_id\}'/.test(t.rawSql);
        // A linked trace may lie outside the dashboard's range: never filter it by time.
        if (oneTrace) expect(t.rawSql, p.title).not.toMatch(/\$__time(Filter|From|To)/);
        else expect(t.rawSql, p.title).toMatch(/\$__timeFilter\(/);
      }
    }
  });

  it('lays panels out on the 24-column grid without overlaps, with unique ids', () => {
    const ids = new Set<number>();
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      expect(ids.has(p.id), `duplicate panel id ${p.id}`).toBe(false);
      ids.add(p.id);
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      expect(g.w * g.h, p.title).toBeGreaterThan(0);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = cells.get(`${x},${y}`);
          expect(other, `${p.title} overlaps ${other}`).toBeUndefined();
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
  });

  it('declares the variables its queries use', () => {
    const declared = new Set(dashboard.templating.list.map((v) => v.name as string));
    const undeclared: string[] = [];
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        for (const m of t.rawSql.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)(?!\()|\[\[(\w+)/g)) {
          const name = (m[1] ?? m[2] ?? m[3]) as string;
          if (name.startsWith('__')) continue; // built-ins ($__interval) and macros
          if (!declared.has(name)) undeclared.push(`${p.title}: $${name}`);
        }
      }
    }
    expect(undeclared, 'variables used but not declared').toEqual([]);
  });

  it('links trace IDs to the Trace dashboard, filling in a variable it has', () => {
    const dashboards = new Map(loadDashboards().map((d) => [d.dashboard.uid, d.dashboard]));
    const links = panels.flatMap((p) => (p.fieldConfig?.overrides ?? []).flatMap((o) => o.properties.filter((x) => x.id === 'links').flatMap((x) => x.value as Array<{ url: string }>)));
    // Besides dashboards, a link may open a run's review page on Verdict itself, at the dashboard's Verdict URL.
    const review = links.filter((l) => l.url.includes('/review/'));
    for (const link of review) {
      expect(link.url).toBe('${verdict_url}/review/trace/${__value.raw}');
      expect(dashboard.templating.list.find((v) => v.name === 'verdict_url'), link.url).toMatchObject({ type: 'textbox' });
    }
    for (const link of links.filter((l) => !review.includes(l))) {
      const m = /^\/d\/([\w-]+)\/[\w-]+\?(.*)$/.exec(link.url);
      expect(m, link.url).not.toBeNull();
      const target = dashboards.get(m![1] as string);
      expect(target, link.url).toBeDefined();
      const params = new URLSearchParams((m![2] as string).replaceAll('${__url_time_range}', ''));
      for (const key of [...params.keys()].filter((k) => k.startsWith('var-'))) {
        expect(target!.templating.list.map((v) => v.name), link.url).toContain(key.slice(4));
      }
    }
    for (const link of links) expect(link.url).toContain('${__value.raw}');
    for (const link of links.filter((l) => !review.includes(l))) expect(link.url).toContain('var-trace_id=${__value.raw}');
  });
});

describe('the dashboards as a set', () => {
  it('has the Overview, Trace, Feedback sources, Learning loop and Evaluators dashboards, with distinct uids, and a trace_id variable on the Trace one', () => {
    const all = loadDashboards().map((d) => d.dashboard);
    expect(all.map((d) => d.uid).sort()).toEqual(['verdict-evaluators', 'verdict-feedback', 'verdict-loop', 'verdict-overview', 'verdict-trace']);
    const trace = all.find((d) => d.uid === 'verdict-trace')!;
    expect(trace.templating.list.find((v) => v.name === 'trace_id')).toMatchObject({ type: 'textbox' });
    expect(panelsOf(trace).filter((p) => p.type === 'traces')).toHaveLength(1);
    expect(existsSync(join(GRAFANA_DIR, 'dashboards', 'overview.json'))).toBe(true);
  });
});

/**
 * Grafana's file provisioning of alert rules (apiVersion 1, groups of
 * rules): each rule queries the provisioned data source in code mode, reduces
 * it and fires on a threshold over the reduction, and names a dashboard that
 * exists. Their SQL runs on seeded data in panels.test.ts.
 */
describe('alert rule provisioning', () => {
  const dsUid = (provisioning('datasources')[0]!.doc.datasources[0] as { uid: string }).uid;
  const files = provisioning('alerting');
  const rules = files.flatMap((f) => (f.doc.groups as Array<Record<string, any>>).flatMap((g) => (g.rules as Array<Record<string, any>>).map((r) => ({ group: g, rule: r }))));

  it('declares the learning loop rules in groups with a folder and an interval', () => {
    for (const f of files) expect(f.doc.apiVersion, f.file).toBe(1);
    expect(rules.map((r) => r.rule.uid).sort()).toEqual(['verdict-judge-kappa', 'verdict-negative-rate-rise']);
    for (const { group } of rules) {
      expect(group).toMatchObject({ orgId: 1, folder: 'Verdict' });
      expect(group.interval).toMatch(/^\d+[smh]$/);
    }
  });

  it.each(rules.map((r) => [r.rule.uid as string, r.rule] as const))('%s queries the data source, reduces it and fires on its threshold', (_uid, rule) => {
    expect(rule.title).toEqual(expect.any(String));
    expect(rule.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    const byRef = new Map((rule.data as Array<Record<string, any>>).map((d) => [d.refId as string, d]));
    expect(byRef.size).toBe(rule.data.length);
    const condition = byRef.get(rule.condition);
    expect(condition?.model.type, 'the condition is a threshold').toBe('threshold');
    const reduce = byRef.get(condition!.model.expression);
    expect(reduce?.model.type, 'the threshold reads a reduction').toBe('reduce');
    const query = byRef.get(reduce!.model.expression);
    expect(query?.datasourceUid).toBe(dsUid);
    expect(query!.model).toMatchObject({ editorMode: 'code', rawQuery: true, format: 'table' });
    expect(query!.model.rawSql).toMatch(/\$__timeFilter\(/);
    expect(query!.relativeTimeRange.from).toBeGreaterThan(0);
    for (const d of [condition!, reduce!]) expect(d.datasourceUid).toBe('__expr__');
    expect(condition!.model.conditions[0].evaluator).toEqual({ type: 'gt', params: [0] });
    expect(['OK', 'NoData', 'Alerting']).toContain(rule.noDataState);
    expect(['Error', 'Alerting', 'OK']).toContain(rule.execErrState);
    expect(loadDashboards().map((d) => d.dashboard.uid)).toContain(rule.annotations.__dashboardUid__);
  });
});
