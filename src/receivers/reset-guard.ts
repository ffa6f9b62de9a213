/**
 * A defence against HTTP/2 "rapid reset" (CVE-2023-44487) on the gRPC port.
 *
 * A client that opens streams and cancels each at once costs the server a
 * call set-up per stream and itself nothing; the concurrent-stream limit
 * does not bound it, since a reset stream stops counting at once. nghttp2
 * ends such a session after about a thousand resets, but by then thousands
 * more are already read from the socket, and the client simply reconnects:
 * measured on loopback, four such clients kept the event loop busy and other
 * clients waited 170 ms at the median.
 *
 * So the receiver counts the streams each connection's client cancels. An
 * exporter cancels a call only when its own timeout passes, at most once per
 * stream it has open; a connection that cancels more than `maxResetsPerSecond`
 * within a second is closed at once, and new connections from that address
 * are refused for `cooldownMs`, so the flood costs one burst per cooldown
 * instead of one per reconnect. Connections the address already has are
 * left alone: on a shared address (a NAT, loopback) they are other clients.
 */
import type { Socket } from 'node:net';

export interface ResetGuardOptions {
  /** Cancelled streams one connection may have within a second. */
  maxResetsPerSecond: number;
  /** How long an address that flooded is refused new connections. */
  cooldownMs: number;
  /** Told once per connection closed for resetting streams. */
  onFlood?: (address: string, resets: number) => void;
  now?: () => number;
}

interface Connection {
  socket: Socket;
  windowStart: number;
  resets: number;
}

/** A connection's key as grpc-js names a call's peer: remote address and port. */
export const peerOf = (socket: Socket): string => `${socket.remoteAddress}:${socket.remotePort}`;

export class ResetGuard {
  readonly #opts: ResetGuardOptions;
  readonly #now: () => number;
  readonly #connections = new Map<string, Connection>();
  /** Address → until when new connections from it are refused. */
  readonly #refused = new Map<string, number>();

  constructor(opts: ResetGuardOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** A new connection: false if its address is cooling down (the caller closes it); else it is tracked until it closes. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const until = this.#refused.get(address);
    if (until !== undefined) {
      if (this.#now() < until) return false;
      this.#refused.delete(address);
    }
    const peer = peerOf(socket);
    this.#connections.set(peer, { socket, windowStart: this.#now(), resets: 0 });
    socket.once('close', () => {
      if (this.#connections.get(peer)?.socket === socket) this.#connections.delete(peer);
    });
    return true;
  }

  /** The client of connection `peer` cancelled a stream; closes the connection if that is one too many this second. */
  reset(peer: string): void {
    const c = this.#connections.get(peer);
    if (!c) return;
    const now = this.#now();
    if (now - c.windowStart >= 1000) {
      c.windowStart = now;
      c.resets = 0;
    }
    if (++c.resets <= this.#opts.maxResetsPerSecond) return;
    this.flooded(c.socket, c.resets);
  }

  /** Closes a connection found flooding (here, or by the frame gate) and refuses its address for the cooldown. */
  flooded(socket: Socket, resets: number): void {
    const address = socket.remoteAddress ?? '';
    this.#connections.delete(peerOf(socket));
    this.#refused.set(address, this.#now() + this.#opts.cooldownMs);
    socket.destroy();
    this.#opts.onFlood?.(address, resets);
  }

  /** Connections tracked (for tests). */
  get size(): number {
    return this.#connections.size;
  }
}
