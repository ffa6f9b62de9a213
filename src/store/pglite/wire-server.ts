/**
 * The embedded database's PostgreSQL wire-protocol port, for psql and
 * Grafana. Each connection first authenticates with the port's password
 * (SCRAM-SHA-256, wire-auth.ts); then pglite-socket's connection handler
 * takes it over, replaying the startup packet to PGlite, and runs its
 * messages through a queue shared by all connections and behind the
 * embedded database's lock, so that a client's messages never run inside
 * one of Verdict's transactions.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, PGLiteSocketServer, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import { ConfigError } from '../../errors.ts';
import type { Lock } from './database.ts';
import { authenticate, fatal, SQLSTATE } from './wire-auth.ts';
import { scramVerifier } from './scram.ts';

export interface WireOptions {
  /** Address to listen on (`localhost` means 127.0.0.1). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The password clients must prove they know (user `postgres`). */
  password: string;
}

export interface WireServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Connections at once, authenticated or not (pglite-socket's limit before). */
const MAX_CONNECTIONS = 16;
/** A connection that has not authenticated by then is closed (PostgreSQL's authentication_timeout is 60 s). */
const AUTH_TIMEOUT_MS = 10_000;

export async function startWireServer(pglite: PGlite, lock: Lock, opts: WireOptions): Promise<WireServer> {
  // Exactly the members pglite-socket's queue uses (0.2.x), with runExclusive behind Verdict's lock.
  const shared = {
    get waitReady() {
      return pglite.waitReady;
    },
    runExclusive: <T>(fn: () => Promise<T>) => lock.run(() => pglite.runExclusive(fn)),
    execProtocolRawStream: pglite.execProtocolRawStream.bind(pglite),
    isInTransaction: () => pglite.isInTransaction(),
    exec: pglite.exec.bind(pglite),
  };
  // pglite-socket's server owns the query queue its handlers share (which keeps a client's transaction together),
  // but accepts connections itself, before any authentication. So it is only built, never started, and its queue
  // is given to handlers created here for authenticated connections.
  const queryQueue = (new PGLiteSocketServer({ db: shared as unknown as PGlite }) as unknown as { queryQueue?: PGLiteSocketHandlerOptions['queryQueue'] }).queryQueue;
  if (!queryQueue) throw new Error('@electric-sql/pglite-socket has changed: its server no longer holds a queryQueue (wire-server.ts needs 0.2.x)');
  const verifier = scramVerifier(opts.password);
  const host = opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  const sockets = new Set<Socket>();
  const handlers = new Set<PGLiteSocketHandler>();
  let stopping = false;

  const onConnection = async (socket: Socket) => {
    if (stopping || sockets.size >= MAX_CONNECTIONS) {
      socket.end(fatal(SQLSTATE.tooManyConnections, 'sorry, too many clients already'));
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A reset between authentication and the handler taking over must not become an uncaught 'error'.
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    const outcome = await authenticate(socket, verifier, AUTH_TIMEOUT_MS);
    if (!outcome.ok || stopping || socket.destroyed) {
      if (outcome.ok) socket.destroy();
      return;
    }
    const handler = new PGLiteSocketHandler({ queryQueue, closeOnDetach: true });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    await handler.attach(socket);
    // The handler reads the startup packet as if it had just arrived, and PGlite answers AuthenticationOk.
    socket.unshift(outcome.replay);
    socket.resume();
  };

  const server: Server = createServer((socket) => {
    onConnection(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, host, opts.port)));
    server.listen(opts.port, host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  return {
    host,
    port: (server.address() as { port: number }).port,
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Detaching rolls back a client transaction left open, then closes its socket.
      await Promise.all([...handlers].map((h) => h.detach(true).catch(() => undefined)));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** The listen errors a user can fix, as one line naming the setting. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') {
    return new ConfigError(`port ${port} on ${host} is already in use (--pg-port): stop what uses it, or choose another port with --pg-port (0 turns the embedded database's port off)`);
  }
  if (err.code === 'EACCES') return new ConfigError(`no permission to listen on port ${port} (--pg-port): ports below 1024 need privileges; choose another with --pg-port`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'EINVAL') {
    return new ConfigError(`cannot listen on host ${JSON.stringify(host)} (--pg-host): it is not an address of this machine; use 127.0.0.1, 0.0.0.0 or one of its addresses`);
  }
  return err;
}
