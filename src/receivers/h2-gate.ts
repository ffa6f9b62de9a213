/**
 * A gate between a plaintext gRPC connection and grpc-js's HTTP/2 session,
 * against "rapid reset" (CVE-2023-44487) floods.
 *
 * Node's HTTP/2 hands JavaScript every stream of a socket read at once: a
 * 64 KiB read of a reset flood holds thousands of streams, each costing a
 * call set-up in grpc-js, which stalls the event loop for every other
 * client. So the gate reads the socket itself and the HTTP/2 frame headers
 * in it (RFC 9113 §4.1: a 9-byte header of length, type, flags and stream):
 * - a read that opens more than STREAMS_PER_TURN streams (HEADERS frames) is
 *   passed to the session in pieces of that many, one piece per turn of the
 *   event loop, so other clients are served in between; an exporter's reads
 *   (a few calls, their DATA frames) pass whole and at once;
 * - the client's RST_STREAM frames are counted: past `maxResetsPerSecond`
 *   in one second the connection is closed before the session sees the
 *   rest. An exporter resets a stream only when its own timeout passes.
 *
 * TLS connections are not gated (their frames are encrypted until grpc-js's
 * TLS layer); reset-guard.ts, which counts cancelled calls, covers them.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** Streams the session is handed per turn of the event loop, at most. */
const STREAMS_PER_TURN = 64;
/** RFC 9113 §3.4: the client connection preface, before the first frame. */
const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const HEADERS = 0x1;
const RST_STREAM = 0x3;

export interface GateOptions {
  maxResetsPerSecond: number;
  /** Called once when the gate closes the connection for resetting streams. */
  onFlood: (resets: number) => void;
  now?: () => number;
}

export class H2Gate extends Duplex {
  readonly #socket: Socket;
  readonly #opts: GateOptions;
  readonly #now: () => number;
  /** Bytes still to skip before the next frame header (the preface, then each frame's payload). */
  #skip = PREFACE_BYTES;
  /** A frame header split across reads. */
  #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerHave = 0;
  #windowStart: number;
  #resets = 0;
  /** HEADERS frames in the piece of the current read being cut. */
  #opened = 0;
  #queue: Buffer[] = [];
  #pumping = false;
  #wantsMore = true;

  constructor(socket: Socket, opts: GateOptions) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#windowStart = this.#now();
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#enqueueEnd());
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  // What grpc-js and Node's HTTP/2 read off their socket.
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.#socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.#socket.localPort;
  }
  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#socket.setKeepAlive(enable, delay);
    return this;
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.#socket.setTimeout(ms, cb);
    return this;
  }

  #onData(chunk: Buffer): void {
    const pieces = this.#inspect(chunk);
    if (pieces === null) return;
    this.#queue.push(...pieces);
    if (this.#queue.length > 1) this.#socket.pause();
    this.#pump();
  }

  /**
   * Reads the frame headers in `chunk`: null if the connection was closed for
   * too many resets, else the chunk cut before every STREAMS_PER_TURN-th
   * HEADERS frame.
   */
  #inspect(chunk: Buffer): Buffer[] | null {
    const pieces: Buffer[] = [];
    this.#opened = 0;
    let pieceStart = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const frameStart = this.#headerHave === 0 ? i : -1;
      const n = Math.min(FRAME_HEADER_BYTES - this.#headerHave, chunk.length - i);
      chunk.copy(this.#header, this.#headerHave, i, i + n);
      this.#headerHave += n;
      i += n;
      if (this.#headerHave < FRAME_HEADER_BYTES) break;
      this.#headerHave = 0;
      this.#skip = this.#header.readUIntBE(0, 3);
      if (this.#header[3] === HEADERS && ++this.#opened > STREAMS_PER_TURN) {
        // A header that began in an earlier read cannot be cut before; the next one will be.
        if (frameStart > pieceStart) {
          pieces.push(chunk.subarray(pieceStart, frameStart));
          pieceStart = frameStart;
          this.#opened = 1;
        }
      }
      if (this.#header[3] !== RST_STREAM) continue;
      const now = this.#now();
      if (now - this.#windowStart >= 1000) {
        this.#windowStart = now;
        this.#resets = 0;
      }
      if (++this.#resets > this.#opts.maxResetsPerSecond) {
        this.#opts.onFlood(this.#resets);
        this.#queue = [];
        this.#socket.destroy();
        this.destroy();
        return null;
      }
    }
    pieces.push(pieceStart === 0 ? chunk : chunk.subarray(pieceStart));
    return pieces;
  }

  #enqueueEnd(): void {
    this.#queue.push(Buffer.alloc(0));
    this.#pump();
  }

  /** Passes queued pieces on, one per turn of the event loop. */
  #pump(): void {
    if (this.#pumping || !this.#wantsMore || this.destroyed) return;
    const head = this.#queue.shift();
    if (head === undefined) return;
    if (head.length === 0) {
      this.push(null);
      return;
    }
    // The socket waits while pieces are queued here, so a fast client cannot fill memory.
    if (this.#queue.length > 0) this.#socket.pause();
    else this.#socket.resume();
    this.#wantsMore = this.push(head);
    if (this.#queue.length > 0) {
      this.#pumping = true;
      setImmediate(() => {
        this.#pumping = false;
        this.#pump();
      });
    }
  }

  override _read(): void {
    this.#wantsMore = true;
    this.#pump();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#socket.write(chunk, done);
  }

  /**
   * The HTTP/2 session writes each answer as several frames at once (headers,
   * data, trailers, window updates), corked: one system call for them all,
   * as the session makes when it owns the socket, instead of one a frame.
   */
  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    this.#socket.cork();
    for (let i = 0; i < chunks.length - 1; i++) this.#socket.write(chunks[i]!.chunk);
    this.#socket.write(chunks[chunks.length - 1]!.chunk, done);
    this.#socket.uncork();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#socket.end(done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#socket.destroy();
    done(err);
  }
}
