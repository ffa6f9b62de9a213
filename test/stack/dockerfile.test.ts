/**
 * The Dockerfile without Docker: its instructions read the way `docker build`
 * reads them (scripts/dockerfile.ts) and checked against the repository: a
 * multi-stage build whose COPY sources exist and are not excluded by
 * .dockerignore; a runtime stage that holds everything Verdict reads at run
 * time and only production dependencies, runs as a non-root user, listens on
 * all interfaces, exposes and health-checks the ports Verdict's configuration
 * uses (but not the embedded database's wire port, which stays on loopback),
 * and starts a command the CLI knows. `node scripts/image-dry-run.ts`
 * goes further and replays the build steps (see docs/grafana.md).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { helpText } from '../../src/commands.ts';
import { loadConfig } from '../../src/config.ts';
import { NODE_FLAGS } from '../../src/runtime.ts';
import { copyArgs, envPairs, isIgnored, parseDockerfile, parseDockerignore, readDockerfile, type Stage } from '../../scripts/dockerfile.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DF = readDockerfile(join(ROOT, 'Dockerfile'));
const IGNORE = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const FINAL = DF.stages.at(-1) as Stage;
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { type?: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };

const ins = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const lastOf = (stage: Stage, keyword: string) => ins(stage, keyword).at(-1);
const finalEnv = Object.fromEntries(ins(FINAL, 'ENV').flatMap(envPairs));
/** The context paths a stage copies in (`COPY src dest` without --from), as written. */
const contextSources = (stage: Stage) => ins(stage, 'COPY').filter((i) => i.flags.from === undefined).flatMap((i) => copyArgs(i).sources.map((s) => s.replace(/^\.\//, '').replace(/\/$/, '')));
/** Top-level names present in a stage's working directory after its COPYs. */
const topLevel = (stage: Stage) =>
  new Set(
    ins(stage, 'COPY').flatMap((i) => {
      const { sources, dest } = copyArgs(i);
      return sources.map((s) => (dest === './' || dest === '.' || dest.endsWith('/') ? s.split('/').filter(Boolean).at(-1) : dest.replace(/^\.\//, '').split('/')[0]) as string);
    }),
  );

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|js|mjs)$/.test(e)) out.push(p);
  }
  return out;
}
/** Module specifiers a file imports at run time (`import type` is erased and left out). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  return out;
}
const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string));

describe('the Dockerfile parser', () => {
  it('reads directives, continuations, flags, exec and shell forms, and stages', () => {
    const df = parseDockerfile(`# syntax=docker/dockerfile:1
# a comment
FROM node:24 AS build
ENV A=1 \\
    B="two words"
COPY --from=deps --chown=node:node /app/x ./x
RUN echo one \\
  && echo two
FROM node:24
HEALTHCHECK --interval=5s CMD ["node", "-e", "1"]
CMD ["serve"]
`);
    expect(df.directives).toEqual({ syntax: 'docker/dockerfile:1' });
    expect(df.stages.map((s) => [s.name, s.base])).toEqual([['build', 'node:24'], ['1', 'node:24']]);
    const [, env, copy, run] = df.stages[0]!.instructions;
    expect(envPairs(env!)).toEqual([['A', '1'], ['B', 'two words']]);
    expect(copy!.flags).toEqual({ from: 'deps', chown: 'node:node' });
    expect(copyArgs(copy!)).toEqual({ sources: ['/app/x'], dest: './x' });
    expect(run!.text).toBe('echo one    && echo two');
    expect(df.stages[1]!.instructions[1]!).toMatchObject({ keyword: 'HEALTHCHECK', flags: { interval: '5s' }, exec: ['node', '-e', '1'] });
  });

  it('matches .dockerignore patterns like docker build (a directory excludes its contents; ! re-includes)', () => {
    const rules = parseDockerignore('node_modules\n*.log\nbench/scratch\n**/tmp\n!keep.log\n# comment\n');
    expect(isIgnored(rules, 'node_modules/pg/index.js')).toBe(true);
    expect(isIgnored(rules, 'debug.log')).toBe(true);
    expect(isIgnored(rules, 'src/debug.log')).toBe(false);
    expect(isIgnored(rules, 'keep.log')).toBe(false);
    expect(isIgnored(rules, 'bench/scratch/a.ts')).toBe(true);
    expect(isIgnored(rules, 'bench/workload.ts')).toBe(false);
    expect(isIgnored(rules, 'a/b/tmp/c')).toBe(true);
  });
});

