#!/usr/bin/env -S node --max-semi-space-size=4 --no-wasm-code-gc
// The shebang's flags are src/runtime.ts's NODE_FLAGS (the reasons are there).
// Verdict runs its TypeScript sources directly (bin/node-check.js says which Node.js can):
// on a Node.js that cannot, run again with the Node.js 24 that npm ci installed, or say what to do.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { advice, pinnedNode, typeStripping } from './node-check.js';

const FLAGS = ['--max-semi-space-size=4', '--no-wasm-code-gc'];
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const args = process.argv.slice(2);

function runWith(node, flags) {
  const child = spawn(node, [...flags, ...FLAGS, cli, ...args], { stdio: 'inherit' });
  // The child is Verdict: it hears the signals this process gets (SIGTERM from a supervisor, SIGHUP to reload rules).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    console.error(`verdict: cannot run ${node}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
}

if (typeStripping === 'native') {
  await import('../src/cli.ts');
} else {
  const pinned = pinnedNode();
  if (pinned) runWith(pinned, []);
  else if (typeStripping === 'flag') runWith(process.execPath, ['--experimental-strip-types', '--no-warnings']);
  else {
    console.error(advice);
    process.exit(1);
  }
}
