/**
 * The embedded store as Verdict uses it: PGlite (database.ts) running in a
 * worker thread of its own (thread.ts), behind the Store interface.
 *
 * Why a thread: PGlite executes on the thread that calls it, and a write of
 * a few thousand spans keeps that thread busy for a while. In the main
 * thread its time would add to the receivers' (the two could never overlap),
 * and gRPC senders would stall on HTTP/2 flow-control updates that wait for
 * the busy thread. In its own thread the database works on one core while
 * the receivers decode the next requests on the other (docs/performance.md
 * has the figures).
 *
 * Batches cross by structured clone, with each span COPY buffer packed into
 * one ArrayBuffer and transferred, not copied again. Typed queries (`db`)
 * go through a Kysely dialect that sends each statement to the thread
 * (kysely-dialect.ts), transactions included.
 *
 * Before the thread starts, the main thread claims the data directory (one
 * process per directory: data-dir.ts, dir-lock.ts), reads or makes the
 * wire port's password (password.ts) and, on an empty directory, has the
 * database created by a thread that exits afterwards (init-thread.ts).
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Kysely } from 'kysely';
import { ConfigError, UnavailableError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Batch } from '../../model/rows.ts';
import type { Database } from '../schema.ts';
import type { Readiness, Store } from '../store.ts';
import { claimDataDir, unopenable } from './data-dir.ts';
import type { PgliteOptions } from './database.ts';
import type { DirLock } from './dir-lock.ts';
import { threadDialect } from './kysely-dialect.ts';
import { ephemeralPassword, loadPassword, PASSWORD_FILE } from './password.ts';
import { deserializeError, type Call, type Calls, type Op, type Reply } from './protocol.ts';

type Pending = { resolve(value: unknown): void; reject(err: Error): void };

export interface PgliteStoreOptions {
  /** Directory for the database files; `memory://` for a throwaway one (tests). */
  dataDir: string;
  /** The wire port for psql and Grafana; 0 turns it off. */
  pgPort: number;
  /** Where the wire port listens (`localhost` = 127.0.0.1). */
  pgHost: string;
  /** The wire port's password file; null: `pg-password` in the data directory (a `memory://` database: a password for this run only). */
  pgPasswordFile: string | null;
  writeTimeoutMs: number;
}

/** How to reach the wire port: for the start-up line, psql and Grafana. */
export interface WireAccess {
  psqlCommand: string;
  url: string;
}

export class PgliteWorkerStore implements Store {
  readonly kind = 'pglite';
  readonly db: Kysely<Database>;
  readonly psqlCommand: string | null;
  readonly pgUrl: string | null;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #dirLock: DirLock | null;
  #nextId = 1;
  /** Set once the thread is gone (closed or crashed): every call then fails retryable. */
  #gone: Error | null = null;
  #closing = false;
  readonly #exited: Promise<void>;

