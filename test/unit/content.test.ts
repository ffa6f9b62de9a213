/** Content attributes written once, their bytes kept for the content columns only when they are whole. */
import { describe, expect, it } from 'vitest';
import { CopyWriter } from '../../src/common/copy-binary.ts';
import { writeContentKept } from '../../src/normalize/content.ts';

const messages = [{ role: 'user', parts: [{ type: 'text', content: 'What is the weather in Paris right now?' }] }];
const structured = {
  arrayValue: { values: [{ kvlistValue: { values: [
    { key: 'role', value: { stringValue: 'user' } },
    { key: 'parts', value: { arrayValue: { values: [{ kvlistValue: { values: [{ key: 'type', value: { stringValue: 'text' } }, { key: 'content', value: { stringValue: 'What is the weather in Paris right now?' } }] } }] } } },
  ] } }] },
};

describe('writeContentKept', () => {
  it('keeps the bytes of a JSON string as written, with its parsed value, even across a buffer boundary', () => {
    const w = new CopyWriter(64);
    w.raw('x'.repeat(40)); // most of the first buffer taken
    const kept = writeContentKept(w, { stringValue: JSON.stringify(messages) });
    expect(kept.parsed).toEqual(messages);
    expect(kept.bytes?.toString()).toBe(JSON.stringify(messages));
  });

  it('keeps a cleaned copy when the string held what jsonb refuses', () => {
    const w = new CopyWriter();
    const kept = writeContentKept(w, { stringValue: '[{"role":"user","parts":[{"type":"text","content":"a\\u0000b"}]}]' });
    expect(kept.parsed).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'a\uFFFDb' }] }]);
    expect(JSON.parse(kept.bytes!.toString())).toEqual(kept.parsed);
  });

  it('keeps a structured value\'s bytes only when they are in one buffer', () => {
    const whole = writeContentKept(new CopyWriter(), structured);
    expect(whole.parsed).toBeUndefined();
    expect(JSON.parse(whole.bytes!.toString())).toEqual(messages);
    // Written piece by piece into 16-byte buffers: no buffer holds it all.
    expect(writeContentKept(new CopyWriter(16), structured).bytes).toBeUndefined();
  });
});
