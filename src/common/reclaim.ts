/**
 * Giving memory back after an attack. Bodies cut while they were arriving
 * (too slow, over a receive limit) leave their chunks to the garbage
 * collector; those Buffers have lived long enough to be in V8's old
 * generation, whose collection a quiet heap may not start for a long time,
 * so RSS stayed up by what the attack made the receiver hold (measured: 95
 * MiB over baseline for minutes after twelve slow bodies were cut). Once
 * enough cut bytes have been dropped, one full collection is run once the
 * cutting has paused (at most every RECLAIM_EVERY_MS; a 30 MB heap takes
 * some 10 ms).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

const RECLAIM_AFTER_BYTES = 32 * 1024 * 1024;
const RECLAIM_EVERY_MS = 5000;
const QUIET_MS = 500;

let gc: (() => void) | null = null;
let dropped = 0;
let last = 0;
let timer: NodeJS.Timeout | null = null;

function collect(): void {
  if (!gc) {
    // A full collection on request: what --expose-gc gives, enabled once, here only.
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}

/**
 * Notes `bytes` of a cut body dropped. Once enough have been, a full
 * collection runs QUIET_MS after the last drop (an attack cuts many bodies
 * in a burst: one collection after it frees them all), at most every
 * RECLAIM_EVERY_MS.
 */
export function droppedReceived(bytes: number): void {
  dropped += bytes;
  if (dropped < RECLAIM_AFTER_BYTES) return;
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    dropped = 0;
    last = Date.now();
    collect();
  }, Math.max(QUIET_MS, last + RECLAIM_EVERY_MS - Date.now()));
  timer.unref();
}
