/** Waiting for a condition rather than for a guessed time, so that a loaded machine only makes tests slower. */

/** Resolves with the first truthy value of `check`, polled every `everyMs`; rejects after `timeoutMs`, naming `what`. */
export async function waitUntil<T>(what: string, check: () => T | Promise<T>, { timeoutMs = 30_000, everyMs = 50 } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