describe('the Dockerfile', () => {
  it('is a multi-stage build whose stages and COPY --from references exist', () => {
    expect(DF.directives.syntax).toBe('docker/dockerfile:1');
    expect(DF.stages.length).toBeGreaterThanOrEqual(2);
    const names = DF.stages.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of DF.stages) {
      expect(s.base, s.name).toMatch(/^node:24[\w.-]*$/);
      for (const c of ins(s, 'COPY').filter((i) => i.flags.from !== undefined)) {
        expect(names.slice(0, s.index), `line ${c.line}: --from=${c.flags.from}`).toContain(c.flags.from);
      }
    }
  });

  it('copies only paths that exist in the build context and that .dockerignore leaves in', () => {
    for (const s of DF.stages) {
      for (const src of contextSources(s)) {
        expect(existsSync(join(ROOT, src)), `${s.name}: COPY ${src}`).toBe(true);
        expect(isIgnored(IGNORE, src), `${s.name}: COPY ${src} is excluded by .dockerignore`).toBe(false);
      }
    }
    // Local installs and the embedded database's files stay out of the context.
    for (const p of ['node_modules/pg/package.json', 'verdict-data/PG_VERSION', '.git/HEAD']) expect(isIgnored(IGNORE, p), p).toBe(true);
  });

  it('type-checks in the build stage with everything the type-check reaches', () => {
    const build = DF.stages.find((s) => ins(s, 'RUN').some((r) => /\btsc\b/.test(r.text)));
    expect(build, 'no stage runs tsc').toBeDefined();
    const copied = topLevel(build!);
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[]; exclude?: string[] };
    for (const dir of tsconfig.include) expect(copied, `tsconfig includes ${dir}`).toContain(dir);
    // Files those directories import from elsewhere in the repository must be in the stage too.
    const excluded = (tsconfig.exclude ?? []).map((e) => join(ROOT, e));
    for (const dir of tsconfig.include) {
      for (const file of walk(join(ROOT, dir)).filter((f) => !excluded.some((e) => f.startsWith(e)))) {
        for (const spec of runtimeImports(file).filter((x) => x.startsWith('.'))) {
          const top = relative(ROOT, resolve(dirname(file), spec)).split('/')[0] as string;
          expect(copied, `${relative(ROOT, file)} imports ${spec}`).toContain(top);
        }
      }
    }
  });

  it('installs production dependencies only in the runtime image, and the runtime code imports nothing else', () => {
    const deps = ins(FINAL, 'COPY').find((i) => copyArgs(i).dest.replace(/^\.\//, '') === 'node_modules');
    const from = DF.stages.find((s) => s.name === deps?.flags.from);
    expect(from, 'node_modules copied from a stage').toBeDefined();
    expect(ins(from!, 'RUN').map((r) => r.text).join('\n')).toMatch(/npm ci\b.*--omit=dev/);
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    for (const file of [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'bin'))]) {
      for (const spec of runtimeImports(file).filter((x) => !x.startsWith('.') && !builtins.has(x) && !x.startsWith('node:'))) {
        expect(Object.keys(PKG.dependencies), `${relative(ROOT, file)} imports ${spec} at run time`).toContain(packageOf(spec));
      }
    }
  });

  it('puts everything Verdict reads at run time into the runtime stage', () => {
    const copied = topLevel(FINAL);
    for (const needed of ['bin', 'src', 'node_modules', 'package.json']) expect(copied, needed).toContain(needed);
    // package.json makes bin/verdict.js an ES module.
    expect(PKG.type).toBe('module');
    // Directories the sources resolve next to themselves (proto/, sql/).
    for (const file of walk(join(ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/new URL\('((?:\.\.\/)+)([\w-]+)\/?'\s*,\s*import\.meta\.url\)/g)) {
        const top = relative(ROOT, resolve(dirname(file), `${m[1]}${m[2]}`)).split('/')[0] as string;
        if (top !== 'src') expect(copied, `${relative(ROOT, file)} reads ${top}/`).toContain(top);
      }
    }
  });

  it('runs as a non-root user, on all interfaces, the command the CLI knows, with the OTLP ports exposed and health-checked and the embedded database\'s port not', () => {
    const user = lastOf(FINAL, 'USER')?.text;
    expect(user, 'USER').toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(lastOf(FINAL, 'ENTRYPOINT')?.exec).toEqual(['node', ...NODE_FLAGS, 'bin/verdict.js']);
    expect(existsSync(join(ROOT, 'bin/verdict.js'))).toBe(true);
    const cmd = lastOf(FINAL, 'CMD')?.exec ?? [];
    const commands = [...helpText().matchAll(/^ {2}verdict \[?(\w+)\]?/gm)].map((m) => m[1]);
    expect(commands).toContain(cmd[0]);
    const cfg = loadConfig({ argv: cmd.slice(1), env: finalEnv });
    expect(cfg.host).toBe('0.0.0.0');
    const exposed = (lastOf(FINAL, 'EXPOSE')?.words ?? []).map(Number);
    expect(exposed.sort()).toEqual([cfg.grpcPort, cfg.httpPort].sort());
    // The embedded database's wire port stays on the container's loopback (VERDICT_HOST does not move it) and is not exposed.
    expect(cfg.pgHost).toBe('127.0.0.1');
    expect(exposed).not.toContain(cfg.pgPort);
    const health = lastOf(FINAL, 'HEALTHCHECK');
    expect(health?.exec?.[0]).toBe('node');
    expect(health!.exec!.join(' ')).toContain(`http://127.0.0.1:${cfg.httpPort}/readyz`);
    // The embedded database's directory is a volume the non-root user can write.
    expect(lastOf(FINAL, 'VOLUME')?.text).toBe(cfg.dataDir);
    expect(ins(FINAL, 'RUN').map((r) => r.text).join('\n')).toContain(`chown ${user}:${user} ${cfg.dataDir}`);
  });
});
