#!/usr/bin/env node
/**
 * Builds the Dockerfile's stages without Docker, in temporary directories,
 * then runs the final stage the way the container would and probes it with
 * the image's HEALTHCHECK. For machines without a Docker engine.
 *
 *   node scripts/image-dry-run.ts [--database-url postgres://…] [--keep] [--keep-going]
 *
 * --keep-going: a failing RUN step is reported and the build goes on (the
 * script still exits 1), to see whether the later steps pass.
 *
 * Each stage gets its own directory standing for its filesystem root. The
 * script follows the Dockerfile as written: WORKDIR, ENV, COPY (from the
 * build context minus .dockerignore, or `--from` an earlier stage) and RUN
 * (with `sh -c` in the stage's working directory). What it cannot do without
 * an image it says, and skips:
 * - the base image itself (the stages run on this machine's Node.js and shell,
 *   not on node:24-bookworm-slim);
 * - RUN steps that touch absolute paths outside the working directory
 *   (e.g. `mkdir -p /data && chown node:node /data`), and USER (everything
 *   runs as the current user).
 * npm steps run with npm_config_prefer_offline=true so the local cache is used.
 *
 * Then, in the final stage's directory: `ENTRYPOINT --help`, and
 * `ENTRYPOINT CMD` with the stage's ENV (paths under / mapped into the stage
 * directory, ports moved to free ones), the HEALTHCHECK command retried
 * until it passes, SIGTERM, and a clean exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyArgs, envPairs, isIgnored, parseDockerignore, readDockerfile, type IgnoreRule, type Stage } from './dockerfile.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const databaseUrl = args.includes('--database-url') ? args[args.indexOf('--database-url') + 1] : undefined;
const keep = args.includes('--keep');
const keepGoing = args.includes('--keep-going');
const failures: string[] = [];

const log = (msg: string) => process.stdout.write(`${msg}\n`);
const skipped: string[] = [];

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Copies a context path into dest, leaving out what .dockerignore excludes. */
function copyFromContext(rules: readonly IgnoreRule[], src: string, dest: string): void {
  const abs = join(ROOT, src);
  if (!existsSync(abs)) throw new Error(`COPY ${src}: not in the build context`);
  if (isIgnored(rules, src)) throw new Error(`COPY ${src}: excluded by .dockerignore`);
  if (statSync(abs).isDirectory()) {
    mkdirSync(dest, { recursive: true });
    for (const entry of readdirSync(abs)) {
      const rel = posix.join(src, entry);
      if (!isIgnored(rules, rel)) copyFromContext(rules, rel, join(dest, entry));
    }
  } else {
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(abs, dest);
  }
}

interface Built {
  stage: Stage;
  root: string;
  workdir: string;
  env: Record<string, string>;
}

