/**
 * The worker thread that owns the embedded database (see worker-store.ts
 * for why it has a thread of its own): it opens the database and its wire
 * port here, and answers the main thread's calls with the shared writer
 * (writes, migrations, readiness) and the database's own statements and
 * transactions (Kysely's).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Batch } from '../../model/rows.ts';
import { Writer } from '../writer.ts';
import { PgliteDatabase, type PgliteOptions } from './database.ts';
import { serializeError, type Call, type Calls, type Op, type Reply } from './protocol.ts';

if (!parentPort) throw new Error('store/pglite/thread.ts runs as a worker thread');
const port = parentPort;

async function main(): Promise<void> {
  const opts = workerData as PgliteOptions;
  const database = await PgliteDatabase.open(opts);
  // One session, one writer at a time: nothing to serialise.
  const writer = new Writer(database, opts.writeTimeoutMs, { serialize: false });

  const handlers: { [K in Op]: (args: Calls[K]) => Promise<unknown> } = {
    migrate: () => writer.migrate(),
    write: (batches) => writer.write(batches.map(revive)),
    ready: () => writer.ready(),
    query: ([sql, params, txId]) => database.query(sql, params, txId),
    begin: () => database.begin(),
    end: ([txId, commit]) => database.end(txId, commit),
    close: async () => {
      await database.close();
      // Nothing else keeps this thread alive once the port is closed: it exits.
      setImmediate(() => port.close());
    },
  };

  port.on('message', (call: Call) => {
    const handler = handlers[call.op] as (args: unknown) => Promise<unknown>;
    handler(call.args).then(
      (value) => port.postMessage({ id: call.id, ok: true, value } satisfies Reply),
      (err: unknown) => port.postMessage({ id: call.id, ok: false, error: serializeError(err) } satisfies Reply),
    );
  });
  port.postMessage({ id: 0, ok: true, value: { wire: database.wire } } satisfies Reply);
}

/** COPY chunks arrive as plain Uint8Arrays; the writer expects Buffers (no copy: a view of the same memory). */
function revive(b: Batch): Batch {
  const chunks = b.spans.chunks.map((c: Uint8Array) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return { ...b, spans: { ...b.spans, chunks } };
}

main().catch((err: unknown) => port.postMessage({ id: 0, ok: false, error: serializeError(err) } satisfies Reply));
