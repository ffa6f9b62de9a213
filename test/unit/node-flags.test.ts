/**
 * Verdict's Node.js flags (src/runtime.ts) are on the command line of every
 * way it is started, since V8 reads them only at start and Node.js refuses
 * one of them in NODE_OPTIONS. (The Docker image's entry point is checked in
 * test/stack/dockerfile.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS, WASM_CODE_GC_OFF } from '../../src/runtime.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe("Verdict's Node.js flags", () => {
  it('are on npm start', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${NODE_FLAGS.join(' ')} bin/verdict.js serve`);
  });

  it("are on the verdict bin's shebang and on the Node.js it runs again with", () => {
    const bin = read('bin/verdict.js');
    expect(bin.split('\n')[0]).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    const flags = /^const FLAGS = (\[.*\]);$/m.exec(bin)?.[1];
    expect(flags, 'bin/verdict.js has a FLAGS array').toBeDefined();
    expect(JSON.parse(flags!.replaceAll("'", '"'))).toEqual(NODE_FLAGS);
  });

  it('turn off WebAssembly code collection in this test process too (vitest.config.ts)', () => {
    expect(process.execArgv).toContain(WASM_CODE_GC_OFF);
  });
});