function buildStage(stage: Stage, built: Map<string, Built>, rules: readonly IgnoreRule[], base: string): Built {
  const root = join(base, `${stage.index}-${stage.name}`);
  mkdirSync(root, { recursive: true });
  const b: Built = { stage, root, workdir: '/', env: {} };
  const inRoot = (p: string) => join(root, posix.resolve(b.workdir, p));
  log(`\n== stage ${stage.name} (FROM ${stage.base}: the base image is not used; this machine's Node ${process.version} stands in)`);
  for (const ins of stage.instructions.slice(1)) {
    const flags = Object.entries(ins.flags).map(([k, v]) => (v === '' ? `--${k} ` : `--${k}=${v} `)).join('');
    const where = `line ${ins.line}: ${ins.keyword} ${flags}${ins.text}`;
    switch (ins.keyword) {
      case 'WORKDIR':
        b.workdir = posix.resolve(b.workdir, ins.text);
        mkdirSync(join(root, b.workdir), { recursive: true });
        log(`   ${where}`);
        break;
      case 'ENV':
        for (const [k, v] of envPairs(ins)) b.env[k] = v;
        log(`   ${where}`);
        break;
      case 'COPY': {
        const { sources, dest } = copyArgs(ins);
        const from = ins.flags.from;
        for (const src of sources) {
          const target = sources.length > 1 || dest.endsWith('/') ? posix.join(dest, posix.basename(src)) : dest;
          if (from !== undefined) {
            const other = built.get(from);
            if (!other) throw new Error(`${where}: no earlier stage named ${from}`);
            const abs = join(other.root, src);
            if (!existsSync(abs)) throw new Error(`${where}: ${src} does not exist in stage ${from}`);
            cpSync(abs, inRoot(target), { recursive: true });
          } else {
            copyFromContext(rules, src.replace(/^\.\//, '').replace(/\/$/, ''), inRoot(target));
          }
        }
        log(`   ${where}`);
        break;
      }
      case 'RUN': {
        const cmd = ins.exec ? ins.exec.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ') : ins.text;
        if (/(^|[\s;&|])\/(?!dev\/null)/.test(cmd)) {
          skipped.push(`${stage.name} ${where} (absolute paths outside the working directory)`);
          log(`   ${where}   -- SKIPPED: touches absolute paths, needs the image's filesystem`);
          break;
        }
        log(`   ${where}`);
        const r = spawnSync('sh', ['-c', cmd], {
          cwd: join(root, b.workdir),
          stdio: 'inherit',
          env: { ...process.env, ...b.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
        });
        if (r.status !== 0) {
          if (!keepGoing) throw new Error(`${where}: exited with ${r.status ?? r.signal}`);
          failures.push(`${stage.name} ${where}: exited with ${r.status ?? r.signal}`);
          log(`   ${where}   -- FAILED (going on: --keep-going)`);
        }
        break;
      }
      case 'USER':
        skipped.push(`${stage.name} ${where} (everything runs as ${process.env.USER ?? 'the current user'})`);
        log(`   ${where}   -- not applied: runs as the current user`);
        break;
      default:
        log(`   ${where}   (recorded)`);
    }
  }
  return b;
}

function last(stage: Stage, keyword: string) {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}

async function runFinal(b: Built): Promise<void> {
  const entry = last(b.stage, 'ENTRYPOINT')?.exec;
  const cmd = last(b.stage, 'CMD')?.exec ?? [];
  const health = last(b.stage, 'HEALTHCHECK')?.exec;
  if (!entry) throw new Error('the final stage has no exec-form ENTRYPOINT');
  const cwd = join(b.root, b.workdir);
  const exe = (argv: string[]) => (argv[0] === 'node' ? process.execPath : (argv[0] as string));

  log(`\n== ${[...entry, '--help'].join(' ')}`);
  const help = spawnSync(exe(entry), [...entry.slice(1), '--help'], { cwd, encoding: 'utf8' });
  if (help.status !== 0 || !help.stdout.includes('Usage:')) throw new Error(`--help failed: ${help.stderr}`);
  log(help.stdout.split('\n')[0] as string);

  // The image's environment, with absolute paths mapped into the stage directory and free ports.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.env)) env[k] = v.startsWith('/') ? join(b.root, v) : v;
  for (const v of Object.values(env)) if (v.startsWith(b.root)) mkdirSync(v, { recursive: true });
  const [grpcPort, httpPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  Object.assign(env, { VERDICT_GRPC_PORT: String(grpcPort), VERDICT_HTTP_PORT: String(httpPort), VERDICT_PG_PORT: String(pgPort) });
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  log(`\n== ${[...entry, ...cmd].join(' ')}  (env: ${Object.entries(env).map(([k, v]) => `${k}=${k === 'DATABASE_URL' ? '…' : v}`).join(' ')})`);
  const child = spawn(exe(entry), [...entry.slice(1), ...cmd], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));

  try {
    if (!health) throw new Error('the final stage has no exec-form HEALTHCHECK');
    // The probe, with the image's port moved to the one this run uses.
    const probe = health.map((a) => a.replaceAll(':4318/', `:${httpPort}/`));
    log(`== HEALTHCHECK ${probe.join(' ')}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = spawnSync(exe(probe), probe.slice(1), { cwd, encoding: 'utf8' });
      if (r.status === 0) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the health check never passed; output:\n${output}`);
      await new Promise((res) => setTimeout(res, 500));
    }
    log('   healthy');
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  if (code !== 0) throw new Error(`exited with ${code} after SIGTERM; output:\n${output}`);
  log('   stopped cleanly on SIGTERM');
}

async function main(): Promise<void> {
  const df = readDockerfile(join(ROOT, 'Dockerfile'));
  const rules = parseDockerignore(existsSync(join(ROOT, '.dockerignore')) ? readFileSync(join(ROOT, '.dockerignore'), 'utf8') : '');
  const base = mkdtempSync(join(tmpdir(), 'verdict-image-'));
  log(`building in ${base}`);
  try {
    const built = new Map<string, Built>();
    let final: Built | null = null;
    for (const stage of df.stages) {
      final = buildStage(stage, built, rules, base);
      built.set(stage.name, final);
    }
    if (!final) throw new Error('the Dockerfile has no stages');
    await runFinal(final);
    if (skipped.length) log(`\nNot run here (need Docker):\n${skipped.map((s) => `  - ${s}`).join('\n')}`);
    if (failures.length) throw new Error(`the final stage ran, but these steps failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    log(`\nOK: every stage built and the final stage ran and passed its health check.`);
  } finally {
    if (keep) log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`image dry run FAILED: ${(err as Error).message}\n`);
  process.exit(1);
});


