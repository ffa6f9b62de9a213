/**
 * The first minutes of a new user, as the README tells them:
 *
 * - `npm start -- --flag value`, `npx verdict` and the `verdict` bin itself
 *   work with the machine's own `node` first on PATH (older than Verdict
 *   needs, on the machines this is built on), by way of the Node.js 24 that
 *   `npm ci` installs into node_modules;
 * - on a terminal the logs are text with the ready banner; piped, JSON lines
 *   unless --log-format text;
 * - while data arrives, a summary line per period says what was accepted, by
 *   service, and what was refused, by reason; nothing while idle;
 * - a start-up problem is one line on stderr that names the setting, exit
 *   code 2 (1 for a database that stays unreachable), no stack trace unless
 *   --log-level debug;
 * - a signal while start-up waits for the database ends it at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hexId, logsJson, postJson, str, traceJson } from '../helpers/otlp.ts';
import { ADMIN_URL, createDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { BIN, spawnVerdict, type VerdictProcess } from '../helpers/process.ts';
import { freePort } from '../helpers/server.ts';
import { waitUntil } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The PATH of a user's shell: the system's folders first, so the machine's own `node` (Debian's, 20, here) is the
 * one found, and none of the node_modules/.bin folders that `npm test` put first.
 */
const USER_PATH = ['/usr/local/bin', '/usr/bin', '/bin', ...(process.env.PATH ?? '').split(delimiter).filter((d) => !d.includes('node_modules'))].join(delimiter);
const PINNED = existsSync(`${ROOT}/node_modules/.bin/node`);
const MEMORY = ['--data-dir', 'memory://', '--pg-port', '0', '--grpc-port', '0', '--http-port', '0'];

/** A child process with everything it printed, stdout and stderr together, killed at the end if still running. */
interface Run {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}
const runs: Run[] = [];
const verdicts: VerdictProcess[] = [];
afterAll(() => {
  for (const r of runs) {
    try {
      process.kill(-r.proc.pid!, 'SIGKILL');
    } catch {
      // the group has ended
    }
  }
  for (const v of verdicts) v.proc.kill('SIGKILL');
});

function run(cmd: string, args: string[], env: Record<string, string> = {}): Run {
  // Its own process group, so that the end of the test stops npm and what it started alike.
  const proc = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, DATABASE_URL: '', PATH: USER_PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const r: Run = { proc, output: () => out, exited: new Promise((resolve) => proc.on('close', (code) => resolve(code))) };
  runs.push(r);
  return r;
}

const lines = (text: string) => text.split(/\r?\n/);
const pinnedVersion = () => (JSON.parse(readFileSync(`${ROOT}/node_modules/node-${process.platform}-${process.arch}/package.json`, 'utf8')) as { version: string }).version;

