/**
 * The worker thread that owns the embedded database (see pglite-worker.ts
 * for why it has a thread of its own). It opens a PgliteStore, serves its
 * wire-protocol port from here, and answers the main thread's calls:
 * migrate, write, ready, query (optionally inside a transaction), begin/end
 * of a transaction, close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Transaction } from '@electric-sql/pglite';
import type { Batch } from '../normalize/rows.ts';
import { PgliteStore, type PgliteOptions } from './pglite.ts';
import { serializeError, type Call, type Reply } from './pglite-protocol.ts';

if (!parentPort) throw new Error('pglite-thread.ts runs as a worker thread');
const port = parentPort;

interface OpenTransaction {
  tx: Transaction;
  end(commit: boolean): void;
  closed: Promise<unknown>;
}

/** Thrown inside a transaction's callback to make PGlite roll it back. */
const ROLLBACK = new Error('rolled back by the caller');

async function main(): Promise<void> {
  const store = await PgliteStore.open(workerData as PgliteOptions);
  const pglite = store.pglite;
  const transactions = new Map<number, OpenTransaction>();
  let nextTx = 1;

  const handlers: Record<Call['op'], (args: never) => Promise<unknown>> = {
    migrate: () => store.migrate(),
    write: (batches: Batch[]) => store.write(batches.map(revive)),
    ready: () => store.ready(),
    query: async ([sql, params, options, txId]: [string, unknown[], Record<string, unknown>, number | null]) => {
      const on = txId === null ? pglite : transactions.get(txId)?.tx;
      if (!on) throw new Error(`transaction ${txId} is not open`);
      return on.query(sql, params, options);
    },
    begin: async () => {
      const id = nextTx++;
      await new Promise<void>((begun, failed) => {
        let end!: (commit: boolean) => void;
        const decided = new Promise<boolean>((resolve) => (end = resolve));
        const closed = pglite.transaction(async (tx) => {
          transactions.set(id, { tx, end, closed });
          begun();
          if (!(await decided)) throw ROLLBACK;
        });
        closed.catch(failed);
      });
      return id;
    },
    end: async ([id, commit]: [number, boolean]) => {
      const t = transactions.get(id);
      if (!t) throw new Error(`transaction ${id} is not open`);
      transactions.delete(id);
      t.end(commit);
      await t.closed.catch((err: unknown) => {
        if (err !== ROLLBACK) throw err;
      });
    },
    close: async () => {
      await store.close();
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
  port.postMessage({ id: 0, ok: true, value: { psqlCommand: store.psqlCommand } } satisfies Reply);
}

/** COPY chunks arrive as plain Uint8Arrays; the writer expects Buffers (no copy: a view of the same memory). */
function revive(b: Batch): Batch {
  const chunks = b.spans.chunks.map((c: Uint8Array) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return { ...b, spans: { ...b.spans, chunks } };
}

main().catch((err: unknown) => port.postMessage({ id: 0, ok: false, error: serializeError(err) } satisfies Reply));
