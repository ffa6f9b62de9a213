/**
 * The rules in force, replaceable without a restart: on SIGHUP (wired in
 * cli.ts) or when the file changes. A file that no longer validates is
 * reported and the previous rules stay in force; at start-up it stops
 * start-up instead (loadRules throws).
 */
import { watchFile, type FileWatch } from '../common/file-watch.ts';
import type { Logger } from '../log.ts';
import { EMPTY_RULES, loadRules, type RuleSet } from './config.ts';

export class ReloadableRules {
  #current: RuleSet;
  readonly #file: string | null;
  readonly #log: Logger;
  #watch: FileWatch | null = null;

  constructor(file: string | null, log: Logger) {
    this.#file = file;
    this.#log = log;
    this.#current = file ? loadRules(file) : EMPTY_RULES;
  }

  readonly current = (): RuleSet => this.#current;

  /** Reads the file again; returns whether the new rules are in force. */
  reload(): boolean {
    if (!this.#file) return false;
    try {
      this.#current = loadRules(this.#file);
      this.#log.info({ rules: this.#current.rules.map((r) => r.name), file: this.#file }, `loaded ${this.#current.rules.length} rule(s)`);
      return true;
    } catch (err) {
      this.#log.error({ file: this.#file, err: (err as Error).message }, 'rules not reloaded; the previous rules stay in force');
      return false;
    }
  }

  /**
   * Reloads when the file changes (debounced: editors write in several
   * steps). The directory is watched, since editors often replace the file.
   */
  watch(): void {
    if (!this.#file || this.#watch) return;
    this.#watch = watchFile(this.#file, () => this.reload(), (err) => this.#log.warn({ err: err.message }, 'cannot watch the rules file; reload with SIGHUP'));
  }

  close(): void {
    this.#watch?.close();
  }
}
