/**
 * The `verdict` command as users run it: start-up on the embedded database
 * with the psql command printed, queries through that command, a clean stop
 * on SIGTERM, `verdict migrate`, `--help`, and bad settings refused by name.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/migrate.ts';
import { createDatabase } from '../helpers/postgres.ts';
import { spawnVerdict, type VerdictProcess } from '../helpers/process.ts';
import { freePort } from '../helpers/server.ts';
import { hexId, logsJson, postJson, str, traceJson } from '../helpers/otlp.ts';
import { tempDir } from '../helpers/tmp.ts';

const running: VerdictProcess[] = [];
afterAll(() => {
  for (const p of running) p.proc.kill('SIGKILL');
});

describe('verdict serve on the embedded database', () => {
  // Two starts of the embedded database, the first creating it (initdb): a minute on a busy two-core machine.
  it('prints where to connect, stores data that psql on the printed port can see, and stops cleanly on SIGTERM', { timeout: 90_000 }, async () => {
    const dataDir = tempDir('cli');
    const pgPort = await freePort();
    const v = spawnVerdict(['serve', '--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--pg-port', String(pgPort)]);
    running.push(v);
    const ready = await v.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('verdict ready'), 30_000);
    // The wire port's password was made on this first start, kept owner-only in the data directory, and printed.
    const passwordFile = join(dataDir, 'pg-password');
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    const password = readFileSync(passwordFile, 'utf8').trim();
    expect(password).toMatch(/^[\w-]{32}$/);
    expect(ready.psql).toBe(`PGPASSWORD=${password} psql -h 127.0.0.1 -p ${pgPort} -U postgres postgres`);
    expect(ready.pgUrl).toBe(`postgres://postgres:${password}@127.0.0.1:${pgPort}/postgres`);
    expect(ready.msg).toContain(ready.psql);
    expect(ready.grpc[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    const http = `http://${ready.http[0]}`;

    const traceId = hexId(16, 61);
    const spanId = hexId(8, 61);
    expect((await postJson(`${http}/v1/traces`, traceJson([{ traceId, spanId, name: 'chat', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }]))).status).toBe(200);
    expect((await postJson(`${http}/v1/logs`, logsJson([{ eventName: 'gen_ai.evaluation.result', timeUnixNano: '1767225602000000000', traceId, spanId, attributes: [str('gen_ai.evaluation.name', 'Relevance'), str('gen_ai.evaluation.score.label', 'relevant')] }]))).status).toBe(200);

    // Run as printed: PGPASSWORD=… psql …
    const [assignment, cmd, ...args] = (ready.psql as string).split(' ');
    const env = { ...process.env, PGPASSWORD: assignment!.slice('PGPASSWORD='.length) };
    const out = execFileSync(cmd!, [...args, '-At', '-c', `SELECT trace_id, span_id, name, span_name FROM verdict.trace_evaluations`], { encoding: 'utf8', env });
    expect(out.trim()).toBe(`${traceId}|${spanId}|Relevance|chat`);

    v.proc.kill('SIGTERM');
    expect(await v.exited).toBe(0);
    expect(v.lines.some((l) => l.msg === 'stopped')).toBe(true);

    // The data survives a restart: PGlite persisted it in --data-dir.
    const again = spawnVerdict(['--data-dir', dataDir, '--grpc-port', '0', '--http-port', '0', '--pg-port', '0']);
    running.push(again);
    const r2 = await again.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('verdict ready'), 30_000);
    expect(r2.psql).toBeNull();
    const count = await fetch(`http://${r2.http[0]}/readyz`);
    expect(count.status).toBe(200);
    again.proc.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });
});

describe('verdict migrate against PostgreSQL', () => {
  it('applies the migrations once and reports the database up to date after', async () => {
    const db = await createDatabase();
    try {
      const first = spawnVerdict(['migrate'], { DATABASE_URL: db.url });
      expect(await first.exited).toBe(0);
      expect(first.lines.find((l) => l.msg?.startsWith('applied'))?.migrations).toEqual(loadMigrations().map((m) => m.name));
      const second = spawnVerdict(['migrate', '--database-url', db.url]);
      expect(await second.exited).toBe(0);
      expect(second.lines.some((l) => l.msg === 'database is up to date')).toBe(true);
    } finally {
      await db.drop();
    }
  });
});

describe('verdict command line', () => {
  it('prints help', async () => {
    const v = spawnVerdict(['--help']);
    expect(await v.exited).toBe(0);
    const text = v.lines.map((l) => l.raw).join('\n');
    expect(text).toContain('verdict [serve] [settings]');
    expect(text).toContain('--grpc-port');
    expect(text).toContain('VERDICT_PG_PORT');
  });

  it.each([
    [['--grpc-port', 'seventeen'], {}, 'verdict: invalid --grpc-port: "seventeen" is not a port number (0-65535)'],
    [[], { VERDICT_HTTP_PORT: '99999' }, 'verdict: invalid VERDICT_HTTP_PORT: "99999" is not a port number (0-65535)'],
    [['--no-such-flag', '1'], {}, 'verdict: unknown option --no-such-flag; see verdict --help'],
  ])('stops on a bad setting %j %j with a message naming it', async (args, env, message) => {
    const v = spawnVerdict(args, env);
    expect(await v.exited).toBe(2);
    expect(v.stderr().trim()).toBe(message);
  });

  it('stops with a clear error when a port is taken', async () => {
    const port = await freePort();
    const blocker = (await import('node:net')).createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      const v = spawnVerdict(['--data-dir', 'memory://', '--pg-port', '0', '--grpc-port', '0', '--http-port', String(port), '--host', '127.0.0.1']);
      expect(await v.exited).toBe(2);
      expect(v.stderr()).toBe(`verdict: port ${port} on 127.0.0.1 is already in use (--http-port): stop what uses it, or choose another port with --http-port\n`);
    } finally {
      blocker.close();
    }
  });
});

describe('verdict --rules', () => {
  it('reloads the rules file on SIGHUP and says so', async () => {
    const dir = tempDir('cli-rules');
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: first\n    kind: status\n');
    const v = spawnVerdict(['--data-dir', 'memory://', '--pg-port', '0', '--grpc-port', '0', '--http-port', '0', '--rules', rules]);
    running.push(v);
    await v.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('verdict ready'), 30_000);
    writeFileSync(rules, 'rules:\n  - name: first\n    kind: status\n  - name: second\n    kind: repeat\n');
    v.proc.kill('SIGHUP');
    const loaded = await v.waitFor((l) => l.msg === 'loaded 2 rule(s)');
    expect(loaded.rules).toEqual(['first', 'second']);
    v.proc.kill('SIGTERM');
    expect(await v.exited).toBe(0);
  });

  it('refuses to start on an invalid pattern, naming the rule', async () => {
    const dir = tempDir('cli-rules');
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: frustration\n    kind: regex\n    pattern: "(a|b"\n');
    const v = spawnVerdict(['--data-dir', 'memory://', '--pg-port', '0', '--rules', rules]);
    expect(await v.exited).toBe(2);
    expect(v.stderr()).toContain(`rule "frustration": invalid pattern "(a|b"`);
  });
});
