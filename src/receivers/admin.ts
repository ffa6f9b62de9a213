/**
 * --admin-port: /healthz, /readyz and /metrics on a listener of their own,
 * as the OpenTelemetry Collector keeps its health and telemetry endpoints
 * apart from its receivers. The listener runs in a worker thread
 * (admin-thread.ts), so a flood of probes or scrapes does not take the
 * event loop that decodes exports; readiness is pushed to it as state (the
 * store keeps readiness from the writers' outcomes, never a query per call),
 * metrics are rendered here at most once a second.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import type { Readiness } from '../store/store.ts';
import type { AdminThreadData, FromAdmin, ToAdmin } from './admin-thread.ts';

export interface AdminOptions {
  ready: () => Promise<Readiness>;
  metrics: () => Promise<{ text: string; contentType: string }>;
  log: Logger;
  /** How often readiness is read and, when it changed, pushed to the listener. */
  readyEveryMs?: number;
}

export class AdminListener {
  readonly #opts: AdminOptions;
  #worker: Worker | null = null;
  #timer: NodeJS.Timeout | null = null;
  #last = '';
  #draining = false;
  #port = 0;

  constructor(opts: AdminOptions) {
    this.#opts = opts;
  }

  get port(): number {
    return this.#port;
  }

  /** Starts the thread and binds every address of `host`; returns host:port strings. Rejects with the bind error (its code kept). */
  async listen(host: string, port: number): Promise<string[]> {
    const worker = new Worker(new URL('./admin-thread.ts', import.meta.url), { workerData: { host, port } satisfies AdminThreadData });
    this.#worker = worker;
    worker.on('message', (m: FromAdmin) => {
      if (m.type === 'metrics?') {
        this.#opts.metrics().then(
          (x) => this.#post({ type: 'metrics', text: x.text, contentType: x.contentType }),
          (err: unknown) => this.#post({ type: 'metrics', text: `# metrics unavailable: ${(err as Error).message}\n`, contentType: 'text/plain' }),
        );
      }
    });
    const addresses = await new Promise<string[]>((resolve, reject) => {
      const onMessage = (m: FromAdmin) => {
        if (m.type === 'listening') {
          this.#port = m.port;
          resolve(m.addresses);
        } else if (m.type === 'error') reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    this.#timer = setInterval(() => void this.#pushReadiness(), this.#opts.readyEveryMs ?? 250);
    this.#timer.unref();
    await this.#pushReadiness();
    return addresses;
  }

  /** /readyz answers 503 "shutting down" from now on. */
  drain(): void {
    this.#draining = true;
    void this.#pushReadiness();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    const w = this.#worker;
    this.#worker = null;
    if (!w) return;
    const closed = new Promise<void>((resolve) => {
      w.on('message', (m: FromAdmin) => m.type === 'closed' && resolve());
      w.once('exit', () => resolve());
    });
    w.postMessage({ type: 'close' } satisfies ToAdmin);
    await closed;
    await w.terminate();
  }

  #post(m: ToAdmin): void {
    this.#worker?.postMessage(m);
  }

  async #pushReadiness(): Promise<void> {
    const r: Readiness = this.#draining ? { ok: false, reason: 'shutting down' } : await this.#opts.ready().catch((err: unknown) => ({ ok: false, reason: (err as Error).message }));
    const key = JSON.stringify(r);
    if (key === this.#last) return;
    this.#last = key;
    this.#post({ type: 'ready', ok: r.ok, ...(r.reason ? { reason: r.reason } : {}) });
  }
}
