/**
 * `npm run bench:insert`: which bulk path into verdict.spans is fastest, per
 * backend, for the same rows in 512-span batches (one transaction each):
 *
 * - copy:   binary COPY straight into the table (Verdict's fast path);
 * - staged: binary COPY into a temp table, then INSERT … SELECT … ON CONFLICT
 *           DO NOTHING (Verdict's idempotent path after a conflict);
 * - unnest: INSERT … SELECT * FROM unnest($1::text[], …) ON CONFLICT DO NOTHING,
 *           one typed array per column (the usual node-postgres recipe).
 *
 *   node bench/copy-vs-unnest.ts [--database-url URL] [--spans 50000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { makeSpans, Payload } from './workload.ts';
import { NO_POLICY } from '../src/normalize/evaluations.ts';
import { SPAN_COLUMNS } from '../src/model/columns.ts';
import { normalizeTraces } from '../src/normalize/spans.ts';
import { decodeTraceRequest } from '../src/otlp/proto.ts';
import { copyStream, type EncodedRows } from '../src/common/copy-binary.ts';
import { PgliteDatabase } from '../src/store/pglite/database.ts';
import { Writer } from '../src/store/writer.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { silentLogger } from '../src/log.ts';
import { copySql, SPANS } from '../src/store/tables.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const SPANS_N = Number(flag('spans') ?? 50_000);
const ADMIN = flag('database-url') ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const JSONB = new Set(['scope_attributes', 'resource_attributes', 'attributes', 'events', 'links']);
const TIMESTAMPS = new Set(['start_time', 'end_time']);
const INT8 = new Set(['start_time_unix_nano', 'end_time_unix_nano', 'duration_ns', 'flags', 'dropped_attributes_count', 'dropped_events_count', 'dropped_links_count', 'gen_ai_input_tokens', 'gen_ai_output_tokens']);
const castOf = (c: string) => (JSONB.has(c) ? 'jsonb[]' : TIMESTAMPS.has(c) ? 'timestamptz[]' : INT8.has(c) ? 'bigint[]' : 'text[]');
const UNNEST_SQL = `INSERT INTO verdict.spans (${SPAN_COLUMNS.join(', ')}) SELECT * FROM unnest(${SPAN_COLUMNS.map((c, i) => `$${i + 1}::${castOf(c)}`).join(', ')}) ON CONFLICT (trace_id, span_id) DO NOTHING`;

/** Reads Verdict's COPY binary tuples back into one text array per column (the form unnest takes). */
function columns(parts: EncodedRows[]): Array<Array<string | null>> {
  const cols: Array<Array<string | null>> = SPAN_COLUMNS.map(() => []);
  for (const part of parts) {
    const buf = Buffer.concat(part.chunks);
    let pos = 0;
    while (pos < buf.length) {
      const n = buf.readInt16BE(pos);
      pos += 2;
      for (let f = 0; f < n; f++) {
        const len = buf.readInt32BE(pos);
        pos += 4;
        const name = SPAN_COLUMNS[f]!;
        if (len === -1) {
          cols[f]!.push(null);
          continue;
        }
        const v = buf.subarray(pos, pos + len);
        pos += len;
        if (JSONB.has(name)) cols[f]!.push(v.subarray(1).toString('utf8'));
        else if (INT8.has(name)) cols[f]!.push(v.readBigInt64BE(0).toString());
        else if (TIMESTAMPS.has(name)) {
          const us = v.readBigInt64BE(0) + 946_684_800_000_000n;
          const iso = new Date(Number(us / 1000n)).toISOString();
          cols[f]!.push(`${iso.slice(0, -1)}${String(us % 1000n).padStart(3, '0')}Z`);
        } else cols[f]!.push(v.toString('utf8'));
      }
    }
  }
  return cols;
}

interface Session {
  exec(sql: string): Promise<void>;
  copy(sql: string, chunks: Buffer[]): Promise<void>;
  params(sql: string, values: unknown[]): Promise<void>;
}

async function measure(name: string, batches: EncodedRows[][], s: Session): Promise<void> {
  const results: Record<string, number> = {};
  const spans = batches.reduce((n, b) => n + b.reduce((m, p) => m + p.rows, 0), 0);
  await s.exec('CREATE TEMP TABLE IF NOT EXISTS verdict_spans_in (LIKE verdict.spans) ON COMMIT DELETE ROWS');
  const arrays = batches.map(columns);
  for (const method of ['copy', 'staged', 'unnest'] as const) {
    await s.exec('TRUNCATE verdict.spans');
    await s.exec('CHECKPOINT');
    const started = performance.now();
    for (let i = 0; i < batches.length; i++) {
      await s.exec('BEGIN');
      if (method === 'copy') await s.copy(copySql(SPANS), copyStream(batches[i]!));
      else if (method === 'staged') {
        await s.copy(copySql(SPANS, 'verdict_spans_in'), copyStream(batches[i]!));
        await s.exec(`INSERT INTO verdict.spans (${SPAN_COLUMNS.join(', ')}) SELECT ${SPAN_COLUMNS.join(', ')} FROM verdict_spans_in ON CONFLICT (trace_id, span_id) DO NOTHING`);
      } else await s.params(UNNEST_SQL, arrays[i]!);
      await s.exec('COMMIT');
    }
    results[method] = spans / ((performance.now() - started) / 1000);
  }
  console.log(`${name.padEnd(9)} ${Object.entries(results).map(([m, r]) => `${m} ${Math.round(r)} rows/s`).join(', ')}  (${spans} spans, 512 per transaction)`);
}

async function main(): Promise<void> {
  const payload = new Payload(await makeSpans(51, 3));
  const batches: EncodedRows[][] = [];
  for (let i = 0; batches.length * payload.spans < SPANS_N; i++) batches.push([normalizeTraces(decodeTraceRequest(payload.renew(77, i)), { policy: NO_POLICY }).batch.spans]);

  const admin = new pg.Client(ADMIN);
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS verdict_bench_insert WITH (FORCE)');
  await admin.query('CREATE DATABASE verdict_bench_insert');
  const url = new URL(ADMIN);
  url.pathname = '/verdict_bench_insert';
  const store = new PostgresStore({ url: url.toString(), poolSize: 2, writeTimeoutMs: 60_000, log: silentLogger });
  await store.migrate();
  await store.close();
  const client = new pg.Client(url.toString());
  await client.connect();
  await measure('postgres', batches, {
    exec: async (sql) => void (await client.query(sql)),
    copy: (sql, chunks) => new Promise((resolve, reject) => {
      const s = client.query(copyFrom(sql));
      s.on('error', reject);
      s.on('finish', () => resolve());
      for (const c of chunks) s.write(c);
      s.end();
    }),
    params: async (sql, values) => void (await client.query(sql, values)),
  });
  await client.end();
  await admin.query('DROP DATABASE IF EXISTS verdict_bench_insert WITH (FORCE)');
  await admin.end();

  const dir = mkdtempSync(join(tmpdir(), 'verdict-insert-'));
  const lite = await PgliteDatabase.open({ dataDir: dir, wire: null, writeTimeoutMs: 60_000 });
  await new Writer(lite, 60_000, { serialize: false }).migrate();
  const db = lite.pglite;
  await measure('pglite', batches, {
    exec: async (sql) => void (await db.exec(sql)),
    copy: async (sql, chunks) => void (await db.query(sql.replace('FROM STDIN', "FROM '/dev/blob'"), [], { blob: new Blob(chunks) })),
    params: async (sql, values) => void (await db.query(sql, values)),
  });
  await lite.close();
  rmSync(dir, { recursive: true, force: true });
}

void main();
