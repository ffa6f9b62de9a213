/**
 * A TCP proxy in front of PostgreSQL that a test can cut and restore: the
 * database becomes unreachable for the receiver without stopping the shared
 * server other tests use.
 */
import net from 'node:net';

export class TcpProxy {
  readonly #target: { host: string; port: number };
  #server: net.Server | null = null;
  #sockets = new Set<net.Socket>();
  port = 0;
  /** Bytes the clients sent towards the server: whether the receiver talked to the database at all. */
  bytesToServer = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  async listen(port = 0): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.#target.port, this.#target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.on('data', (chunk: Buffer) => (this.bytesToServer += chunk.byteLength));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    this.#server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Drops every connection and refuses new ones, like a database that went away. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts connections again on the same port. */
  async restore(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/** URL of `url` with its host and port replaced by the proxy's. */
export function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}
