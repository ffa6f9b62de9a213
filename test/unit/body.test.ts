/**
 * Reading a request body: a JSON body whose first bytes already cross the
 * nesting limit is refused from those bytes, without waiting for (or
 * copying) the rest; a body within the limits is read whole.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../src/errors.ts';
import { checkJsonLimits, OTLP_JSON_LIMITS } from '../../src/otlp/json.ts';
import { readBody } from '../../src/receivers/body.ts';

/** A request whose body is written by the test, chunk by chunk. */
function request(headers: Record<string, string> = {}): { req: IncomingMessage; body: PassThrough } {
  const body = new PassThrough();
  return { req: Object.assign(body, { headers }) as unknown as IncomingMessage, body };
}

const check = (prefix: Buffer) => checkJsonLimits(prefix, OTLP_JSON_LIMITS);

describe('readBody', () => {
  it('refuses a bracket bomb from its first 64 KiB, reading the rest without keeping it', async () => {
    const { req, body } = request();
    let checks = 0;
    const read = readBody(req, 64 * 1024 * 1024, undefined, undefined, (prefix) => {
      checks++;
      check(prefix);
    });
    let settled = false;
    void read.then(() => (settled = true), () => (settled = true));
    body.write(Buffer.alloc(64 * 1024, '['));
    // Not answered before the end of the body: a client still sending would see a broken connection.
    for (let i = 0; i < 200; i++) body.write(Buffer.alloc(64 * 1024, i % 2 === 0 ? '[' : ']'));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    body.end();
    await expect(read).rejects.toThrow(BadRequestError);
    await expect(read).rejects.toThrow('deeper than 4096 levels (the JSON depth limit)');
    // Decided from the first 64 KiB alone: the 12.5 MiB after them were never scanned.
    expect(checks).toBe(1);
  });

  it('reads a body within the limits whole, in any number of chunks', async () => {
    const { req, body } = request();
    const read = readBody(req, 64 * 1024 * 1024, undefined, undefined, check);
    const doc = JSON.stringify({ resourceSpans: Array.from({ length: 4000 }, (_, i) => ({ n: i, s: 'x'.repeat(30) })) });
    expect(doc.length).toBeGreaterThan(128 * 1024);
    for (let i = 0; i < doc.length; i += 10_000) body.write(doc.slice(i, i + 10_000));
    body.end();
    expect((await read).toString()).toBe(doc);
  });

  it('leaves a compressed body to the check after decompression', async () => {
    const { req, body } = request({ 'content-encoding': 'gzip' });
    let checked = 0;
    const read = readBody(req, 64 * 1024 * 1024, undefined, undefined, () => void checked++);
    body.end(Buffer.alloc(70 * 1024, 1));
    // Not gzip: the decompression fails, and the prefix check was never asked.
    await expect(read).rejects.toThrow();
    expect(checked).toBe(0);
  });
});
