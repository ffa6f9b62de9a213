/** Runs `bin/verdict.js` as a real child process and reads its JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/runtime.ts';

export const BIN = fileURLToPath(new URL('../../bin/verdict.js', import.meta.url));

export interface VerdictProcess {
  proc: ChildProcess;
  lines: Array<Record<string, any>>;
  stderr(): string;
  /** Resolves with the first log line matching, or rejects after `ms`. */
  waitFor(match: (line: Record<string, any>) => boolean, ms?: number): Promise<Record<string, any>>;
  exited: Promise<number | null>;
}

export function spawnVerdict(args: string[], env: Record<string, string> = {}): VerdictProcess {
  const proc = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], { env: { ...process.env, DATABASE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, any>> = [];
  let err = '';
  let buffered = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ raw: line });
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    waitFor(match, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${ms} ms; got ${JSON.stringify(lines)} stderr ${err}`)), ms);
        const check = () => {
          const found = lines.find(match);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          } else waiters.push(check);
        };
        void exited.then(() => setTimeout(check, 50));
        check();
      });
    },
  };
}
