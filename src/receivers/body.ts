/**
 * Reads an HTTP request body within the size limit, measured both on the
 * wire and after decompression (OTLP specification: "the server MUST limit
 * request body size including after decompression", answering 413).
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { BadRequestError, TooLargeError, UnsupportedMediaTypeError } from '../errors.ts';
import { droppedReceived } from '../common/reclaim.ts';
import type { Receipt, ReceiveBudget } from './receiving.ts';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const zstd = typeof zlib.zstdDecompress === 'function' ? promisify(zlib.zstdDecompress) : undefined;

/**
 * How far a compressed body may expand: at most `maxInflateRatio` times its
 * size on the wire (--max-inflate-ratio), and never past the size limit.
 * OTLP batches compress 5–20×, repeated prompts up to ~150×; a bracket bomb
 * compresses 1000× (58 KB of gzip holding 60 MB). Bodies that inflate to
 * less than INFLATE_FLOOR are not held to the ratio.
 */
export const DEFAULT_MAX_INFLATE_RATIO = 200;
export const INFLATE_FLOOR = 1024 * 1024;

/**
 * A check of a body's first PREFIX_BYTES that throws when they already prove
 * the body bad (a JSON body whose nesting crosses the depth limit there).
 * The rest is then read and dropped, not kept: the answer waits for the end
 * of the body, so that the client, still sending, reads a clean refusal
 * instead of a broken connection (which an exporter would retry). A bracket
 * bomb of 16 MB was otherwise kept whole and copied into one buffer (tens of
 * milliseconds of page faults on the event loop) before its first bytes were
 * looked at. Only for bodies sent uncompressed.
 */
export type PrefixCheck = (prefix: Buffer) => void;
const PREFIX_BYTES = 64 * 1024;

export async function readBody(req: IncomingMessage, limit: number, maxInflateRatio = DEFAULT_MAX_INFLATE_RATIO, budget?: ReceiveBudget, prefixCheck?: PrefixCheck): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const receipt = budget?.start(req.socket);
  let raw: Buffer;
  try {
    raw = await receive(req, limit, receipt, encoding === 'identity' || encoding === '' ? prefixCheck : undefined);
  } finally {
    receipt?.release();
  }
  return decompress(raw, encoding, limit, maxInflateRatio);
}

/** Reads the body's chunks, counting them against the receive budget and cutting a body that is too slow or too late. */
function receive(req: IncomingMessage, limit: number, receipt: Receipt | undefined, prefixCheck: PrefixCheck | undefined): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let prefixChecked = prefixCheck === undefined;
    /** What the prefix check found: the rest of the body is dropped, and this is the answer. */
    let refused: Error | null = null;
    const timer = receipt ? setInterval(() => {
      const late = receipt.overdue(Date.now());
      if (late) finish(late);
    }, 250) : null;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      if (timer) clearInterval(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) {
        // Stop reading; the answer goes out with Connection: close (http.ts), which ends the connection.
        req.pause();
        chunks.length = 0;
        droppedReceived(size);
        reject(err);
      } else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(refused ?? tooLarge(limit));
      try {
        receipt?.add(chunk.length);
      } catch (err) {
        return finish(err as Error);
      }
      // Refused already: the rest is only counted (finish() notes it dropped).
      if (refused) return;
      chunks.push(chunk);
      if (!prefixChecked && size >= PREFIX_BYTES) {
        prefixChecked = true;
        try {
          (prefixCheck as PrefixCheck)(chunks.length === 1 ? chunk : Buffer.concat(chunks, size));
        } catch (err) {
          refused = err as Error;
          chunks.length = 0;
        }
      }
    };
    const onEnd = () => finish(refused ?? undefined);
    const onError = (err: Error) => finish(err);
    const onClose = () => finish(new BadRequestError('the client closed the connection before the body was complete'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

async function decompress(raw: Buffer, encoding: string, limit: number, maxRatio: number): Promise<Buffer> {
  // gzip is the one coding OTLP specifies; deflate and zstd cost nothing extra to accept (the Collector does too).
  const codec = encoding === 'gzip' || encoding === 'x-gzip' ? gunzip : encoding === 'deflate' ? inflate : encoding === 'zstd' ? zstd : undefined;
  if (encoding === 'identity' || encoding === '') return raw;
  if (!codec) throw new UnsupportedMediaTypeError(`unsupported Content-Encoding ${JSON.stringify(encoding)}; supported: gzip, deflate${zstd ? ', zstd' : ''}`);
  const byRatio = Math.max(INFLATE_FLOOR, raw.length * maxRatio);
  const max = Math.min(limit, byRatio);
  try {
    return await codec(raw, { maxOutputLength: max });
  } catch (err) {
    // zlib stops at maxOutputLength: a decompression bomb ends here, not in memory.
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      if (max < limit) throw new TooLargeError(`${encoding} body expands more than ${maxRatio} times its ${raw.length} bytes (the decompression ratio limit)`);
      throw tooLarge(limit, 'after decompression');
    }
    throw new BadRequestError(`${encoding}: invalid compressed body: ${(err as Error).message}`);
  }
}

function tooLarge(limit: number, when = ''): TooLargeError {
  return new TooLargeError(`request body is larger than the limit of ${limit} bytes${when ? ` ${when}` : ''}`);
}
