/**
 * Creates the database in an empty data directory, in a thread of its own
 * that exits when done. PGlite runs initdb in a second, throwaway PGlite
 * instance; its WebAssembly memory (hundreds of MB) would stay in the
 * database's thread until a garbage collection that may never come, whereas
 * a thread's whole heap is returned when it exits. The database's thread
 * then opens the directory like any restart does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openPglite } from './database.ts';

if (!parentPort) throw new Error('store/pglite/init-thread.ts runs as a worker thread');
const port = parentPort;

const { dataDir } = workerData as { dataDir: string };
openPglite(dataDir)
  .then((db) => db.close())
  .then(
    () => port.postMessage({ ok: true }),
    (err: unknown) => port.postMessage({ ok: false, message: (err as Error)?.message ?? String(err) }),
  );
