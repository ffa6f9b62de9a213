/**
 * The evaluators in force, replaceable without a restart: on SIGHUP (with
 * the rules) or when the config file changes, its `evaluators:` section is
 * read again. An evaluator whose prompt or output spec changed has a new
 * version: its targets are judged again under that version, and the old
 * verdicts keep theirs. A section that no longer validates is reported and
 * the previous evaluators stay in force.
 */
import { readFileSync } from 'node:fs';
import { watchFile, type FileWatch } from '../common/file-watch.ts';
import { parse as parseYaml } from 'yaml';
import type { Logger } from '../log.ts';
import { parseEvaluators, type Evaluator } from './config.ts';

export class ReloadableEvaluators {
  #current: readonly Evaluator[];
  readonly #file: string | null;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #log: Logger;
  #watch: FileWatch | null = null;

  constructor(initial: readonly Evaluator[], file: string | null, env: Readonly<Record<string, string | undefined>>, log: Logger) {
    this.#current = initial;
    this.#file = file;
    this.#env = env;
    this.#log = log;
  }

  readonly current = (): readonly Evaluator[] => this.#current;

  /** Reads the config file's evaluators again; returns whether the new ones are in force. */
  reload(): boolean {
    if (!this.#file) return false;
    try {
      const doc = parseYaml(readFileSync(this.#file, 'utf8')) as Record<string, unknown> | null;
      const next = parseEvaluators(doc?.evaluators, this.#env);
      const before = new Map(this.#current.map((e) => [e.name, e.version]));
      this.#current = next;
      const changed = next.filter((e) => before.get(e.name) !== e.version).map((e) => `${e.name}@${e.version}`);
      this.#log.info({ evaluators: next.map((e) => `${e.name}@${e.version}`), changed, file: this.#file }, `loaded ${next.length} evaluator(s)`);
      return true;
    } catch (err) {
      this.#log.error({ file: this.#file, err: (err as Error).message }, 'evaluators not reloaded; the previous ones stay in force');
      return false;
    }
  }

  /** Reloads when the config file changes (debounced; the directory is watched, since editors replace files). */
  watch(): void {
    if (!this.#file || this.#watch) return;
    this.#watch = watchFile(this.#file, () => this.reload(), (err) => this.#log.warn({ err: err.message }, 'cannot watch the config file; reload evaluators with SIGHUP'));
  }

  close(): void {
    this.#watch?.close();
  }
}
