/**
 * The batcher's group commit, against a store that is a plain in-memory
 * object (this is a unit test of the batcher; the database is real in every
 * other test): many requests become one write; when the store refuses a
 * group's data, each request is retried alone, so only the bad one fails and
 * the others are stored; when the store is unavailable, every request of the
 * group fails (retryable) and nothing is stored.
 */
import { describe, expect, it } from 'vitest';
import { DataError, UnavailableError } from '../../src/errors.ts';
import type { EvaluationRow } from '../../src/model/rows.ts';
import { emptyBatch, type Batch } from '../../src/model/rows.ts';
import { Batcher } from '../../src/pipeline/batcher.ts';
import type { Store } from '../../src/store/store.ts';

/** A batch of one verdict row whose name is `name` (the fake store keys on it). */
function batchNamed(name: string): Batch {
  const b = emptyBatch();
  b.evaluations = [{ id: name, name } as unknown as EvaluationRow];
  return b;
}

/** Stores names; refuses (DataError) any transaction holding a name in `poison`, as PostgreSQL rolls back the whole transaction. */
class FakeStore {
  readonly kind = 'postgres' as const;
  readonly stored: string[] = [];
  readonly transactions: string[][] = [];
  unavailable = false;
  readonly poison: Set<string>;
  constructor(poison: Set<string>) {
    this.poison = poison;
  }
  async write(batches: readonly Batch[]): Promise<void> {
    const names = batches.flatMap((b) => b.evaluations.map((e) => e.name));
    this.transactions.push(names);
    await new Promise((r) => setTimeout(r, 1));
    if (this.unavailable) throw new UnavailableError('the database cannot take the rows now');
    if (names.some((n) => this.poison.has(n))) throw new DataError('the database refused a value', '54000');
    this.stored.push(...names);
  }
}

function batcher(store: FakeStore, maxWaitMs = 20): Batcher {
  return new Batcher(store as unknown as Store, { maxBatchRows: 1000, maxWaitMs, writers: 1, maxInflightRows: 10_000, maxInflightBytes: 1 << 30 });
}

describe('batcher group commit', () => {
  it('writes concurrent requests in one transaction', async () => {
    const store = new FakeStore(new Set());
    const b = batcher(store);
    await Promise.all(['a', 'b', 'c'].map((n) => b.submit(batchNamed(n), 10)));
    expect(store.transactions).toEqual([['a', 'b', 'c']]);
    expect(store.stored).toEqual(['a', 'b', 'c']);
  });

  it('isolates a request the database refuses: it alone fails, the rest of its group is stored', async () => {
    const store = new FakeStore(new Set(['bad']));
    const b = batcher(store);
    const names = ['a', 'b', 'bad', 'c', 'd'];
    const settled = await Promise.allSettled(names.map((n) => b.submit(batchNamed(n), 10)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(DataError);
    expect(store.stored.sort()).toEqual(['a', 'b', 'c', 'd']);
    // One group, refused whole; then each request alone.
    expect(store.transactions[0]).toEqual(names);
    expect(store.transactions.slice(1)).toEqual(names.map((n) => [n]));
    await b.close();
  });

  it('fails a whole group when the database is unavailable (retryable), and stores nothing twice after', async () => {
    const store = new FakeStore(new Set());
    store.unavailable = true;
    const b = batcher(store);
    const first = await Promise.allSettled(['a', 'b'].map((n) => b.submit(batchNamed(n), 10)));
    expect(first.every((s) => s.status === 'rejected' && s.reason instanceof UnavailableError)).toBe(true);
    expect(store.transactions).toEqual([['a', 'b']]); // not split: the data is not at fault
    store.unavailable = false;
    await Promise.all(['a', 'b'].map((n) => b.submit(batchNamed(n), 10)));
    expect(store.stored).toEqual(['a', 'b']);
    // Admission is free again once everything settled.
    expect(b.inflightRows).toBe(0);
    expect(b.inflightBytes).toBe(0);
  });
});
