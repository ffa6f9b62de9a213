/**
 * The embedded database's PostgreSQL wire-protocol port, for psql and
 * Grafana (pglite-socket's server), sharing the embedded database's lock so
 * that a client's messages never run inside one of Verdict's transactions.
 */
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Lock } from './database.ts';

export interface WireServer {
  port: number;
  /** The psql command line that connects to it. */
  psqlCommand: string;
  stop(): Promise<void>;
}

export async function startWireServer(pglite: PGlite, lock: Lock, where: { host: string; port: number }): Promise<WireServer> {
  // Exactly the members PGLiteSocketServer uses (pglite-socket 0.2.x), with runExclusive behind Verdict's lock.
  const shared = {
    get waitReady() {
      return pglite.waitReady;
    },
    runExclusive: <T>(fn: () => Promise<T>) => lock.run(() => pglite.runExclusive(fn)),
    execProtocolRawStream: pglite.execProtocolRawStream.bind(pglite),
    isInTransaction: () => pglite.isInTransaction(),
    exec: pglite.exec.bind(pglite),
  };
  const host = where.host === 'localhost' ? '127.0.0.1' : where.host;
  const server = new PGLiteSocketServer({ db: shared as unknown as PGlite, port: where.port, host, maxConnections: 16 });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  return {
    port,
    psqlCommand: `psql -h ${host === '0.0.0.0' ? '127.0.0.1' : host} -p ${port} -U postgres postgres`,
    stop: () => server.stop(),
  };
}
