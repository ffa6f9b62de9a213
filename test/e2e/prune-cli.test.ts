/**
 * `verdict prune` as users run it: a child process against PostgreSQL (with
 * a receiver still running on the same database) and against an embedded
 * database's directory, its progress lines and exit codes, and bad
 * arguments refused by name.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { startServer } from '../../src/app/server.ts';
import { hexId, logsJson, postJson, str, traceJson } from '../helpers/otlp.ts';
import { spawnVerdict, type VerdictProcess } from '../helpers/process.ts';
import { baseConfig, startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/tmp.ts';

const DAY = 86_400_000;
const ns = (ago: number) => String(BigInt(Date.now() - ago) * 1_000_000n);
const ids = { plain: hexId(16, 201), judged: hexId(16, 202), recent: hexId(16, 203) };
const span = (traceId: string, ago: number) => ({ traceId, spanId: hexId(8, 1), name: 'invoke_agent', kind: 1, startTimeUnixNano: ns(ago), endTimeUnixNano: ns(ago - 1000) });

/** Two old runs, one of them judged, and a recent one. */
async function load(httpUrl: string): Promise<void> {
  expect((await postJson(`${httpUrl}/v1/traces`, traceJson([span(ids.plain, 60 * DAY), span(ids.judged, 60 * DAY), span(ids.recent, DAY)]))).status).toBe(200);
  const judged = { eventName: 'gen_ai.evaluation.result', timeUnixNano: ns(60 * DAY), traceId: ids.judged, attributes: [str('gen_ai.evaluation.name', 'Relevance'), str('gen_ai.evaluation.score.label', 'relevant')] };
  expect((await postJson(`${httpUrl}/v1/logs`, logsJson([judged, { timeUnixNano: ns(60 * DAY), body: { stringValue: 'old, no trace' } }]))).status).toBe(200);
}

const messages = (v: VerdictProcess) => v.lines.map((l) => l.msg as string);

/** The exit code, once stdout and stderr are read to their end: 'exit' can come before their last lines. */
async function finished(v: VerdictProcess): Promise<number | null> {
  const code = await v.exited;
  await Promise.all([v.proc.stdout!, v.proc.stderr!].map((s) => (s.closed ? undefined : new Promise((resolve) => s.once('close', resolve)))));
  return code;
}

describe('verdict prune against PostgreSQL', () => {
  let t: TestServer;
  let url: string;
  const remaining = async () => (await t.query<{ trace_id: string }>('SELECT trace_id FROM verdict.spans ORDER BY trace_id')).map((r) => r.trace_id);
  beforeAll(async () => {
    t = await startTestServer('postgres');
    url = t.config.databaseUrl as string;
    await load(t.httpUrl);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps the judged run with --keep-with-verdicts, printing a progress line per batch, then prunes it without', async () => {
    const keep = spawnVerdict(['prune', '--older-than', '30d', '--keep-with-verdicts', '--batch-size', '1', '--database-url', url]);
    expect(await finished(keep)).toBe(0);
    expect(keep.stderr()).toBe('');
    expect(messages(keep)[0]).toMatch(/^prune: deleting data older than \d{4}-\d\d-\d\dT[\d:.]+Z, keeping the runs that carry verdicts$/);
    // A progress line per step, with the running totals.
    const progress = keep.lines.filter((l) => typeof l.step === 'string');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[0]!.msg).toMatch(/^prune: .+; deleted so far: \d+ runs/);
    expect(messages(keep).at(-1)).toMatch(/^prune: done; deleted 1 runs \(1 spans\), 1 log records, 0 verdicts, 0 user turns; \d+ day partitions dropped in \d+ steps$/);
    expect(await remaining()).toEqual([ids.judged, ids.recent].sort());

    const all = spawnVerdict(['prune', '--database-url', url, '--older-than=4w']);
    expect(await finished(all)).toBe(0);
    expect(messages(all).at(-1)).toMatch(/^prune: done; deleted 1 runs \(1 spans\), 0 log records, 1 verdicts, 0 user turns; \d+ day partitions dropped in \d+ steps$/);
    expect(await remaining()).toEqual([ids.recent]);
  });

  it.each([
    [['--older-than', '30x'], 'verdict: invalid --older-than: "30x" is not an age such as 30d, 12h, 90m or 2w'],
    [['--keep-with-verdicts'], 'verdict: verdict prune needs --older-than, e.g. --older-than 30d'],
    [['--older-than', '30d', '--no-such-flag', '1'], 'verdict: unknown option --no-such-flag; see verdict --help'],
  ])('stops with exit 2 on %j, naming the setting', async (args, message) => {
    const v = spawnVerdict(['prune', ...args, '--database-url', url]);
    expect(await finished(v)).toBe(2);
    expect(v.stderr().trim()).toBe(message);
    expect(v.lines).toEqual([]);
  });
});

describe('verdict prune on the embedded database', () => {
  it('prunes a data directory once the receiver has stopped, and refuses one in use or missing', { timeout: 90_000 }, async () => {
    const dataDir = tempDir('prune');
    const server = await startServer(baseConfig({ databaseUrl: null, dataDir }), silentLogger);
    try {
      await load(`http://127.0.0.1:${server.http.port}`);
      // Two processes on one embedded database would overwrite each other's changes: the receiver (this test's process) holds it.
      const busy = spawnVerdict(['prune', '--older-than', '30d', '--data-dir', dataDir]);
      expect(await finished(busy)).toBe(2);
      expect(busy.stderr().trim()).toMatch(
        new RegExp(`^verdict: --data-dir ${dataDir} is in use by another Verdict \\(process ${process.pid} on [^,]+, since [\\d-]+T[\\d:.]+Z\\): stop it first, or give this one another --data-dir$`),
      );
    } finally {
      await server.close();
    }
    const v = spawnVerdict(['prune', '--older-than', '30d', '--data-dir', dataDir]);
    expect(await finished(v)).toBe(0);
    expect(messages(v).at(-1)).toMatch(/^prune: done; deleted 2 runs \(2 spans\), 1 log records, 1 verdicts, 0 user turns; \d+ day partitions dropped in \d+ steps$/);

    const missing = spawnVerdict(['prune', '--older-than', '30d', '--data-dir', join(dataDir, 'nope')]);
    expect(await finished(missing)).toBe(2);
    expect(missing.stderr().trim()).toBe(`verdict: no embedded database in ${join(dataDir, 'nope')}; set --data-dir or --database-url`);
  });
});
