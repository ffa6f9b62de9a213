/**
 * Judge workers as real processes (`verdict evaluate`) on one PostgreSQL
 * database, against the fake judge over real HTTP: a worker killed with
 * SIGKILL mid-call leaves a lease that expires, and the job completes once
 * in another worker; two workers never judge a target twice; SIGTERM
 * releases the leases a worker holds; a bad evaluator stops start-up naming
 * the field.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app/server.ts';
import { backfill } from '../../src/judges/backfill.ts';
import { parseEvaluators } from '../../src/judges/config.ts';
import { judgeVerdictId } from '../../src/judges/worker.ts';
import { silentLogger } from '../../src/log.ts';
import { startFakeJudge, type FakeJudge } from '../helpers/fake-judge.ts';
import { hexId, T0, traces, type SpanSpec } from '../helpers/fixtures.ts';
import { postJson } from '../helpers/otlp.ts';
import { createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { spawnVerdict, type VerdictProcess } from '../helpers/process.ts';
import { baseConfig } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitUntil } from '../helpers/wait.ts';

const ENV = { JUDGE_KEY: 'sk-process' };

describe('judge workers as processes on PostgreSQL', () => {
  let db: TestDatabase;
  let server: RunningServer;
  let judge: FakeJudge;
  const dir = tempDir('judge-procs');
  const children: VerdictProcess[] = [];
  const query = async <T = Record<string, any>>(text: string) => (await sql.raw<T>(text).execute(server.store.db)).rows;

  beforeAll(async () => {
    [db, judge] = await Promise.all([createDatabase('verdict_judges'), startFakeJudge()]);
    server = await startServer(baseConfig({ databaseUrl: db.url }), silentLogger);
    // 40 runs, one span each.
    const spans: SpanSpec[] = Array.from({ length: 40 }, (_, i) => ({ traceId: hexId(16, 900 + i), spanId: hexId(8, 900 + i), name: 'invoke_agent a', start: T0 + BigInt(i) * 1_000_000n, attributes: { 'gen_ai.operation.name': 'invoke_agent' } }));
    expect((await postJson(`http://127.0.0.1:${server.http.port}/v1/traces`, traces(spans).json())).status).toBe(200);
  });
  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await server?.close();
    await judge?.close();
    await db?.drop();
  });

  /** A config file with one evaluator, its jobs queued for the given runs; and a way to start workers on it. */
  async function setup(name: string, runs: number[], extra: Record<string, unknown> = {}) {
    const spec = { name, target: 'trace', settle: '0s', model: { base_url: judge.baseUrl, model: 'judge-model', api_key_env: 'JUDGE_KEY' }, prompt: 'Judge trace {{trace_id}}: {{output}}', output: { labels: { relevant: 'positive', irrelevant: 'negative' } }, ...extra };
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, JSON.stringify({ log_level: 'info', evaluators: [spec] }));
    const evaluators = parseEvaluators([spec], ENV);
    await backfill(server.store.db, { since: new Date(Date.UTC(2025, 11, 31)), until: new Date(Date.UTC(2026, 0, 2)), evaluators });
    const keep = runs.map((i) => `'${hexId(16, 900 + i)}'`).join(', ');
    await query(`DELETE FROM verdict.judge_jobs WHERE evaluator = '${name}' AND trace_id NOT IN (${keep})`);
    const start = async (workers = 2) => {
      const c = spawnVerdict(['evaluate', '--config', file, '--workers', String(workers)], { DATABASE_URL: db.url, ...ENV });
      children.push(c);
      await c.waitFor((l) => l.msg === 'judges started');
      return c;
    };
    return { evaluator: evaluators[0]!, start };
  }
  const jobOf = async (name: string, i: number) => (await query(`SELECT status, attempts, lease_owner, verdict_id FROM verdict.judge_jobs WHERE evaluator = '${name}' AND trace_id = '${hexId(16, 900 + i)}'`))[0];

  it('a worker killed with SIGKILL mid-call: its lease expires and the job completes once in another worker', { timeout: 40_000 }, async () => {
    judge.reset();
    judge.setDefault(() => ({ answer: { label: 'relevant', explanation: 'ok' } }));
    const { evaluator, start } = await setup('killed', [0], { timeout: '3s' });
    judge.next({ delayMs: 30_000 });
    const first = await start();
    await waitUntil('the first call', () => judge.calls === 1, { timeoutMs: 15_000 });
    first.proc.kill('SIGKILL');
    await first.exited;
    // The dead worker still holds the job until its lease (twice the timeout) runs out.
    expect(await jobOf('killed', 0)).toMatchObject({ status: 'running', attempts: 1, lease_owner: expect.any(String) });
    const second = await start();
    await waitUntil('the job done', async () => (await jobOf('killed', 0))?.status === 'done', { timeoutMs: 20_000 });
    const id = judgeVerdictId({ evaluator: 'killed', evaluator_version: evaluator.version, target_kind: 'trace', target: hexId(16, 900) });
    expect(await jobOf('killed', 0)).toMatchObject({ status: 'done', attempts: 2, verdict_id: id });
    expect(await query(`SELECT id, score_label, attributes->>'verdict.judge.attempts' AS attempts FROM verdict.evaluations WHERE name = 'killed'`)).toEqual([{ id, score_label: 'relevant', attempts: '2' }]);
    expect(judge.calls).toBe(2);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('two verdict evaluate processes on one database never judge a target twice', { timeout: 40_000 }, async () => {
    judge.reset();
    const runs = Array.from({ length: 30 }, (_, i) => i + 1);
    judge.setDefault(() => ({ delayMs: 40, answer: { label: 'relevant', explanation: 'ok' } }));
    const { start } = await setup('shared', runs);
    const [a, b] = await Promise.all([start(3), start(3)]);
    await waitUntil('30 jobs done', async () => Number((await query(`SELECT count(*)::int AS n FROM verdict.judge_jobs WHERE evaluator = 'shared' AND status = 'done'`))[0]!.n) === 30, { timeoutMs: 30_000 });
    const judged = judge.requests.map((r) => /Judge trace ([0-9a-f]{32})/.exec(r.prompt)![1]);
    expect(judged.length).toBe(30);
    expect(new Set(judged).size).toBe(30);
    expect(await query(`SELECT count(*)::int AS n, count(DISTINCT trace_id)::int AS runs FROM verdict.evaluations WHERE name = 'shared'`)).toEqual([{ n: 30, runs: 30 }]);
    expect(await query(`SELECT max(attempts) AS most FROM verdict.judge_jobs WHERE evaluator = 'shared'`)).toEqual([{ most: 1 }]);
    a.proc.kill('SIGTERM');
    b.proc.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
  });

  it('SIGTERM releases the leases a worker holds, so another can take the job at once', { timeout: 30_000 }, async () => {
    judge.reset();
    const { start } = await setup('released', [35], { timeout: '20s' });
    judge.next({ delayMs: 30_000 });
    const c = await start(1);
    await waitUntil('the call', () => judge.calls === 1, { timeoutMs: 15_000 });
    expect(await jobOf('released', 35)).toMatchObject({ status: 'running' });
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(await jobOf('released', 35)).toMatchObject({ status: 'queued', attempts: 0, lease_owner: null });
  });

  it('a bad evaluator stops start-up with a message naming the field', { timeout: 20_000 }, async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, JSON.stringify({ evaluators: [{ name: 'x', model: { base_url: judge.baseUrl, model: 'm' }, prompt: '{{output}}', output: { labels: { ok: 'fine' } } }] }));
    const c = spawnVerdict(['--config', file, '--http-port', '0', '--grpc-port', '0'], { DATABASE_URL: db.url });
    children.push(c);
    expect(await c.exited).toBe(2);
    expect(c.stderr()).toContain('evaluators[0].output.labels.ok: must be positive, negative or neutral, got "fine"');
  });
});
