/**
 * One owner per embedded data directory, as users run Verdict: real
 * `verdict` processes. A second serve, migrate or prune on a directory in
 * use refuses at once (exit 2), naming the holder's PID; a holder killed
 * with SIGKILL leaves a lock that the next start recovers, with every
 * acknowledged span intact; an unusable --data-dir stops start-up with one
 * line naming it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/runtime.ts';
import { hexId, postJson, traceJson } from '../helpers/otlp.ts';
import { BIN, spawnVerdict, type VerdictProcess } from '../helpers/process.ts';
import { freePort } from '../helpers/server.ts';

const root = mkdtempSync(join(tmpdir(), 'verdict-datadir-'));
const running: VerdictProcess[] = [];
afterAll(async () => {
  for (const p of running) p.proc.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  rmSync(root, { recursive: true, force: true });
});

const PORTS = ['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1'];
const isReady = (l: Record<string, any>) => typeof l.msg === 'string' && l.msg.startsWith('verdict ready');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const inUse = (dataDir: string, pid: number) =>
  new RegExp(`^verdict: --data-dir ${escape(dataDir)} is in use by another Verdict \\(process ${pid} on [^,]+, since \\d{4}-[\\d-]+T[\\d:.]+Z\\): stop it first, or give this one another --data-dir\\n$`);

function start(args: string[]): VerdictProcess {
  const v = spawnVerdict(args);
  running.push(v);
  return v;
}

describe('one Verdict per data directory', () => {
  it('refuses a second serve, migrate and prune at once, naming the process that holds the directory', async () => {
    const dataDir = join(root, 'busy');
    const holder = start(['serve', '--data-dir', dataDir, '--pg-port', '0', ...PORTS]);
    await holder.waitFor(isReady, 60_000);
    const lock = JSON.parse(readFileSync(join(dataDir, 'verdict.lock'), 'utf8'));
    expect(lock.pid).toBe(holder.proc.pid);

    const others = [
      start(['serve', '--data-dir', dataDir, '--pg-port', String(await freePort()), ...PORTS]),
      start(['migrate', '--data-dir', dataDir]),
      start(['prune', '--older-than', '30d', '--data-dir', dataDir]),
    ];
    for (const v of others) {
      expect(await v.exited).toBe(2);
      expect(v.stderr()).toMatch(inUse(dataDir, holder.proc.pid!));
      // Refused before anything started: nothing logged but serve's first line, which names the Node.js.
      expect(v.lines.filter((l) => l.msg !== 'starting')).toEqual([]);
    }
    // The holder is untouched and still serves.
    expect(holder.proc.exitCode).toBeNull();
    expect(JSON.parse(readFileSync(join(dataDir, 'verdict.lock'), 'utf8'))).toEqual(lock);
    holder.proc.kill('SIGTERM');
    expect(await holder.exited).toBe(0);
    expect(existsSync(join(dataDir, 'verdict.lock'))).toBe(false);
  });

  it('recovers the lock of a holder killed with SIGKILL, and every span it acknowledged is there', { timeout: 120_000 }, async () => {
    const dataDir = join(root, 'killed');
    const first = start(['serve', '--data-dir', dataDir, '--pg-port', '0', ...PORTS]);
    const ready = await first.waitFor(isReady, 60_000);
    const http = `http://${ready.http[0]}`;
    const acknowledged: string[] = [];
    for (let i = 0; i < 30; i++) {
      const spans = Array.from({ length: 20 }, (_, j) => ({ traceId: hexId(16, 1000 + i), spanId: hexId(8, j + 1), name: `op ${j}`, startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' }));
      const res = await postJson(`${http}/v1/traces`, traceJson(spans));
      if (res.status === 200) acknowledged.push(hexId(16, 1000 + i));
    }
    expect(acknowledged).toHaveLength(30);
    // Killed right after the last acknowledgement: no shutdown, no checkpoint, the lock file left behind.
    first.proc.kill('SIGKILL');
    await first.exited;
    expect(first.proc.signalCode).toBe('SIGKILL');
    expect(JSON.parse(readFileSync(join(dataDir, 'verdict.lock'), 'utf8')).pid).toBe(first.proc.pid);

    const pgPort = await freePort();
    const second = start(['serve', '--data-dir', dataDir, '--pg-port', String(pgPort), ...PORTS]);
    const again = await second.waitFor(isReady, 60_000);
    expect(JSON.parse(readFileSync(join(dataDir, 'verdict.lock'), 'utf8')).pid).toBe(second.proc.pid);
    const c = new pg.Client(again.pgUrl);
    await c.connect();
    try {
      const { rows } = await c.query<{ trace_id: string; spans: string }>('SELECT trace_id, count(*) AS spans FROM verdict.spans GROUP BY trace_id ORDER BY trace_id');
      expect(rows).toEqual(acknowledged.sort().map((trace_id) => ({ trace_id, spans: '20' })));
    } finally {
      await c.end();
    }
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('takes over a lock whose PID now belongs to another process (a recycled PID); a database it cannot open is named in one line', { timeout: 60_000 }, async () => {
    const dataDir = join(root, 'recycled');
    mkdirSync(dataDir);
    // This test's own process is alive, but it is not the process that "took" this lock: its start time differs.
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(join(dataDir, 'verdict.lock'), JSON.stringify({ pid: process.pid, start: '1', boot, host: hostname(), since: '2026-01-01T00:00:00.000Z', nonce: 'x' }));
    const v = start(['migrate', '--data-dir', dataDir]);
    expect(await v.exited).toBe(0);
    expect(v.stderr()).toBe('');
    expect(v.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('applied'))).toBe(true);
    expect(existsSync(join(dataDir, 'verdict.lock'))).toBe(false); // released on exit

    // The same directory, as if another PostgreSQL version had made it: one line naming --data-dir, exit 2.
    writeFileSync(join(dataDir, 'PG_VERSION'), '16\n');
    const other = start(['migrate', '--data-dir', dataDir]);
    expect(await other.exited).toBe(2);
    expect(other.stderr()).toMatch(
      new RegExp(`^verdict: cannot open the embedded database in --data-dir ${escape(dataDir)} \\(PostgreSQL 16 files\\): [^\\n]+; if another version of Verdict made it, or it is damaged, restore it from a backup or choose a new --data-dir\\n$`),
    );
  });
});

describe('an unusable --data-dir', () => {
  it('that is a file stops start-up with one line naming it', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const v = start(['serve', '--data-dir', file, '--pg-port', '0', ...PORTS]);
    expect(await v.exited).toBe(2);
    expect(v.stderr()).toBe(`verdict: --data-dir ${file} is a file, not a directory: give the embedded database a directory of its own (or set --database-url)\n`);
  });

  it('that holds other files but no database stops start-up rather than scatter PostgreSQL\'s files among them', async () => {
    const dir = join(root, 'someones-files');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const v = start(['serve', '--data-dir', dir, '--pg-port', '0', ...PORTS]);
    expect(await v.exited).toBe(2);
    expect(v.stderr()).toBe(`verdict: --data-dir ${dir} holds other files ("notes.txt") but no database: give the embedded database an empty or new directory\n`);
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(false);
  });

  it('that this user may not write stops start-up with one line naming it (no stack trace)', async () => {
    const parent = join(root, 'read-only');
    mkdirSync(parent, { mode: 0o555 });
    const dataDir = join(parent, 'data');
    // Root writes anywhere; without CAP_DAC_OVERRIDE it obeys the permission bits like any user.
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', process.execPath] : [process.execPath];
    const p = spawn(asUser[0]!, [...asUser.slice(1), ...NODE_FLAGS, BIN, 'serve', '--data-dir', dataDir, '--pg-port', '0', ...PORTS], { env: { ...process.env, DATABASE_URL: '' } });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    expect(stderr).toBe(`verdict: cannot create --data-dir ${dataDir}: permission denied; choose a directory this user (uid ${process.getuid?.()}) can write, or create it with the right owner\n`);
    expect(code).toBe(2);
  });
});
