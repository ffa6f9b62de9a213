/**
 * `npm run bench:memory`: the resident memory of `verdict serve` on the
 * embedded database, as a user meets it. Starts the receiver as a child
 * process (same Node flags as the `verdict` bin) on a fresh data directory
 * and samples its /proc status every 20 ms:
 *
 *   1. start-up: VmHWM when the ready line is printed (the start-up peak),
 *      on an empty directory (initdb runs) and again on the same directory
 *      (the everyday restart);
 *   2. idle: RSS after `--idle` seconds with nothing to do, and the peak
 *      reached meanwhile (the WebAssembly compiler tiers up in background);
 *   3. under load: the load generator (bench/loadgen.ts, its own process)
 *      sends `--spans` spans closed-loop; the highest RSS sampled meanwhile,
 *      the throughput it measured, and the receiver's CPU time per span
 *      (which, unlike spans per second, hardly depends on how busy the
 *      machine is).
 *
 * Also prints how busy the machine was (load average, CPU count): RSS is
 * not very sensitive to CPU contention, throughput is.
 *
 *   node bench/memory.ts [--spans 200000] [--transport http|grpc] [--idle 30] [--node-flags "--liftoff-only"]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, memory, runLoadgen } from './proc.ts';
import { NODE_FLAGS } from '../src/runtime.ts';

const BIN = fileURLToPath(new URL('../bin/verdict.js', import.meta.url));
const MB = 1024 * 1024;
const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? undefined : argv[i + 1];
}

/** A receiver process and the RSS samples taken of it. */
interface Receiver {
  proc: ChildProcess;
  address: { grpc: string; http: string };
  readyMs: number;
  /** Highest VmRSS sampled since the last `resetMax`. */
  maxRss(): number;
  resetMax(): void;
  stop(): Promise<void>;
}

/** A free loopback port for the wire port (0 would turn it off, and 5433 may be taken). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startReceiver(dataDir: string, extraNodeFlags: string[]): Promise<Receiver> {
  const pgPort = await freePort();
  const started = performance.now();
  const proc = spawn(
    process.execPath,
    [...NODE_FLAGS, ...extraNodeFlags, BIN, 'serve', '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--data-dir', dataDir, '--pg-port', String(pgPort), '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '' } },
  );
  let max = 0;
  const sample = () => {
    try {
      max = Math.max(max, memory(proc.pid!).rss);
    } catch {
      // The process has exited.
    }
  };
  const timer = setInterval(sample, 20);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<{ grpc: string[]; http: string[] }>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) if (line.includes('verdict ready')) resolve(JSON.parse(line));
    });
    proc.on('exit', (code) => reject(new Error(`receiver exited ${code}: ${err}`)));
  });
  return {
    proc,
    address: { grpc: ready.grpc[0]!, http: ready.http[0]! },
    readyMs: performance.now() - started,
    maxRss: () => (sample(), max),
    resetMax: () => (max = 0),
    stop: () =>
      new Promise((resolve) => {
        clearInterval(timer);
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}


interface Figures {
  startupPeak: number;
  readyRss: number;
  readyMs: number;
  idleRss: number;
  idlePeak: number;
}

/** Starts a receiver, reads the start-up peak, then idles and reads RSS again. */
async function startAndIdle(dataDir: string, idleSeconds: number, nodeFlags: string[]): Promise<{ r: Receiver; f: Figures }> {
  const r = await startReceiver(dataDir, nodeFlags);
  const atReady = memory(r.proc.pid!);
  log(`  ready in ${(r.readyMs / 1000).toFixed(1)} s: RSS ${mb(atReady.rss)}, start-up peak (VmHWM) ${mb(atReady.peak)}; idling ${idleSeconds} s`);
  await sleep(idleSeconds * 1000);
  const idle = memory(r.proc.pid!);
  log(`  idle: RSS ${mb(idle.rss)}, peak so far ${mb(idle.peak)}`);
  return { r, f: { startupPeak: atReady.peak, readyRss: atReady.rss, readyMs: r.readyMs, idleRss: idle.rss, idlePeak: idle.peak } };
}

const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const spans = Number(flag(argv, 'spans') ?? 200_000);
  const transport = (flag(argv, 'transport') ?? 'http') as 'http' | 'grpc';
  const idleSeconds = Number(flag(argv, 'idle') ?? 30);
  const nodeFlags = (flag(argv, 'node-flags') ?? '').split(' ').filter(Boolean);
  const load0 = loadavg();
  log(`verdict bench:memory: ${cpus().length} × ${cpus()[0]?.model}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}; Node flags ${[...NODE_FLAGS, ...nodeFlags].join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'verdict-memory-'));
  const dataDir = join(dir, 'data');
  try {
    log('\n[first start, empty data directory]');
    const first = await startAndIdle(dataDir, idleSeconds, nodeFlags);
    log(`  load: ${spans} spans over ${transport}, 16 in flight`);
    first.r.resetMax();
    const address = transport === 'grpc' ? first.r.address.grpc : first.r.address.http;
    const cpu0 = cpuSeconds(first.r.proc.pid!);
    const result = await runLoadgen({ transport, address, tracesPerRequest: 51, spans, concurrency: 16, rate: 0, salt: Math.floor(Math.random() * 2 ** 30) });
    // CPU time per span barely depends on how busy the machine is, unlike spans per second.
    const cpuPerKiloSpan = ((cpuSeconds(first.r.proc.pid!) - cpu0) / result.ackedSpans) * 1000;
    const underLoad = first.r.maxRss();
    const after = memory(first.r.proc.pid!);
    log(`  under load: highest RSS ${mb(underLoad)}; ${Math.round(result.spansPerSecond)} spans/s, receiver CPU ${cpuPerKiloSpan.toFixed(3)} s per 1,000 spans; failed ${result.failed}; peak since start ${mb(after.peak)}`);
    await first.r.stop();

    log('\n[restart on the same data directory]');
    const again = await startAndIdle(dataDir, idleSeconds, nodeFlags);
    await again.r.stop();
    const load1 = loadavg();

    const rows = [
      ['start-up peak (VmHWM at ready)', mb(first.f.startupPeak), mb(again.f.startupPeak)],
      ['RSS at ready', mb(first.f.readyRss), mb(again.f.readyRss)],
      ['time to ready', `${(first.f.readyMs / 1000).toFixed(1)} s`, `${(again.f.readyMs / 1000).toFixed(1)} s`],
      [`idle RSS after ${idleSeconds} s`, mb(first.f.idleRss), mb(again.f.idleRss)],
      [`peak by then (VmHWM)`, mb(first.f.idlePeak), mb(again.f.idlePeak)],
      [`highest RSS under load (${spans} spans, ${transport})`, mb(underLoad), ''],
      ['peak of the whole run (VmHWM)', mb(after.peak), ''],
      ['throughput under load', `${Math.round(result.spansPerSecond)} spans/s`, ''],
      ['receiver CPU per 1,000 spans', `${cpuPerKiloSpan.toFixed(3)} s`, ''],
    ];
    process.stdout.write(
      `\n| | empty data directory | restart on it |\n|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n\n` +
        `machine: ${cpus().length} cores, load average ${load0[0]!.toFixed(2)} at the start, ${load1[0]!.toFixed(2)} at the end; Node ${process.version}; flags ${[...NODE_FLAGS, ...nodeFlags].join(' ')}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  log(`bench:memory failed: ${(err as Error).stack}`);
  process.exit(1);
});
