/**
 * The review queues and reviewers in force, replaceable without a restart,
 * as the rules are (rules/reloadable.ts): on SIGHUP or when the config file
 * changes, its `review:` section is read and validated again; a section that
 * no longer validates is reported and the previous one stays in force.
 * Items already queued stay; a queue that is gone simply has no one
 * claiming them.
 */
import { readFileSync } from 'node:fs';
import { watchFile, type FileWatch } from '../common/file-watch.ts';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../log.ts';
import { parseReviewConfig, type ReviewConfig } from './config.ts';

export class ReloadableReview {
  #current: ReviewConfig;
  readonly #file: string | null;
  readonly #log: Logger;
  /** Checks a new section against the rest of the settings (reviewer tokens are not ingest tokens); throws ConfigError. */
  readonly #check: (cfg: ReviewConfig) => void;
  #watch: FileWatch | null = null;

  constructor(file: string | null, initial: ReviewConfig, log: Logger, check: (cfg: ReviewConfig) => void = () => {}) {
    this.#file = file;
    this.#current = initial;
    this.#log = log;
    this.#check = check;
    check(initial);
  }

  readonly current = (): ReviewConfig => this.#current;

  /** Reads the config file's review section again; returns whether the new one is in force. */
  reload(): boolean {
    if (!this.#file) return false;
    try {
      const doc = parseYaml(readFileSync(this.#file, 'utf8')) as Record<string, unknown> | null;
      const next = parseReviewConfig(doc?.review);
      this.#check(next);
      this.#current = next;
      this.#log.info({ queues: next.queues.map((q) => q.name), reviewers: next.reviewers.length, file: this.#file }, `loaded ${next.queues.length} review queue(s)`);
      return true;
    } catch (err) {
      this.#log.error({ file: this.#file, err: (err as Error).message }, 'review queues not reloaded; the previous ones stay in force');
      return false;
    }
  }

  /** Reloads when the file changes (debounced, the directory watched: editors replace files). */
  watch(): void {
    if (!this.#file || this.#watch) return;
    this.#watch = watchFile(this.#file, () => this.reload(), (err) => this.#log.warn({ err: err.message }, 'cannot watch the config file; reload the review queues with SIGHUP'));
  }

  close(): void {
    this.#watch?.close();
  }
}