describe('the README commands, with the machine\'s node first on PATH', () => {
  it('npm start -- <flags> on a terminal: the Node.js that npm ci installed runs Verdict with those flags, and logs text with the ready banner', { timeout: 60_000 }, async () => {
    // Under a pseudo-terminal (util-linux `script`), as a user's shell runs it.
    const r = run('script', ['-qec', `npm start -- ${MEMORY.join(' ')}`, '/dev/null']);
    const out = await waitUntil('the banner on the terminal', () => (/query it/.test(r.output()) ? r.output() : null), { timeoutMs: 45_000 });
    // Ctrl-C on the terminal, as the user stops it: a signal to script's own group would not reach the
    // session it opened for npm, and the terminal's hang-up when script ends is a reload to Verdict.
    r.proc.stdin!.write('\x03');
    expect(await Promise.race([r.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000))])).not.toBe('still running');
    expect(r.output()).toMatch(/stopped/);
    const all = lines(out);
    const at = all.findIndex((l) => /^\d\d:\d\d:\d\d INFO  verdict ready$/.test(l));
    expect(at, out).toBeGreaterThanOrEqual(0);
    expect(all.slice(at + 1, at + 6).map((l) => l.trim().split(/\s{2,}/)[0])).toEqual(['OTLP/gRPC', 'OTLP/HTTP', 'metrics', 'database', 'query it']);
    expect(all[at + 2]).toMatch(/OTLP\/HTTP\s+http:\/\/127\.0\.0\.1:\d+, http:\/\/\[::1\]:\d+$/);
    expect(all[at + 4]).toMatch(/database\s+embedded, in memory:\/\/$/);
    expect(all[at + 5]).toMatch(/query it\s+no wire port \(--pg-port 0\)$/); // the flags reached it
    expect(out).not.toContain('{"level"');
    // The README shows this banner: the same rows, laid out the same.
    const shown = lines(/```\n(\d\d:\d\d:\d\d INFO  starting[\s\S]*?)```/.exec(readFileSync(`${ROOT}/README.md`, 'utf8'))?.[1] ?? '');
    const layout = (rows: string[]) => rows.map((l) => /^(\s+)(\S+(?: \S+)?)(\s+)/.exec(l)?.slice(1).map((x, i) => (i === 1 ? x : x.length)));
    const readmeAt = shown.findIndex((l) => /INFO  verdict ready$/.test(l));
    expect(readmeAt).toBeGreaterThan(0);
    expect(layout(shown.slice(readmeAt + 1, readmeAt + 6))).toEqual(layout(all.slice(at + 1, at + 6)));
    // Which Node.js ran it: the first line says.
    if (PINNED) expect(out).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d INFO  starting  node=${pinnedVersion().replaceAll('.', '\\.')} pid=\\d+\\r?$`, 'm'));
  });

  it('npx verdict and the verdict bin run, whatever node the shell finds first', async () => {
    const npx = run('npx', ['verdict', '--help']);
    expect(await npx.exited).toBe(0);
    expect(npx.output()).toContain('verdict [serve] [settings]');
    const bin = run(BIN, ['--help']);
    expect(await bin.exited).toBe(0);
    expect(bin.output()).toContain('npm start -- --http-port 4400');
  });
});

/** On PostgreSQL, which starts faster than a new embedded database: these tests are not about the database. */
let database: TestDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});
async function onPostgres(): Promise<string[]> {
  database ??= await createDatabase('verdict_first_run');
  return ['--database-url', database.url, '--grpc-port', '0', '--http-port', '0'];
}

describe('log output', () => {
  it('is text when piped with --log-format text (auto would write JSON lines there)', async () => {
    const piped = spawnVerdict([...(await onPostgres()), '--log-format', 'text']);
    verdicts.push(piped);
    await piped.waitFor((l) => /^\d\d:\d\d:\d\d INFO  verdict ready$/.test(l.raw ?? ''));
    piped.proc.kill('SIGTERM');
    expect(await piped.exited).toBe(0);
    expect(piped.lines.every((l) => l.raw !== undefined)).toBe(true);
    expect(piped.lines.at(-1)?.raw).toMatch(/^\d\d:\d\d:\d\d INFO  stopped$/);
  });
});

describe('the summary line', () => {
  it('says what was accepted, by service, and what was refused, by reason; and nothing while idle', async () => {
    const v = spawnVerdict(await onPostgres(), { VERDICT_SUMMARY_INTERVAL: '400ms' });
    verdicts.push(v);
    const ready = await v.waitFor((l) => String(l.msg).startsWith('verdict ready'));
    expect(ready.text).toBeUndefined(); // the banner's lines for people stay out of JSON
    const http = `http://${ready.http[0]}`;
    const span = (seed: number, traceId = hexId(16, seed)) => ({ traceId, spanId: hexId(8, seed), name: 'chat', startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' });
    const resource = (name: string) => ({ resource: { attributes: [str('service.name', name)] } });
    const twoServices = {
      resourceSpans: [
        { ...resource('svc-a'), scopeSpans: [{ spans: [span(1), span(2)] }] },
        { ...resource('svc-b'), scopeSpans: [{ spans: [span(3)] }] },
      ],
    };
    expect((await postJson(`${http}/v1/traces`, twoServices)).status).toBe(200);
    // One span of this request is invalid (a trace ID of 8 bytes): refused, the other stored.
    expect((await postJson(`${http}/v1/traces`, traceJson([span(4), span(5, hexId(8, 5))], [str('service.name', 'svc-a')]))).status).toBe(200);
    expect((await postJson(`${http}/v1/logs`, logsJson([{ timeUnixNano: '1767225602000000000', body: { stringValue: 'hello' } }], [str('service.name', 'svc-a')]))).status).toBe(200);
    const verdict = { eventName: 'gen_ai.evaluation.result', timeUnixNano: '1767225602000000000', traceId: hexId(16, 1), spanId: hexId(8, 1), attributes: [str('gen_ai.evaluation.name', 'Relevance')] };
    expect((await postJson(`${http}/v1/logs`, logsJson([verdict], [str('service.name', 'judge')]))).status).toBe(200);

    // The requests may fall into two periods: add the lines up until everything is counted.
    const summaries = () => v.lines.filter((l) => String(l.msg).startsWith('last 0.4s: '));
    const merged = () => {
      const total: Record<string, Record<string, Record<string, number>>> = { accepted: {}, refused: {} };
      for (const l of summaries()) {
        for (const kind of ['accepted', 'refused'] as const) {
          for (const [item, counts] of Object.entries(l[kind] as Record<string, Record<string, number>>)) {
            for (const [key, n] of Object.entries(counts)) ((total[kind]![item] ??= {})[key] = (total[kind]![item]![key] ?? 0) + n);
          }
        }
      }
      return total;
    };
    await waitUntil('summary lines counting all four requests', () => merged().accepted!.evaluations?.judge === 1 && merged().accepted!.spans?.['svc-a'] === 3);
    expect(merged()).toEqual({
      accepted: { spans: { 'svc-a': 3, 'svc-b': 1 }, log_records: { 'svc-a': 1, judge: 1 }, evaluations: { judge: 1 } },
      refused: { spans: { invalid: 1 } },
    });
    if (summaries().length === 1) {
      expect(summaries()[0]!.msg).toBe('last 0.4s: accepted 4 spans (svc-a 3, svc-b 1), 2 log records (svc-a 1, judge 1), 1 verdict (judge 1); refused 1 span (invalid 1)');
    }
    // Idle: three more periods pass without a line.
    const seen = summaries().length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(summaries().length).toBe(seen);
    expect(v.proc.exitCode).toBeNull();
  });
});

