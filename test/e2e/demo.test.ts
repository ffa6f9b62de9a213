/**
 * `npm run demo` (examples/demo/) as a user runs it: a child process against
 * a live Verdict started with examples/rules.yaml, on both backends. Checked:
 *
 * - what the demo says it sent is what Verdict stored: runs, spans, log
 *   records, and verdicts by source and by evaluator, each joined to a run;
 * - the data has what the demo is for: multi-turn conversations, two
 *   releases with the later one judged worse, failures recorded on the spans
 *   that failed, the GenAI message shapes, a second service in the same
 *   traces;
 * - the SQL it prints runs and returns rows, and so does every panel of
 *   every Grafana dashboard, over the demo's hour;
 * - an unreachable Verdict, or a missing bearer token, is one clear line and
 *   a non-zero exit, and a token given is sent on OTLP and /v1/feedback.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/runtime.ts';
import { expandQuery, loadDashboards, panelInterval, panelsOf, type Dashboard, type TimeRange, type Variable } from '../helpers/grafana-macros.ts';
import { BACKENDS, freePort, startTestServer, type Backend, type TestServer } from '../helpers/server.ts';

const DEMO = fileURLToPath(new URL('../../examples/demo/main.ts', import.meta.url));
const CONVERSATIONS = 30;

interface DemoResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runDemo(args: string[], env: Record<string, string> = {}): Promise<DemoResult> {
  const started = Date.now();
  // The demo reads these; the test's own environment must not leak into it.
  const { OTEL_EXPORTER_OTLP_ENDPOINT: _e, VERDICT_TOKEN: _t, ...base } = process.env;
  const proc = spawn(process.execPath, [...NODE_FLAGS, DEMO, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
}

/** The numbers of the demo's summary. */
interface Report {
  conversations: number;
  runs: number;
  spans: number;
  logRecords: number;
  bySource: Record<'user' | 'llm_judge' | 'rule' | 'indirect' | 'reviewer', number>;
  pii: number;
  frustrated: number;
  failedGenAi: number;
  slow: number;
  reopened: number;
  repeats: number;
  traceId: string;
  queries: string[];
}

function parseReport(stdout: string): Report {
  const grab = (re: RegExp): RegExpExecArray => {
    const m = re.exec(stdout);
    if (!m) throw new Error(`the demo's output has no match for ${re}:\n${stdout}`);
    return m;
  };
  const n = (re: RegExp, group = 1) => Number(grab(re)[group]);
  const sent = grab(/Sent in [\d.]+ s: (\d+) conversations?, (\d+) runs?, (\d+) spans?, (\d+) log records?/);
  const rule = grab(/(\d+) from the agent's PII check \+ \d+ from Verdict's rules: (\d+) frustrated messages?, (\d+) failed GenAI spans?, (\d+) calls? over 30 s/);
  const indirect = grab(/(\d+) reopened tickets? through POST \/v1\/feedback \+ (\d+) questions? asked again/);
  return {
    conversations: Number(sent[1]),
    runs: Number(sent[2]),
    spans: Number(sent[3]),
    logRecords: Number(sent[4]),
    bySource: { user: n(/^ {2}user +(\d+) /m), llm_judge: n(/^ {2}llm_judge +(\d+) /m), rule: n(/^ {2}rule +(\d+) /m), indirect: n(/^ {2}indirect +(\d+) /m), reviewer: n(/^ {2}reviewer +(\d+) /m) },
    pii: Number(rule[1]),
    frustrated: Number(rule[2]),
    failedGenAi: Number(rule[3]),
    slow: Number(rule[4]),
    reopened: Number(indirect[1]),
    repeats: Number(indirect[2]),
    traceId: grab(/^ {2}trace_id ([0-9a-f]{32})$/m)[1] as string,
    queries: [...stdout.matchAll(/^ {2}(SELECT .*;)$/gm)].map((m) => m[1] as string),
  };
}

