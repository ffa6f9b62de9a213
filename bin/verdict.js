#!/usr/bin/env -S node --max-semi-space-size=4
// The shebang's flag is src/runtime.ts's NODE_FLAGS (the reason is there).
// Verdict runs its TypeScript sources directly: Node.js 22.18+ and 24 strip types natively.
// Older Node 22 releases need the flag, so re-run with it there.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`verdict needs Node.js 22.18 or newer (24 LTS recommended); this is Node.js ${process.versions.node}`);
  process.exit(1);
}

if (process.features.typescript) {
  await import('../src/cli.ts');
} else {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', '--max-semi-space-size=4', cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
