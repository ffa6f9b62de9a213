/**
 * The online judges inside `verdict serve` (and `verdict evaluate`): the
 * evaluators in force, the feed that turns committed batches into jobs, and
 * the worker pool. On PostgreSQL the pool reads and claims on database
 * connections of its own, so judging never takes a connection ingest is
 * waiting for; the embedded database is one session, shared.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { JobFeed } from '../judges/feed.ts';
import { JudgeMetrics } from '../judges/metrics.ts';
import { ReloadableEvaluators } from '../judges/reloadable.ts';
import { DEFAULT_CONCURRENCY, JudgePool } from '../judges/worker.ts';
import type { Logger } from '../log.ts';
import type { Batch, EvaluationRow } from '../model/rows.ts';
import { PostgresStore } from '../store/postgres.ts';
import type { Store } from '../store/store.ts';

export interface JudgeSetup {
  cfg: Config;
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  registry: Registry | null;
  concurrency?: number;
  clock?: () => number;
}

export class Judges {
  readonly evaluators: ReloadableEvaluators;
  readonly feed: JobFeed;
  readonly metrics: JudgeMetrics | undefined;
  readonly #s: JudgeSetup;
  #pool: JudgePool | null = null;
  #own: Store | null = null;

  constructor(s: JudgeSetup) {
    this.#s = s;
    this.evaluators = new ReloadableEvaluators(s.cfg.evaluators, s.cfg.configFile, s.env, s.log);
    this.metrics = s.registry ? new JudgeMetrics(s.registry) : undefined;
    this.feed = new JobFeed(this.evaluators.current, s.log, this.metrics, s.clock);
  }

  get pool(): JudgePool {
    if (!this.#pool) throw new Error('the judge pool has not started');
    return this.#pool;
  }

  /** For Ingest's afterCommit: queues the batch's candidates; never throws (the batch is committed whatever happens here). */
  readonly observe = (batch: Batch): void => {
    try {
      this.feed.observe(batch);
    } catch (err) {
      this.#s.log.warn({ err: (err as Error).message }, 'judges: cannot queue jobs for a batch');
    }
  };

  reload(): boolean {
    return this.evaluators.reload();
  }

  /**
   * Starts the pool on the opened database. Verdicts go through `write`: in
   * `serve`, the batcher, so that they join ingest's group commits instead of
   * adding transactions of their own (measured: docs/performance.md).
   */
  start(store: Store, write: (rows: EvaluationRow[]) => Promise<void>, opts: { run?: boolean } = {}): JudgePool {
    const { cfg, log, clock } = this.#s;
    const concurrency = this.#s.concurrency ?? DEFAULT_CONCURRENCY;
    if (store.kind === 'postgres' && cfg.databaseUrl) {
      this.#own = new PostgresStore({ url: cfg.databaseUrl, poolSize: concurrency + 1, writeTimeoutMs: Math.max(cfg.writeTimeoutMs, 30_000), log });
    }
    const db = (this.#own ?? store).db;
    const pool = new JudgePool({
      db, evaluators: this.evaluators.current, write, log, concurrency,
      beforeClaim: () => this.feed.flush(db),
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(clock ? { clock } : {}),
    });
    this.#pool = pool;
    if (opts.run !== false) {
      pool.start();
      this.evaluators.watch();
      log.info({ evaluators: this.evaluators.current().map((e) => `${e.name}@${e.version}`), workers: concurrency }, 'judges started');
    }
    return pool;
  }

  /** Stops claiming, releases held jobs, closes the pool's connections. */
  async close(): Promise<void> {
    this.evaluators.close();
    await this.#pool?.stop();
    await this.#own?.close();
  }
}
