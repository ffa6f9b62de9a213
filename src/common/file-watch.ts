/**
 * Calls `onChange` when a file changes, debounced (editors write in several
 * steps). The directory is watched, since editors often replace the file
 * rather than write it in place. Used by everything reloaded from a file
 * (rules, review queues, evaluators).
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

export function watchFile(file: string, onChange: () => void, onError: (err: Error) => void): FileWatch {
  const name = basename(file);
  let timer: NodeJS.Timeout | null = null;
  const watcher: FSWatcher = watch(dirname(file), (_event, changed) => {
    if (changed !== null && changed !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, 100);
  });
  watcher.on('error', onError);
  return {
    close() {
      watcher.close();
      if (timer) clearTimeout(timer);
    },
  };
}
