/**
 * Memory admission while bodies are read, not only after: bytes being
 * received are counted as they arrive, per connection and across the
 * receiver, and a body that arrives too slowly is cut. Without this, bodies
 * still arriving sat outside every bound: twelve slow 59 MiB uploads held
 * 700 MB, and a client trickling a byte a second held a connection (and its
 * buffered chunks) for the whole request timeout.
 */
import { OverloadedError, RequestTimeoutError, UnavailableError } from '../errors.ts';

export interface ReceiveLimits {
  /** Bytes of request bodies being received at once, across all connections (--max-receiving-size). */
  maxReceivingBytes: number;
  /** Bytes one connection may have in bodies being received (--max-receiving-per-connection). */
  maxPerConnectionBytes: number;
  /** Below this many bytes a second, averaged from the body's start, after RECEIVE_GRACE_MS, a body is cut (--min-receive-rate). */
  minBytesPerSecond: number;
  /** A body (or gRPC message) must arrive whole within this (--receive-timeout). */
  timeoutMs: number;
}

/** A slow start (TCP slow start, a busy client) is no offence: the rate is judged after this. */
export const RECEIVE_GRACE_MS = 5000;

/** One body being received: counts its bytes against the budget and says when it must stop. */
export interface Receipt {
  /** Adds a chunk; throws (OverloadedError) when a bound would be crossed. */
  add(bytes: number): void;
  /** Why the body must be cut now (too slow, too late, shutting down), or null. */
  overdue(now: number): Error | null;
  /** Gives the bytes back; idempotent. */
  release(): void;
}

export class ReceiveBudget {
  readonly limits: ReceiveLimits;
  #inUse = 0;
  readonly #perConnection = new WeakMap<object, number>();
  #closing: Error | null = null;

  constructor(limits: ReceiveLimits) {
    this.limits = limits;
  }

  /** Bytes of bodies being received now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** From now on every body still arriving is cut with `reason` (shutdown's drain deadline). */
  cutAll(reason = new UnavailableError('the receiver is shutting down', 5)): void {
    this.#closing = reason;
  }

  start(connection: object, started = Date.now()): Receipt {
    let mine = 0;
    let released = false;
    return {
      add: (bytes) => {
        const conn = this.#perConnection.get(connection) ?? 0;
        if (conn + bytes > this.limits.maxPerConnectionBytes) {
          throw new OverloadedError(`this connection has more than ${this.limits.maxPerConnectionBytes} bytes of requests being received (the per-connection receive limit); retry later`);
        }
        if (this.#inUse + bytes > this.limits.maxReceivingBytes && this.#inUse > 0) {
          throw new OverloadedError(`receiver busy: more than ${this.limits.maxReceivingBytes} bytes of requests being received (the receive limit); retry later`);
        }
        this.#inUse += bytes;
        this.#perConnection.set(connection, conn + bytes);
        mine += bytes;
      },
      overdue: (now) => {
        if (this.#closing) return this.#closing;
        const elapsed = now - started;
        if (elapsed > this.limits.timeoutMs) return new RequestTimeoutError(`the request body did not arrive whole within ${this.limits.timeoutMs} ms (the receive timeout)`);
        if (elapsed > RECEIVE_GRACE_MS && (mine * 1000) / elapsed < this.limits.minBytesPerSecond) {
          return new RequestTimeoutError(`the request body arrived at ${Math.round((mine * 1000) / elapsed)} bytes/s, below the minimum receive rate of ${this.limits.minBytesPerSecond} bytes/s`);
        }
        return null;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#inUse -= mine;
        const conn = (this.#perConnection.get(connection) ?? mine) - mine;
        if (conn > 0) this.#perConnection.set(connection, conn);
        else this.#perConnection.delete(connection);
      },
    };
  }
}
