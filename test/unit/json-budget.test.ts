/** The JSON pre-scan: depth and values, arrays and objects alike, strings skipped exactly (escapes included). */
import { describe, expect, it } from 'vitest';
import { jsonExcessBytes, jsonExcessText, parseEmbeddedJson } from '../../src/common/json-budget.ts';

const both = (s: string, maxDepth: number, maxNodes: number) => {
  const a = jsonExcessText(s, { maxDepth, maxNodes });
  expect(jsonExcessBytes(Buffer.from(s), { maxDepth, maxNodes })).toEqual(a);
  return a;
};

describe('JSON pre-scan', () => {
  it('measures depth over arrays and objects alike', () => {
    expect(both('[[[1]]]', 3, 100)).toBeNull();
    expect(both('[[[1]]]', 2, 100)).toEqual({ limit: 'depth', max: 2 });
    expect(both('{"a":{"b":{"c":1}}}', 2, 100)).toEqual({ limit: 'depth', max: 2 });
    expect(both('[{"a":[1]}]', 2, 100)).toEqual({ limit: 'depth', max: 2 });
    // Depth falls again after a close: siblings do not add up.
    expect(both('[[1],[2],[3],[4]]', 2, 100)).toBeNull();
  });

  it('counts values: containers and separated elements', () => {
    // Root array + 5 elements.
    expect(both('[1,2,3,4,5]', 10, 6)).toBeNull();
    expect(both('[1,2,3,4,5]', 10, 5)).toEqual({ limit: 'nodes', max: 5 });
    expect(both('[[],[],[]]', 10, 4)).toEqual({ limit: 'nodes', max: 4 });
  });

  it('skips strings, with escaped quotes and backslashes, whatever they hold', () => {
    expect(both('["[[[[{{{{,,,,"]', 2, 3)).toBeNull();
    expect(both(String.raw`["a\"[[[[", "b"]`, 1, 100)).toBeNull();
    expect(both(String.raw`["a\\", [[1]]]`, 2, 100)).toEqual({ limit: 'depth', max: 2 });
    expect(both(String.raw`["a\\\"[[[", 1]`, 1, 100)).toBeNull();
    expect(both('["ü€😀[[[", 1]', 1, 100)).toBeNull();
  });

  it('embedded JSON past the limits is not parsed', () => {
    expect(parseEmbeddedJson('[1,2]', 'bad', 'big')).toEqual([1, 2]);
    expect(parseEmbeddedJson('[1,', 'bad', 'big')).toBe('bad');
    expect(parseEmbeddedJson('['.repeat(300) + ']'.repeat(300), 'bad', 'big')).toBe('big');
  });
});
