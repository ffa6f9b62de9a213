/**
 * Verdict's own PostgreSQL sessions run without JIT: the write statements
 * are short, but their estimated cost can pass jit_above_cost on a big
 * database, and compiling them cost seconds a write (docs/performance.md).
 * PostgreSQL only: the embedded database has no JIT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('Verdict on PostgreSQL', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('postgres');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs its sessions with JIT off, whatever the server default', async () => {
    const [server] = await t.query<{ setting: string }>(`SELECT boot_val AS setting FROM pg_settings WHERE name = 'jit'`);
    expect(server!.setting).toBe('on');
    // Several at once, so more than one pooled connection answers.
    const answers = await Promise.all(Array.from({ length: 4 }, () => t.query<{ jit: string }>('SHOW jit')));
    expect(answers.map((r) => r[0]!.jit)).toEqual(['off', 'off', 'off', 'off']);
  });
});
