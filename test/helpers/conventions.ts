/**
 * The captured exports of GenAI instrumentation libraries
 * (test/fixtures/conventions/), replayed as they were sent, with two
 * optional rewrites that keep them what they are but let several replays
 * share one database: every library answered `chatcmpl-1…` and used the
 * thread `thread-42`, so `tag` makes those `chatcmpl-<tag>-1…` and
 * `thread-<tag>` in every string value (JSON inside strings included); and
 * `traceSalt` changes every trace ID (spans and log records alike).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { LogsRequest, TraceRequest } from '../../src/otlp/proto.ts';

const DIR = new URL('../fixtures/conventions/', import.meta.url);

export const LIBRARIES = [
  'openinference-openai', 'openinference-langchain', 'vercel-ai-genai', 'vercel-ai-legacy', 'vercel-ai-v6', 'traceloop', 'otel-openai', 'langsmith',
] as const;
export type Library = (typeof LIBRARIES)[number];

export interface Rewrite {
  tag?: string;
  traceSalt?: number;
}

function walk(o: unknown, edit: (s: string) => string, salt: number): void {
  if (Array.isArray(o)) {
    for (const x of o) walk(x, edit, salt);
    return;
  }
  if (typeof o !== 'object' || o === null || o instanceof Uint8Array) return;
  const rec = o as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    const v = rec[key];
    if (key === 'stringValue' && typeof v === 'string') rec[key] = edit(v);
    else if (key === 'traceId' && v instanceof Uint8Array && v.length === 16 && salt !== 0) {
      const id = Uint8Array.from(v);
      id[0] = (id[0] as number) ^ salt;
      rec[key] = id;
    } else walk(v, edit, salt);
  }
}

/** One fixture file's request body, rewritten as asked. */
export function fixture(library: Library, file: string, rewrite: Rewrite = {}): Buffer {
  const body = readFileSync(new URL(`${library}/${file}`, DIR));
  if (rewrite.tag === undefined && !rewrite.traceSalt) return body;
  const type = file.startsWith('logs') ? LogsRequest : TraceRequest;
  const msg = type.decode(body);
  const tag = rewrite.tag;
  const edit = tag === undefined ? (s: string) => s : (s: string) => s.replaceAll('chatcmpl-', `chatcmpl-${tag}-`).replaceAll('resp_', `resp_${tag}_`).replaceAll('thread-42', `thread-${tag}`);
  walk(msg, edit, rewrite.traceSalt ?? 0);
  return Buffer.from(type.encode(msg).finish());
}

/** The request files of a library, traces and logs. */
export function fixtureFiles(library: Library): { traces: string[]; logs: string[] } {
  const files = readdirSync(new URL(`${library}/`, DIR)).filter((f) => f.endsWith('.pb')).sort();
  return { traces: files.filter((f) => f.startsWith('traces')), logs: files.filter((f) => f.startsWith('logs')) };
}

/** The service.name each library's capture ran as (LangSmith's SDK sets none). */
export const SERVICE: Record<Library, string> = {
  'openinference-openai': 'conventions-openinference-openai',
  'openinference-langchain': 'conventions-openinference-langchain',
  'vercel-ai-genai': 'conventions-vercel-ai-genai',
  'vercel-ai-legacy': 'conventions-vercel-ai-legacy',
  'vercel-ai-v6': 'conventions-vercel-ai-v6',
  traceloop: 'conventions-traceloop',
  'otel-openai': 'conventions-otel-openai',
  langsmith: 'unknown_service:/root/.node24/lib/node_modules/node/bin/node',
};
