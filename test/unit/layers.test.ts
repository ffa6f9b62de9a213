/**
 * The layers of src/ import one way only: each module may import modules of
 * its own unit (folder, or top-level file) and of the units below it, never
 * of a unit above it or beside it. The order is the path data takes, from
 * the leaves every layer shares up to the command line (docs/design.md).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Lowest first. Units on one line share a layer and may not import each other. */
export const LAYERS: ReadonlyArray<readonly string[]> = [
  ['common/', 'errors.ts', 'log.ts', 'runtime.ts', 'metrics.ts'],
  ['model/'],
  ['otlp/', 'store/'],
  ['normalize/'],
  ['rules/', 'feedback/', 'loop/', 'review/', 'judges/'],
  ['pipeline/'],
  ['ingest.ts'],
  ['receivers/'],
  ['config.ts'],
  ['app/'],
  ['commands.ts'],
  ['cli.ts'],
];

/** The unit of a path relative to src/: its first folder (with a slash), or the file itself. */
function unitOf(path: string): string {
  const slash = path.indexOf('/');
  return slash === -1 ? path : path.slice(0, slash + 1);
}

function layerOf(unit: string): number {
  const i = LAYERS.findIndex((units) => units.includes(unit));
  if (i === -1) throw new Error(`src/${unit} is in no layer: add it to LAYERS in test/unit/layers.test.ts`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative import specifiers of a module: static imports and re-exports, and dynamic import() of string literals. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]/gm)) found.push(m[1] as string);
  for (const m of text.matchAll(/^\s*import\s+['"](\.[^'"]+)['"]/gm)) found.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)) found.push(m[1] as string);
  for (const m of text.matchAll(/new URL\(\s*['"](\.[^'"]+\.ts)['"],\s*import\.meta\.url\)/g)) found.push(m[1] as string);
  return found;
}

/** Every import that runs against the layering, as "from → to" lines. */
export function backEdges(files: Array<{ path: string; text: string }>): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = unitOf(f.path);
    for (const spec of importsOf(f.text)) {
      const target = relative(SRC, resolve(SRC, dirname(f.path), spec)).replaceAll('\\', '/');
      const to = unitOf(target);
      if (to === from) continue;
      if (target.startsWith('..')) bad.push(`src/${f.path} → ${spec} (outside src/)`);
      else if (layerOf(to) >= layerOf(from)) bad.push(`src/${f.path} → src/${target} (${to} is ${layerOf(to) === layerOf(from) ? 'beside' : 'above'} ${from})`);
    }
  }
  return bad;
}

describe('the layers of src/', () => {
  const files = sources(SRC).map((p) => ({ path: relative(SRC, p).replaceAll('\\', '/'), text: readFileSync(p, 'utf8') }));

  it('import only downwards', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(backEdges(files)).toEqual([]);
  });

  it('would catch an import upwards, beside, or out of src/', () => {
    const probe = (path: string, spec: string) => backEdges([{ path, text: `import { x } from '${spec}';\n` }]);
    expect(probe('normalize/spans.ts', '../app/server.ts')).toHaveLength(1);
    expect(probe('rules/engine.ts', '../feedback/policy.ts')).toHaveLength(1);
    expect(probe('store/writer.ts', '../normalize/spans.ts')).toHaveLength(1);
    expect(probe('common/util.ts', '../../test/helpers/seed.ts')).toHaveLength(1);
    expect(probe('store/pglite/worker-store.ts', '../writer.ts')).toEqual([]);
    expect(probe('app/server.ts', '../store/open.ts')).toEqual([]);
    // Dynamic imports and worker entry points count too.
    expect(backEdges([{ path: 'store/open.ts', text: "const m = await import('../app/server.ts');\n" }])).toHaveLength(1);
    expect(backEdges([{ path: 'otlp/proto.ts', text: "new Worker(new URL('../receivers/http.ts', import.meta.url));\n" }])).toHaveLength(1);
  });
});
