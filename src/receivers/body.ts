/**
 * Reads an HTTP request body within the size limit, measured both on the
 * wire and after decompression (OTLP specification: "the server MUST limit
 * request body size including after decompression", answering 413).
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { BadRequestError, TooLargeError, UnsupportedMediaTypeError } from '../errors.ts';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const zstd = typeof zlib.zstdDecompress === 'function' ? promisify(zlib.zstdDecompress) : undefined;

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
  return decompress(raw, String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase(), limit);
}

async function decompress(raw: Buffer, encoding: string, limit: number): Promise<Buffer> {
  // gzip is the one coding OTLP specifies; deflate and zstd cost nothing extra to accept (the Collector does too).
  const codec = encoding === 'gzip' || encoding === 'x-gzip' ? gunzip : encoding === 'deflate' ? inflate : encoding === 'zstd' ? zstd : undefined;
  if (encoding === 'identity' || encoding === '') return raw;
  if (!codec) throw new UnsupportedMediaTypeError(`unsupported Content-Encoding ${JSON.stringify(encoding)}; supported: gzip, deflate${zstd ? ', zstd' : ''}`);
  try {
    return await codec(raw, { maxOutputLength: limit });
  } catch (err) {
    // zlib stops at maxOutputLength: a decompression bomb ends here, not in memory.
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limit, 'after decompression');
    throw new BadRequestError(`${encoding}: invalid compressed body: ${(err as Error).message}`);
  }
}

function tooLarge(limit: number, when = ''): TooLargeError {
  return new TooLargeError(`request body is larger than the limit of ${limit} bytes${when ? ` ${when}` : ''}`);
}