  private constructor(worker: Worker, access: WireAccess | null, exited: Promise<void>, dirLock: DirLock | null) {
    this.#worker = worker;
    this.psqlCommand = access?.psqlCommand ?? null;
    this.pgUrl = access?.url ?? null;
    this.#exited = exited;
    this.#dirLock = dirLock;
    worker.on('message', (reply: Reply) => this.#settle(reply));
    this.db = new Kysely<Database>({ dialect: threadDialect((op, args) => this.#call(op, args)) });
  }

  /**
   * Claims the data directory and starts the database's thread. A directory
   * in use, unusable, or a bad password file: ConfigError. `log` hears when
   * the thread stops unexpectedly (from then on every write answers "retry"
   * and /readyz fails).
   */
  static async open(opts: PgliteStoreOptions, log?: Logger): Promise<PgliteWorkerStore> {
    const inMemory = opts.dataDir.startsWith('memory://');
    const claimed = inMemory ? null : await claimDataDir(opts.dataDir);
    try {
      let password: string | null = null;
      if (opts.pgPort !== 0) {
        password = opts.pgPasswordFile ? loadPassword(opts.pgPasswordFile) : inMemory ? ephemeralPassword() : loadPassword(join(opts.dataDir, PASSWORD_FILE));
      }
      if (claimed && !claimed.initialised) await initialise(opts.dataDir);
      const threadOptions: PgliteOptions = {
        dataDir: opts.dataDir,
        writeTimeoutMs: opts.writeTimeoutMs,
        wire: password === null ? null : { host: opts.pgHost, port: opts.pgPort, password },
      };
      try {
        return await PgliteWorkerStore.#start(threadOptions, claimed?.lock ?? null, log);
      } catch (err) {
        throw claimed?.initialised && !(err instanceof ConfigError) ? unopenable(opts.dataDir, err) : err;
      }
    } catch (err) {
      claimed?.lock.release();
      throw err;
    }
  }

  static async #start(opts: PgliteOptions, dirLock: DirLock | null, log?: Logger): Promise<PgliteWorkerStore> {
    const worker = new Worker(new URL('./thread.ts', import.meta.url), { workerData: opts });
    let store: PgliteWorkerStore | null = null;
    const exited = new Promise<void>((resolve) => {
      worker.on('exit', (code) => {
        if (store && !store.#closing) log?.error({ code }, "the embedded database's thread stopped unexpectedly; restart Verdict");
        if (store) store.#fail(new UnavailableError(`the embedded database's thread has stopped (exit code ${code})`));
        resolve();
      });
    });
    worker.on('error', (err) => {
      log?.error({ err: err.message }, "the embedded database's thread failed");
      if (store) store.#fail(new UnavailableError(`the embedded database's thread failed: ${err.message}`, 1, { cause: err }));
    });
    // The thread's first message says whether the database opened.
    const first = await new Promise<Reply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the embedded database's thread stopped while opening (exit code ${code})`)));
    });
    if (!first.ok) {
      await worker.terminate();
      throw deserializeError(first.error);
    }
    const wire = (first.value as { wire: { host: string; port: number } | null }).wire;
    store = new PgliteWorkerStore(worker, wire && opts.wire ? wireAccess(wire, opts.wire.password) : null, exited, dirLock);
    return store;
  }

  #call<T, K extends Op = Op>(op: K, args: Calls[K], transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, op, args } as Call, transfer);
    });
  }

  #settle(reply: Reply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(deserializeError(reply.error));
  }

  #fail(err: Error): void {
    this.#gone ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  migrate(): Promise<string[]> {
    return this.#call('migrate', null);
  }

  write(batches: readonly Batch[]): Promise<void> {
    const transfer: ArrayBuffer[] = [];
    const packed = batches.map((b) => {
      // One exact ArrayBuffer per batch: transferring moves it without a copy, and no pooled memory rides along.
      const all = new Uint8Array(b.spans.chunks.reduce((n, c) => n + c.byteLength, 0));
      let at = 0;
      for (const c of b.spans.chunks) {
        all.set(c, at);
        at += c.byteLength;
      }
      transfer.push(all.buffer);
      return { ...b, spans: { ...b.spans, chunks: [Buffer.from(all.buffer)] } };
    });
    return this.#call('write', packed, transfer);
  }

  ready(): Promise<Readiness> {
    if (this.#gone) return Promise.resolve({ ok: false, reason: this.#gone.message });
    return this.#call('ready', null);
  }

  async close(): Promise<void> {
    this.#closing = true;
    try {
      if (!this.#gone) await this.#call('close', null);
      await this.#exited;
    } finally {
      this.#dirLock?.release();
    }
  }
}

/** Runs PGlite's first start (initdb) on an empty directory in a thread that exits afterwards (init-thread.ts says why). */
async function initialise(dataDir: string): Promise<void> {
  const worker = new Worker(new URL('./init-thread.ts', import.meta.url), { workerData: { dataDir } });
  const outcome = await new Promise<{ ok: boolean; message?: string }>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (err) => resolve({ ok: false, message: err.message }));
    worker.once('exit', (code) => resolve({ ok: false, message: `exit code ${code}` }));
  });
  await worker.terminate();
  if (!outcome.ok) throw new Error(`could not create the embedded database in ${dataDir}: ${outcome.message}`);
}

/** The psql command line and the URL (for Grafana) that reach the wire port with its password. */
export function wireAccess(where: { host: string; port: number }, password: string): WireAccess {
  // A port listening on every interface is reached locally through loopback.
  const host = where.host === '0.0.0.0' || where.host === '::' ? '127.0.0.1' : where.host;
  const shellSafe = /^[\w.,:@%+=-]+$/.test(password) ? password : `'${password.replaceAll("'", `'\\''`)}'`;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    psqlCommand: `PGPASSWORD=${shellSafe} psql -h ${host} -p ${where.port} -U postgres postgres`,
    url: `postgres://postgres:${encodeURIComponent(password)}@${urlHost}:${where.port}/postgres`,
  };
}