describe('start-up problems', () => {
  const shared = new URL(ADMIN_URL);
  const at = (user: string, database: string) => `postgres://${user}@${shared.host}/${database}`;
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['an unparsable database URL', ['--database-url', 'notaurl'], {}, /^verdict: invalid --database-url: "notaurl" is not a URL; expected a URL such as postgres:\/\/user:password@host:5432\/database$/],
    ['an unparsable database URL with a password, not repeated', ['--database-url', 'postgres://verdict:s3cret@db host/verdict'], {}, /^verdict: invalid --database-url: "postgres:\/\/verdict:\*\*\*@db host\/verdict" is not a URL; /],
    ['a database URL of another scheme', [], { DATABASE_URL: 'http://db:5432/verdict' }, /^verdict: invalid DATABASE_URL: the scheme is "http", not postgres; /],
    ['a database host that does not resolve', ['--database-url', 'postgres://verdict:s3cret@verdict-no-such-host.invalid/verdict'], {}, /^verdict: cannot resolve the database host "verdict-no-such-host\.invalid" \(--database-url or DATABASE_URL\): /],
    ['a database that does not exist', ['--database-url', at('postgres', 'verdict_no_such_database')], {}, /^verdict: PostgreSQL at .+\/verdict_no_such_database has no such database \(--database-url or DATABASE_URL\): database "verdict_no_such_database" does not exist; create it first/],
    ['a user the server refuses', ['--database-url', at('verdict_no_such_role', 'test')], {}, /^verdict: PostgreSQL at .+ refused user "verdict_no_such_role" \(--database-url or DATABASE_URL\): role "verdict_no_such_role" does not exist$/],
    ['--host that is not an address of this machine', ['--host', '999.1.1.1', '--data-dir', 'memory://'], {}, /^verdict: cannot listen on host "999\.1\.1\.1" \(--host\): it is not an address of this machine/],
  ];
  // Each its own process, run side by side.
  it.concurrent.for(cases)('%s: one line naming the setting, exit code 2', async ([, args, env, message], { expect }) => {
    const v = spawnVerdict([...args, '--grpc-port', '0', '--http-port', '0', '--pg-port', '0'], env);
    expect(await v.exited).toBe(2);
    expect(v.stderr().trimEnd().split('\n')).toHaveLength(1);
    expect(v.stderr().trimEnd()).toMatch(message);
    expect(v.stderr()).not.toContain('s3cret');
  });

  it('a database that cannot be reached, with --database-wait 0: one line naming both settings, exit code 1; the stack with --log-level debug', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/verdict`;
    const v = spawnVerdict(['--database-url', url, '--database-wait', '0', '--grpc-port', '0', '--http-port', '0']);
    expect(await v.exited).toBe(1);
    expect(v.stderr().trimEnd().split('\n')).toHaveLength(1);
    expect(v.stderr()).toMatch(/^verdict: PostgreSQL at 127\.0\.0\.1:\d+\/verdict \(--database-url or DATABASE_URL\) is not reachable: connect ECONNREFUSED .* \(--database-wait 0: no waiting\)\n$/);
    const debug = spawnVerdict(['--database-url', url, '--database-wait', '0', '--grpc-port', '0', '--http-port', '0', '--log-level', 'debug']);
    expect(await debug.exited).toBe(1);
    expect(debug.stderr()).toMatch(/^verdict: StartupError: PostgreSQL at .*\n\s+at /);
  });

  it('a signal while start-up waits for the database stops it at once, exit code 0', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/verdict`;
    const v = spawnVerdict(['--database-url', url, '--grpc-port', '0', '--http-port', '0']);
    verdicts.push(v);
    const waiting = await v.waitFor((l) => /^cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/verdict \(connect ECONNREFUSED/.test(String(l.msg)));
    expect(waiting.msg).toMatch(/attempt 1, next in 0\.3s, waiting up to \d+(\.\d)?s more \(--database-wait\)$/);
    const signalled = Date.now();
    v.proc.kill('SIGTERM');
    expect(await v.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(v.lines.some((l) => l.msg === 'stopped before start-up finished')).toBe(true);
  });
});
