/**
 * The processing path between the receivers and the database: the metrics
 * registry, the group-committing batcher over the store, the feedback
 * policy, the rule engine, the transport-neutral Ingest the receivers
 * call, and the review queues' filler that hears of its commits.
 */
import type { Config } from '../config.ts';
import { createPolicy } from '../feedback/policy.ts';
import { Ingest } from '../ingest.ts';
import { Metrics } from '../metrics.ts';
import type { EvaluationPolicy } from '../normalize/evaluations.ts';
import { Batcher } from '../pipeline/batcher.ts';
import type { ReloadableReview } from '../review/reloadable.ts';
import { ReviewFiller } from '../review/filler.ts';
import { RuleEngine } from '../rules/engine.ts';
import type { Batch } from '../model/rows.ts';
import type { ReloadableRules } from '../rules/reloadable.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../log.ts';

export interface Pipeline {
  metrics: Metrics;
  batcher: Batcher;
  policy: EvaluationPolicy;
  ingest: Ingest;
  /** Fills the review queues from what each write committed. */
  filler: ReviewFiller;
}

/** `judged`: hears each committed batch for the online judges, when evaluators are configured. */
export function createPipeline(cfg: Config, store: Store, rules: ReloadableRules, review: ReloadableReview, log: Logger, judged?: (batch: Batch) => void): Pipeline {
  const metrics = new Metrics(() => ({ rows: batcher.inflightRows, bytes: batcher.inflightBytes }));
  const batcher = new Batcher(
    store,
    {
      maxBatchRows: cfg.batchMaxRows,
      maxWaitMs: cfg.batchMaxWaitMs,
      // PGlite is one session: more writers would only queue on its lock.
      writers: store.kind === 'pglite' ? 1 : cfg.writers,
      maxInflightRows: cfg.maxInflightRows,
      maxInflightBytes: cfg.maxInflightBytes,
    },
    {
      onWrite(rows, requests, seconds, error) {
        metrics.writeDuration.observe({ outcome: error ? 'error' : 'committed' }, seconds);
        metrics.batchRows.observe(rows);
        metrics.batchRequests.observe(requests);
        if (error) metrics.dbErrors.inc({ kind: error.name === 'DataError' ? 'data' : 'unavailable' });
      },
    },
  );
  const policy = createPolicy(cfg.feedback);
  const engine = new RuleEngine(rules.current, policy);
  const filler = new ReviewFiller({ db: () => store.db, config: review.current, log });
  const ingest = new Ingest({
    batcher,
    policy,
    metrics,
    onCommitted: judged
      ? (batch) => {
          filler.observe(batch);
          judged(batch);
        }
      : filler.observe,
    ...(cfg.rulesFile ? { spanObservers: [engine.spanObserver], logObservers: [engine.logObserver] } : {}),
  });
  return { metrics, batcher, policy, ingest, filler };
}
