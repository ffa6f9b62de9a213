/** Clients that send slowly, as a slowloris attacker does: raw HTTP/1.1 bodies and partial gRPC messages. */
import http2 from 'node:http2';
import net from 'node:net';

export interface SlowClient {
  /** The status line's code, or the socket error ('ECONNRESET', 'closed without an answer'). */
  answer: Promise<{ status: number | null; error: string | null; body: string; at: number }>;
  stop(): void;
}

/**
 * POSTs `path` declaring `contentLength`, sends `first` bytes at once, then one
 * byte every `trickleMs` until answered or stopped.
 */
export function slowHttpBody(httpUrl: string, path: string, opts: { contentLength: number; first: number; trickleMs: number; contentType?: string }): SlowClient {
  const u = new URL(httpUrl);
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  let timer: NodeJS.Timeout | null = null;
  let data = '';
  const answer = new Promise<{ status: number | null; error: string | null; body: string; at: number }>((resolve) => {
    let error: string | null = null;
    socket.on('data', (c) => (data += c.toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve({ status: m ? Number(m[1]) : null, error: m ? null : (error ?? 'closed without an answer'), body: data.slice(data.indexOf('\r\n\r\n') + 4), at: Date.now() });
    });
  });
  socket.on('connect', () => {
    socket.write(`POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${opts.contentType ?? 'application/x-protobuf'}\r\nContent-Length: ${opts.contentLength}\r\n\r\n`);
    // Chunks of up to 1 MiB, so a large first part is not one huge allocation.
    for (let left = opts.first; left > 0; left -= 1 << 20) socket.write(Buffer.alloc(Math.min(left, 1 << 20), 0x0a));
    timer = setInterval(() => {
      if (!socket.destroyed && socket.writable) socket.write(Buffer.from([0x0a]));
    }, opts.trickleMs);
    // A response means the server is done with the request: stop sending, wait for it to close.
    socket.on('data', () => {
      if (timer) clearInterval(timer);
      timer = null;
    });
  });
  return {
    answer,
    stop() {
      if (timer) clearInterval(timer);
      socket.destroy();
    },
  };
}

/** A gRPC call whose message frame declares `declared` bytes but only `sent` arrive; never ends. */
export function partialGrpcMessage(address: string, path: string, declared: number, sent: number): SlowClient {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
  let status: number | null = null;
  let message = '';
  const answer = new Promise<{ status: number | null; error: string | null; body: string; at: number }>((resolve) => {
    let error: string | null = null;
    let settled = false;
    // The answer is the status, whenever it comes (the server need not wait for the rest of the message to send it).
    const done = () => {
      if (settled) return;
      settled = true;
      resolve({ status, error: status === null ? (error ?? `stream closed with code ${req.rstCode}`) : null, body: message, at: Date.now() });
      req.close();
      session.close();
    };
    req.on('response', (h) => {
      if (h['grpc-status'] === undefined) return;
      status = Number(h['grpc-status']);
      message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      done();
    });
    req.on('trailers', (t) => {
      status = Number(t['grpc-status']);
      message = decodeURIComponent(String(t['grpc-message'] ?? ''));
      done();
    });
    req.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    req.on('data', () => {});
    req.on('close', done);
  });
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declared, 1);
  req.write(Buffer.concat([head, Buffer.alloc(sent, 0x0a)]));
  return {
    answer,
    stop() {
      req.close();
      session.destroy();
    },
  };
}