/** The dashboard's variables with their options resolved, as Grafana would (test/dashboards/panels.test.ts does the same). */
async function resolveVariables(d: Dashboard, chosen: Record<string, string>, range: TimeRange, server: TestServer): Promise<Variable[]> {
  const out: Variable[] = [];
  for (const v of d.templating.list) {
    const variable: Variable = { name: v.name, value: chosen[v.name] ?? v.current?.value ?? '', multi: !!v.multi, includeAll: !!v.includeAll, allValue: v.allValue ?? null };
    if (v.type === 'query') {
      const text = typeof v.query === 'string' ? v.query : v.query.rawSql;
      const rows = await server.query<Record<string, unknown>>(expandQuery(text, { range, intervalMs: panelInterval(range), variables: out }).sql);
      variable.options = rows.map((r) => String(r.__value ?? Object.values(r)[0]));
    } else if (v.type === 'custom') {
      variable.options = String(v.query).split(',').map((x) => x.trim());
    }
    out.push(variable);
  }
  return out;
}

const num = (rows: Array<Record<string, unknown>>, col = 'n') => Number(rows[0]?.[col]);

describe.each(BACKENDS)('npm run demo against Verdict on %s', (backend: Backend) => {
  let server: TestServer;
  let demo: DemoResult;
  let report: Report;
  let range: TimeRange;
  const q = <T = Record<string, any>>(text: string) => server.query<T>(text);

  beforeAll(async () => {
    server = await startTestServer(backend, { rulesFile: 'examples/rules.yaml' });
    const before = Date.now();
    demo = await runDemo(['--endpoint', server.httpUrl, '--conversations', String(CONVERSATIONS), '--seed', '7']);
    // The demo's hour ends between 1 and 61 minutes before it starts; its verdicts come up to the moment it runs.
    range = { from: new Date(before - 125 * 60_000), to: new Date(Date.now() + 60_000) };
    if (demo.code === 0) report = parseReport(demo.stdout);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('exits cleanly within a few seconds, having sent an hour of conversations', () => {
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(demo.ms).toBeLessThan(20_000);
    expect(report.conversations).toBe(CONVERSATIONS);
    expect(report.runs).toBeGreaterThanOrEqual(100);
    expect(report.runs).toBeLessThanOrEqual(200);
    expect(report.spans).toBeGreaterThan(3 * report.runs);
    expect(report.logRecords).toBeGreaterThan(report.runs); // at least one application log line per run
  });

  it('stored exactly the runs, spans and log records it reported', async () => {
    expect(num(await q('SELECT count(*)::int AS n FROM verdict.spans'))).toBe(report.spans);
    const roots = await q<{ name: string; service_name: string; n: number }>('SELECT name, service_name, count(*)::int AS n FROM verdict.spans WHERE parent_span_id IS NULL GROUP BY 1, 2');
    expect(roots).toEqual([{ name: 'invoke_agent support-agent', service_name: 'support-agent', n: report.runs }]);
    expect(num(await q('SELECT count(*)::int AS n FROM verdict.traces'))).toBe(report.runs);
    expect(num(await q('SELECT count(*)::int AS n FROM verdict.logs'))).toBe(report.logRecords);
    // Application logs are correlated with the span they were written in.
    expect(num(await q('SELECT count(*)::int AS n FROM verdict.logs l LEFT JOIN verdict.spans s USING (trace_id, span_id) WHERE s.span_id IS NULL'))).toBe(0);
    // Every span is in the demo's hour, in the past.
    const [t] = await q<{ first: Date; last: Date }>('SELECT min(start_time) AS first, max(end_time) AS last FROM verdict.spans');
    expect(new Date(t!.first).getTime()).toBeGreaterThanOrEqual(range.from.getTime());
    expect(new Date(t!.last).getTime()).toBeLessThan(Date.now());
    expect(new Date(t!.last).getTime() - new Date(t!.first).getTime()).toBeGreaterThan(45 * 60_000);
  });

  it('made multi-turn conversations: runs sharing gen_ai.conversation.id', async () => {
    const rows = await q<{ trace_count: number }>('SELECT trace_count FROM verdict.conversations');
    expect(rows).toHaveLength(report.conversations);
    expect(rows.reduce((s, r) => s + Number(r.trace_count), 0)).toBe(report.runs);
    expect(rows.filter((r) => Number(r.trace_count) >= 3).length).toBeGreaterThanOrEqual(CONVERSATIONS / 2);
  });

  it('has verdicts from all four sources, and reviewers checking the judge, each joined to a run, in the numbers it reported', async () => {
    const bySource = await q<{ source: string; n: number; joined: number }>(
      `SELECT e.source, count(*)::int AS n, count(t.trace_id)::int AS joined
       FROM verdict.trace_evaluations e LEFT JOIN verdict.traces t USING (trace_id) GROUP BY 1 ORDER BY 1`,
    );
    expect(bySource).toEqual(
      (['indirect', 'llm_judge', 'reviewer', 'rule', 'user'] as const).map((source) => ({ source, n: report.bySource[source], joined: report.bySource[source] })),
    );
    for (const source of ['indirect', 'llm_judge', 'reviewer', 'rule', 'user'] as const) expect(report.bySource[source], source).toBeGreaterThan(0);

    const byName = Object.fromEntries(
      (await q<{ key: string; n: number }>(`SELECT source || '/' || channel || '/' || name AS key, count(*)::int AS n FROM verdict.evaluations GROUP BY 1`)).map((r) => [r.key, r.n]),
    );
    expect(byName).toEqual({
      'user/api/user_rating': report.bySource.user,
      'llm_judge/log/Relevance': report.bySource.llm_judge,
      'reviewer/api/Relevance': report.bySource.reviewer,
      'rule/log/pii_check': report.pii,
      'rule/rule/user_frustration': report.frustrated,
      'rule/rule/genai_error': report.failedGenAi,
      'rule/rule/slow_llm_call': report.slow,
      'indirect/api/ticket_reopened': report.reopened,
      'indirect/rule/same_question_reasked': report.repeats,
    });
    // The repeat rule turned questions asked again into indirect verdicts; the frustration rule fired.
    expect(report.repeats).toBeGreaterThanOrEqual(1);
    expect(report.frustrated).toBeGreaterThanOrEqual(1);
    expect(report.pii).toBeGreaterThanOrEqual(1);
  });

  it('attached each kind of verdict to what it judges', async () => {
    // The judge's and the agent's checks are parented to the chat span that wrote the answer; a reviewer's spot checks name it.
    const onSpans = await q<{ name: string; source: string; op: string; n: number }>(
      `SELECT name, source, gen_ai_operation_name AS op, count(*)::int AS n FROM verdict.trace_evaluations
       WHERE name IN ('Relevance', 'pii_check') GROUP BY 1, 2, 3 ORDER BY 1, 2`,
    );
    expect(onSpans).toEqual([
      { name: 'Relevance', source: 'llm_judge', op: 'chat', n: report.bySource.llm_judge },
      { name: 'Relevance', source: 'reviewer', op: 'chat', n: report.bySource.reviewer },
      { name: 'pii_check', source: 'rule', op: 'chat', n: report.pii },
    ]);
    // Thumbs name either the run (trace) or the completion (gen_ai.response.id), and both resolve.
    const targets = await q<{ target: string; n: number; resolved: number }>(
      `SELECT target, count(*)::int AS n, count(span_name)::int AS resolved FROM verdict.trace_evaluations WHERE name = 'user_rating' GROUP BY 1 ORDER BY 1`,
    );
    expect(targets.map((t) => t.target)).toEqual(['completion', 'trace']);
    for (const t of targets) expect(t.resolved, t.target).toBe(t.n);
    // A question asked again marks the earlier run's answer, in the same conversation.
    const [repeat] = await q<{ n: number; same: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE e.conversation_id = later.gen_ai_conversation_id AND later.start_time > s.start_time)::int AS same
       FROM verdict.evaluations e
       JOIN verdict.spans s ON s.trace_id = e.trace_id AND s.span_id = e.span_id
       JOIN verdict.spans later ON later.trace_id = e.attributes->>'verdict.repeat.trace_id' AND later.span_id = e.attributes->>'verdict.repeat.span_id'
       WHERE e.name = 'same_question_reasked'`,
    );
    expect(repeat).toEqual({ n: report.repeats, same: report.repeats });
  });

  it('spans a deploy: two releases of support-agent, the later one judged worse', async () => {
    const versions = await q<{ version: string; model: string }>(
      `SELECT DISTINCT resource_attributes->>'service.version' AS version, gen_ai_response_model AS model
       FROM verdict.spans WHERE service_name = 'support-agent' AND gen_ai_operation_name = 'chat' AND gen_ai_response_model IS NOT NULL ORDER BY 1`,
    );
    expect(versions).toEqual([{ version: '1.4.0', model: 'gpt-4o-2024-08-06' }, { version: '1.5.0', model: 'gpt-4o-mini-2024-07-18' }]);
    // The deploy is in the middle: the old release's runs all come before the new one's.
    const [order] = await q<{ last_old: Date; first_new: Date }>(
      `SELECT max(start_time) FILTER (WHERE resource_attributes->>'service.version' = '1.4.0') AS last_old,
              min(start_time) FILTER (WHERE resource_attributes->>'service.version' = '1.5.0') AS first_new
       FROM verdict.spans WHERE parent_span_id IS NULL`,
    );
    expect(new Date(order!.last_old).getTime()).toBeLessThan(new Date(order!.first_new).getTime());
    const rates = await q<{ version: string; runs: number; negative_rate: number }>(
      `SELECT r.resource_attributes->>'service.version' AS version, count(DISTINCT r.trace_id)::int AS runs, avg((e.polarity = 'negative')::int)::float8 AS negative_rate
       FROM verdict.trace_evaluations e JOIN verdict.spans r ON r.trace_id = e.trace_id AND r.parent_span_id IS NULL
       WHERE e.source = 'llm_judge' GROUP BY 1 ORDER BY 1`,
    );
    expect(rates.map((r) => r.version)).toEqual(['1.4.0', '1.5.0']);
    for (const r of rates) expect(r.runs, r.version).toBeGreaterThanOrEqual(20);
    expect(rates[1]!.negative_rate).toBeGreaterThan(rates[0]!.negative_rate + 0.1);
  });

  it('recorded failures on the spans that failed, with error.type and an exception event', async () => {
    const failed = await q<{ name: string; error_type: string; exceptions: number; n: number }>(
      `SELECT split_part(name, ' ', 1) AS name, attributes->>'error.type' AS error_type,
              count(*) FILTER (WHERE events @> '[{"name": "exception"}]')::int AS exceptions, count(*)::int AS n
       FROM verdict.spans WHERE status_code = 'error' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const kinds = failed.map((f) => `${f.name} ${f.error_type}`);
    expect(kinds).toEqual(expect.arrayContaining(['chat RateLimitError', 'chat timeout', 'execute_tool OrderServiceUnavailable', 'invoke_agent timeout']));
    for (const f of failed.filter((x) => x.name !== 'invoke_agent')) expect(f.exceptions, `${f.name} ${f.error_type}`).toBe(f.n);
    expect(failed.reduce((s, f) => s + f.n, 0)).toBe(report.failedGenAi);
    // The timed-out call lasted past the slow-call threshold.
    expect(num(await q(`SELECT count(*)::int AS n FROM verdict.spans WHERE attributes->>'error.type' = 'timeout' AND gen_ai_operation_name = 'chat' AND duration_ns > 30e9`))).toBe(1);
  });

  it('records GenAI content in the current message shape, and a second service in the same traces', async () => {
    // A call after a tool: the history, the tool call and its response; and the answer.
    const [shape] = await q<{ n: number }>(
      `SELECT count(*)::int AS n FROM verdict.spans
       WHERE gen_ai_operation_name = 'chat'
         AND attributes->'gen_ai.input.messages' @> '[{"role": "assistant", "parts": [{"type": "tool_call"}]}, {"role": "tool", "parts": [{"type": "tool_call_response"}]}]'
         AND attributes->'gen_ai.output.messages' @> '[{"role": "assistant", "parts": [{"type": "text"}], "finish_reason": "stop"}]'
         AND jsonb_typeof(attributes->'gen_ai.system_instructions'->0->'content') = 'string'
         AND gen_ai_response_id IS NOT NULL AND gen_ai_input_tokens > 0 AND gen_ai_output_tokens > 0 AND gen_ai_provider_name = 'openai'`,
    );
    expect(shape!.n).toBeGreaterThan(10);
    const [tools] = await q<{ n: number; with_content: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE jsonb_typeof(attributes->'gen_ai.tool.call.arguments') = 'object' AND (status_code = 'error' OR attributes ? 'gen_ai.tool.call.result'))::int AS with_content
       FROM verdict.spans WHERE gen_ai_operation_name = 'execute_tool' AND gen_ai_tool_name IS NOT NULL`,
    );
    expect(tools!.n).toBeGreaterThan(10);
    expect(tools!.with_content).toBe(tools!.n);
    const kb = await q<{ parent: string; n: number }>(
      `SELECT p.name AS parent, count(*)::int AS n FROM verdict.spans s JOIN verdict.spans p ON p.trace_id = s.trace_id AND p.span_id = s.parent_span_id
       WHERE s.service_name = 'kb-search' GROUP BY 1`,
    );
    expect(kb).toHaveLength(1);
    expect(kb[0]!.parent).toBe('retrieval help-center');
    expect(kb[0]!.n).toBeGreaterThan(10);
  });

  it('prints SQL that runs and returns rows', async () => {
    expect(report.queries).toHaveLength(3);
    for (const text of report.queries) expect((await q(text)).length, text).toBeGreaterThan(0);
  });

  // The judge queue and spend (verdict.judge_jobs, verdict.judge_usage) are kept by Verdict's own evaluators, which
  // the demo's server does not run: test/integration/judges.test.ts fills them, and test/dashboards/panels.test.ts
  // runs those panels on its seed.
  const ownJudges = (p: { targets?: Array<{ rawSql: string }> }) => (p.targets ?? []).some((t) => /verdict\.judge_(jobs|usage)\b/.test(t.rawSql));
  for (const { dashboard } of loadDashboards()) {
    for (const panel of panelsOf(dashboard).filter((p) => p.targets?.length && !ownJudges(p))) {
      it(`feeds Grafana: ${dashboard.title} / ${panel.title}`, async () => {
        const variables = await resolveVariables(dashboard, { trace_id: report.traceId }, range, server);
        for (const v of variables) if (v.options) expect(v.options.length, `variable ${v.name}`).toBeGreaterThan(0);
        for (const target of panel.targets!) {
          const { sql } = expandQuery(target.rawSql, { range, intervalMs: panelInterval(range, panel.interval, panel.maxDataPoints), variables });
          expect(sql, panel.title).not.toMatch(/\$(__|\{|\w+\b(?!\$))|\[\[/);
          const rows = await q(sql);
          expect(rows.length, `${panel.title}: no rows`).toBeGreaterThan(0);
          if (panel.type === 'timeseries') expect(Object.keys(rows[0]!), panel.title).toContain('time');
          if (panel.type === 'stat') for (const [k, v] of Object.entries(rows[0]!)) expect(v, `${panel.title}: ${k}`).not.toBeNull();
          if (panel.type === 'traces') expect(rows.length, panel.title).toBe(num(await q(`SELECT count(*)::int AS n FROM verdict.spans WHERE trace_id = '${report.traceId}'`)));
        }
      });
    }
  }
});

describe('npm run demo when Verdict is not there, or wants a token', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('pglite', { authTokens: ['demo-s3cret'] });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('says in one line to start Verdict, and exits non-zero, when nothing listens', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const r = await runDemo(['--conversations', '3'], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`Cannot reach Verdict at ${endpoint}`);
    expect(r.stderr).toContain('npm start');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('says a token is needed when Verdict wants one', async () => {
    const r = await runDemo(['--endpoint', server.httpUrl, '--conversations', '3']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`Verdict at ${server.httpUrl} wants a bearer token: pass --token or set VERDICT_TOKEN.`);
    expect(num(await server.query('SELECT count(*)::int AS n FROM verdict.spans'))).toBe(0);
  });

  it('sends the token on OTLP and on /v1/feedback', async () => {
    const r = await runDemo(['--endpoint', server.httpUrl, '--conversations', '4', '--seed', '3'], { VERDICT_TOKEN: 'demo-s3cret' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = parseReport(r.stdout);
    expect(num(await server.query('SELECT count(*)::int AS n FROM verdict.spans'))).toBe(report.spans);
    const [api] = await server.query<{ n: number }>(`SELECT count(*)::int AS n FROM verdict.evaluations WHERE channel = 'api'`);
    expect(api!.n).toBe(report.bySource.user + report.reopened + report.bySource.reviewer);
    expect(api!.n).toBeGreaterThan(0);
  });

  it('refuses bad options with usage, exit code 2', async () => {
    const r = await runDemo(['--conversations', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--conversations must be a whole number');
    expect(r.stderr).toContain('Usage');
  });
});
