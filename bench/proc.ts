/** CPU time and memory of a process, read from /proc (Linux); starting `verdict serve` and the load generator. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../src/runtime.ts';
import type { LoadResult, LoadSpec } from './loadgen.ts';

const TICKS = 100; // USER_HZ on Linux

/** User and system (kernel) CPU seconds of a process and its threads. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / TICKS, system: Number(fields[12]) / TICKS };
}

/** User + system CPU seconds of a process and its threads. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** Resident set size now and at its peak (VmHWM), in bytes. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The parent of a process. */
export function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * CPU seconds of a PostgreSQL server: its postmaster and every process it
 * started (backends, WAL writer, checkpointer, …), and no other server's,
 * so a second cluster busy on the same machine is not counted. Backends that
 * ended meanwhile are not counted either: keep the connections open.
 */
export function serverCpuSeconds(postmaster: number): number {
  let total = cpuSeconds(postmaster);
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentPid(Number(entry)) === postmaster) total += cpuSeconds(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = line as number[];
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / TICKS;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Runs the load generator (bench/loadgen.ts) in a process of its own and returns its result line; `onGo` when its timed phase starts. */
export function runLoadgen(spec: LoadSpec, onGo?: () => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(new URL('./loadgen.ts', import.meta.url)), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      const first = out === '';
      out += d.toString();
      if (first && onGo && out.startsWith('go\n')) onGo();
    });
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult) : reject(new Error(`loadgen exited ${code}`))));
  });
}

/** The start-up line of `verdict serve` (VERDICT_LOG_FORMAT=json): where it listens. */
export interface ServeReady {
  http: string[];
  admin?: string[];
}

/**
 * Starts `verdict serve` (the bin at `bin`, with Verdict's Node.js flags and
 * `nodeFlags`) and resolves once it has said where it listens; its log after
 * that is drained. Rejects with its stderr when it exits before.
 */
export async function startServe(bin: string, args: readonly string[], nodeFlags: readonly string[] = []): Promise<{ proc: ChildProcess; ready: ServeReady }> {
  const proc = spawn(process.execPath, [...NODE_FLAGS, ...nodeFlags, bin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VERDICT_LOG_FORMAT: 'json' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<ServeReady>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) if (line.includes('verdict ready')) resolve(JSON.parse(line));
    });
    proc.on('exit', (code) => reject(new Error(`receiver exited ${code}: ${err}`)));
  });
  proc.stdout!.resume();
  return { proc, ready };
}
