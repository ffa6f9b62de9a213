/**
 * The rapid-reset defences of the gRPC port, on bytes written by hand: the
 * frame gate (src/receivers/h2-gate.ts) and the per-connection guard
 * (src/receivers/reset-guard.ts). The flood itself, against a receiver
 * process, is test/faults/hostile.test.ts.
 */
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { H2Gate } from '../../src/receivers/h2-gate.ts';
import { ResetGuard } from '../../src/receivers/reset-guard.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** An HTTP/2 frame (RFC 9113 §4.1). */
function frame(type: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}
const SETTINGS = (): Buffer => frame(0x4, 0, Buffer.alloc(6));
const HEADERS = (stream: number): Buffer => frame(0x1, stream, Buffer.from([0x83, 0x86, 0x84]));
const DATA = (stream: number, bytes: number): Buffer => frame(0x0, stream, Buffer.alloc(bytes, 7));
const RST = (stream: number): Buffer => frame(0x3, stream, Buffer.from([0, 0, 0, 8]));

interface Harness {
  socket: PassThrough;
  gate: H2Gate;
  /** What the gate passed on, read by read. */
  reads: Buffer[];
  floods: number[];
  clock: { now: number };
}

function harness(maxResetsPerSecond = 10): Harness {
  const socket = new PassThrough();
  const floods: number[] = [];
  const clock = { now: 1_000_000 };
  const gate = new H2Gate(socket as unknown as Socket, { maxResetsPerSecond, onFlood: (n) => floods.push(n), now: () => clock.now });
  const reads: Buffer[] = [];
  gate.on('data', (b: Buffer) => reads.push(b));
  return { socket, gate, reads, floods, clock };
}

const turns = (n: number) => new Promise<void>(async (resolve) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  resolve();
});

/** Writes `bytes` to the socket in pieces of `size`, each its own read. */
async function feed(h: Harness, bytes: Buffer, size: number): Promise<void> {
  for (let i = 0; i < bytes.length; i += size) {
    h.socket.write(bytes.subarray(i, i + size));
    await turns(1);
  }
  await turns(40);
}

describe('the HTTP/2 frame gate', () => {
  it("passes an exporter's bytes unchanged and each read whole, whatever the read boundaries", async () => {
    const wire = Buffer.concat([PREFACE, SETTINGS(), HEADERS(1), DATA(1, 5000), DATA(1, 300), HEADERS(3), DATA(3, 70_000)]);
    for (const size of [1, 7, 9, 10, 4096, wire.length]) {
      const h = harness();
      await feed(h, wire, size);
      expect(Buffer.concat(h.reads).equals(wire)).toBe(true);
      expect(h.reads.length).toBe(Math.ceil(wire.length / size));
      expect(h.floods).toEqual([]);
    }
  });

  it('hands a read that opens hundreds of streams to the session 64 streams per turn, in order', async () => {
    const h = harness(10_000);
    const streams = Array.from({ length: 200 }, (_, i) => Buffer.concat([HEADERS(2 * i + 1), RST(2 * i + 1)]));
    const wire = Buffer.concat([PREFACE, SETTINGS(), ...streams]);
    h.socket.write(wire);
    await turns(1);
    // Not all in one turn: the rest follow on later turns.
    expect(h.reads.length).toBeLessThan(4);
    await turns(20);
    expect(Buffer.concat(h.reads).equals(wire)).toBe(true);
    const opened = h.reads.map((b) => countFrames(b, 0x1));
    expect(opened).toEqual([64, 64, 64, 8]);
  });

  it('closes the connection on the reset past the limit within a second, counting a frame header split across reads once', async () => {
    const h = harness(10);
    let closed = false;
    h.socket.on('close', () => (closed = true));
    const wire = Buffer.concat([PREFACE, SETTINGS(), ...Array.from({ length: 11 }, (_, i) => Buffer.concat([HEADERS(2 * i + 1), RST(2 * i + 1)]))]);
    // Reads of 5 bytes split every frame header.
    await feed(h, wire.subarray(0, wire.length - 13), 5);
    expect(h.floods).toEqual([]);
    await feed(h, wire.subarray(wire.length - 13), 5);
    expect(h.floods).toEqual([11]);
    expect(closed).toBe(true);
    // The rest of the read that held the eleventh reset never reached the session.
    expect(Buffer.concat(h.reads).length).toBeLessThan(wire.length);
  });

  it('allows the same resets spread over seconds', async () => {
    const h = harness(10);
    await feed(h, Buffer.concat([PREFACE, SETTINGS()]), 100);
    for (let s = 0; s < 5; s++) {
      await feed(h, Buffer.concat(Array.from({ length: 10 }, (_, i) => RST(2 * (s * 10 + i) + 1))), 64);
      h.clock.now += 1000;
    }
    expect(h.floods).toEqual([]);
  });
});

describe('the reset guard', () => {
  const fakeSocket = (port: number) => {
    const s = new PassThrough() as unknown as Socket & { destroyed: boolean };
    Object.assign(s, { remoteAddress: '10.0.0.7', remotePort: port });
    return s;
  };

  it('closes a connection whose calls are cancelled past the limit, and refuses its address for the cooldown only', () => {
    const clock = { now: 0 };
    const flooded: string[] = [];
    const guard = new ResetGuard({ maxResetsPerSecond: 3, cooldownMs: 10_000, now: () => clock.now, onFlood: (a) => flooded.push(a) });
    const older = fakeSocket(1000);
    const flooder = fakeSocket(1001);
    expect(guard.admit(older)).toBe(true);
    expect(guard.admit(flooder)).toBe(true);
    for (let i = 0; i < 3; i++) guard.reset('10.0.0.7:1001');
    expect(flooder.destroyed).toBe(false);
    guard.reset('10.0.0.7:1001');
    expect(flooder.destroyed).toBe(true);
    expect(flooded).toEqual(['10.0.0.7']);
    // The address's other connection stays; new ones wait out the cooldown.
    expect(older.destroyed).toBe(false);
    expect(guard.admit(fakeSocket(1002))).toBe(false);
    clock.now += 10_000;
    expect(guard.admit(fakeSocket(1003))).toBe(true);
  });

  it('counts cancellations per second: a slow trickle is never a flood', () => {
    const clock = { now: 0 };
    const guard = new ResetGuard({ maxResetsPerSecond: 3, cooldownMs: 10_000, now: () => clock.now });
    const s = fakeSocket(2000);
    guard.admit(s);
    for (let i = 0; i < 30; i++) {
      guard.reset('10.0.0.7:2000');
      clock.now += 400;
    }
    expect(s.destroyed).toBe(false);
  });
});

/** Frames of `type` in a run of whole frames (after the preface, if it starts with it). */
function countFrames(b: Buffer, type: number): number {
  let i = b.subarray(0, PREFACE.length).equals(PREFACE) ? PREFACE.length : 0;
  let n = 0;
  while (i + 9 <= b.length) {
    if (b[i + 3] === type) n++;
    i += 9 + b.readUIntBE(i, 3);
  }
  return n;
}
