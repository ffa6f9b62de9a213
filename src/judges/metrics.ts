/**
 * The judges' Prometheus metrics, on the receiver's registry (served at
 * /metrics). Evaluator names are labels: they come from the config file, so
 * their number is bounded.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class JudgeMetrics {
  /** Jobs by evaluator and what became of them: queued, done, invalid_output, failed, skipped, retried, deferred (budget). */
  readonly jobs: Counter<'evaluator' | 'outcome'>;
  readonly running: Gauge<'evaluator'>;
  readonly callDuration: Histogram<'evaluator' | 'outcome'>;
  readonly tokens: Counter<'evaluator' | 'kind'>;
  readonly budgetLeft: Gauge<'evaluator' | 'budget'>;

  constructor(r: Registry) {
    this.jobs = new Counter({ name: 'verdict_judge_jobs_total', help: 'Judge jobs by evaluator and outcome (queued, done, invalid_output, failed, skipped, retried, deferred).', labelNames: ['evaluator', 'outcome'], registers: [r] });
    this.running = new Gauge({ name: 'verdict_judge_jobs_running', help: 'Judge jobs this process holds a lease on.', labelNames: ['evaluator'], registers: [r] });
    this.callDuration = new Histogram({
      name: 'verdict_judge_call_duration_seconds', help: 'Latency of calls to the judge model, by evaluator and outcome (answer, rate_limited, server_error, timeout, network, refused, bad_response).',
      labelNames: ['evaluator', 'outcome'], buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64], registers: [r],
    });
    this.tokens = new Counter({ name: 'verdict_judge_tokens_total', help: 'Tokens the judge models used, by evaluator and kind (input, output).', labelNames: ['evaluator', 'kind'], registers: [r] });
    this.budgetLeft = new Gauge({ name: 'verdict_judge_budget_remaining', help: 'What is left of an evaluator\'s budget (calls_per_minute, tokens_per_day) as of its last call.', labelNames: ['evaluator', 'budget'], registers: [r] });
  }
}
