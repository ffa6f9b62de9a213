/**
 * What a batch of newly stored spans adds to the summaries and rollups:
 * per run (a trace), and per minute (or hour) and dimensions, with latency
 * histograms. Pure functions over the spans' facts; the write plan merges
 * their output into verdict.trace_summary and the span and latency rollups
 * with upserts whose merge rules (sums, least and greatest, the better root,
 * histograms added bucket by bucket) make the result the same whatever the
 * order and grouping of arrival.
 *
 * The definitions here are the SQL contract's (docs/schema.md); the
 * migration that created the tables computes the same from stored rows.
 */
import type { SpanFact } from '../model/rows.ts';

/** Agent and workflow operations, whose token counts usually repeat their children's. */
export const AGGREGATE_OPERATIONS: ReadonlySet<string> = new Set(['invoke_agent', 'invoke_workflow', 'create_agent']);

/**
 * Latency histogram bucket of a duration: 0 under 1 ms, else b ≥ 1 with
 * 2^((b-1)/4) ≤ ms < 2^(b/4) (verdict.latency_bucket_upper_ms is the upper edge).
 */
export function latencyBucket(durationNs: number): number {
  if (!(durationNs >= 1e6)) return 0;
  return Math.min(Math.floor(Math.log2(durationNs / 1e6) * 4) + 1, 32000);
}

/** One run's share of a batch. */
export interface TraceDelta {
  traceId: string;
  spans: number;
  errors: number;
  startNs: bigint;
  endNs: bigint;
  /** The best root candidate in the batch: a span without a parent, else the earliest (ties by span ID). */
  rootSpanId: string;
  rootName: string;
  rootIsRoot: boolean;
  rootStartNs: bigint;
  serviceName: string | null;
  serviceVersion: string | null;
  agentName: string | null;
  /** The greatest gen_ai.conversation.id among its spans. */
  conversationId: string | null;
  /** The greatest user_id among its spans. */
  userId: string | null;
  /** The response (else request) model of the model call that ended last (ties by model name). */
  model: string | null;
  modelEndNs: bigint | null;
  leafInputTokens: bigint | null;
  leafOutputTokens: bigint | null;
  aggregateInputTokens: bigint | null;
  aggregateOutputTokens: bigint | null;
  /** The best root candidate's input and output text. */
  rootInputText: string | null;
  rootOutputText: string | null;
  /** The earliest model call that has input text (by start, then span ID), and that text. */
  firstInputNs: bigint | null;
  firstInputSpanId: string | null;
  firstInputText: string | null;
  /** The model call that ended last and has output text (by end, then span ID, the greater first), and that text. */
  lastOutputNs: bigint | null;
  lastOutputSpanId: string | null;
  lastOutputText: string | null;
}

const add = (a: bigint | null, b: bigint | null): bigint | null => (a === null ? b : b === null ? a : a + b);

/** Whether root candidate `a` is better than `b`: a real root first, then the earlier start, then the smaller span ID. */
export function betterRoot(a: { root: boolean; startNs: bigint; spanId: string }, b: { root: boolean; startNs: bigint; spanId: string }): boolean {
  if (a.root !== b.root) return a.root;
  if (a.startNs !== b.startNs) return a.startNs < b.startNs;
  return a.spanId < b.spanId;
}

export function traceDeltas(facts: readonly SpanFact[]): TraceDelta[] {
  const byTrace = new Map<string, { d: TraceDelta; root: SpanFact }>();
  for (const f of facts) {
    const model = f.responseModel ?? f.requestModel;
    const leaf = f.operation === null || !AGGREGATE_OPERATIONS.has(f.operation);
    let entry = byTrace.get(f.traceId);
    if (!entry) {
      entry = {
        root: f,
        d: {
          traceId: f.traceId, spans: 0, errors: 0, startNs: f.startNs, endNs: f.endNs, rootSpanId: f.spanId, rootName: f.name,
          rootIsRoot: f.root, rootStartNs: f.startNs, serviceName: f.serviceName, serviceVersion: f.serviceVersion, agentName: f.agentName,
          conversationId: null, userId: null, model: null, modelEndNs: null, leafInputTokens: null, leafOutputTokens: null,
          aggregateInputTokens: null, aggregateOutputTokens: null, rootInputText: f.inputText, rootOutputText: f.outputText,
          firstInputNs: null, firstInputSpanId: null, firstInputText: null, lastOutputNs: null, lastOutputSpanId: null, lastOutputText: null,
        },
      };
      byTrace.set(f.traceId, entry);
    }
    const d = entry.d;
    d.spans++;
    if (f.error) d.errors++;
    if (f.startNs < d.startNs) d.startNs = f.startNs;
    if (f.endNs > d.endNs) d.endNs = f.endNs;
    if (betterRoot(f, entry.root)) {
      entry.root = f;
      Object.assign(d, {
        rootSpanId: f.spanId, rootName: f.name, rootIsRoot: f.root, rootStartNs: f.startNs, serviceName: f.serviceName, serviceVersion: f.serviceVersion,
        agentName: f.agentName, rootInputText: f.inputText, rootOutputText: f.outputText,
      });
    }
    if (f.modelCall && f.inputText !== null && (d.firstInputNs === null || f.startNs < d.firstInputNs || (f.startNs === d.firstInputNs && f.spanId < (d.firstInputSpanId as string)))) {
      d.firstInputNs = f.startNs;
      d.firstInputSpanId = f.spanId;
      d.firstInputText = f.inputText;
    }
    if (f.modelCall && f.outputText !== null && (d.lastOutputNs === null || f.endNs > d.lastOutputNs || (f.endNs === d.lastOutputNs && f.spanId > (d.lastOutputSpanId as string)))) {
      d.lastOutputNs = f.endNs;
      d.lastOutputSpanId = f.spanId;
      d.lastOutputText = f.outputText;
    }
    if (f.conversationId !== null && (d.conversationId === null || f.conversationId > d.conversationId)) d.conversationId = f.conversationId;
    if (f.userId !== null && (d.userId === null || f.userId > d.userId)) d.userId = f.userId;
    if (model !== null && (d.modelEndNs === null || f.endNs > d.modelEndNs || (f.endNs === d.modelEndNs && model > (d.model as string)))) {
      d.model = model;
      d.modelEndNs = f.endNs;
    }
    if (leaf) {
      d.leafInputTokens = add(d.leafInputTokens, f.inputTokens);
      d.leafOutputTokens = add(d.leafOutputTokens, f.outputTokens);
    } else {
      d.aggregateInputTokens = add(d.aggregateInputTokens, f.inputTokens);
      d.aggregateOutputTokens = add(d.aggregateOutputTokens, f.outputTokens);
    }
  }
  // Sorted, so that concurrent writers lock summary rows in the same order.
  return [...byTrace.values()].map((e) => e.d).sort((a, b) => (a.traceId < b.traceId ? -1 : a.traceId > b.traceId ? 1 : 0));
}

const MINUTE_S = 60;
const HOUR_S = 3600;

/**
 * Rollup grains, and whether the tool is one of their dimensions: the
 * hourly rollups keep it (tools over days and weeks); the minute ones do
 * not, which keeps their rows fewer where most rows are.
 */
export interface Grain {
  seconds: number;
  byTool: boolean;
}
export const MINUTES: Grain = { seconds: MINUTE_S, byTool: false };
export const HOURS: Grain = { seconds: HOUR_S, byTool: true };

/** One row of verdict.span_rollup's (or span_rollup_hourly's) increments; `tool` is null in the minute rows. */
export interface SpanRollup {
  /** Start of the minute (or hour), in Unix seconds. */
  at: number;
  serviceName: string | null;
  serviceVersion: string | null;
  operation: string | null;
  model: string | null;
  agent: string | null;
  tool: string | null;
  spans: number;
  roots: number;
  errors: number;
  inputTokens: bigint;
  outputTokens: bigint;
  durationNs: number;
}

/** One row of verdict.latency_rollup's (or latency_rollup_hourly's) increments: a sparse histogram. */
export interface LatencyRollup {
  at: number;
  serviceName: string | null;
  operation: string | null;
  tool: string | null;
  spans: number;
  /** Buckets present, ascending, and the spans in each. */
  buckets: number[];
  counts: number[];
}

/** A part of a grouping key. */
type Part = number | string | null;

/** Parts compared in turn: null first, then ascending (numbers as numbers, strings by UTF-16 code unit). */
function compareParts(a: readonly Part[], b: readonly Part[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Part;
    const y = b[i] as Part;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Values grouped by a tuple of parts, found through one map per part: no
 * key is built per span (building one was most of what the rollups
 * allocated).
 */
class Groups<T> {
  readonly #root = new Map<Part, unknown>();
  readonly #entries: Array<{ parts: Part[]; value: T }> = [];

  /** The value under `parts` (read only here: the caller may reuse the array), or undefined. */
  get(parts: readonly Part[]): T | undefined {
    let level: Map<Part, unknown> | undefined = this.#root;
    for (let i = 0; i < parts.length - 1 && level; i++) level = level.get(parts[i] as Part) as Map<Part, unknown> | undefined;
    return level?.get(parts[parts.length - 1] as Part) as T | undefined;
  }

  add(parts: readonly Part[], value: T): void {
    let level = this.#root;
    for (let i = 0; i < parts.length - 1; i++) {
      let next = level.get(parts[i] as Part) as Map<Part, unknown> | undefined;
      if (!next) {
        next = new Map();
        level.set(parts[i] as Part, next);
      }
      level = next;
    }
    level.set(parts[parts.length - 1] as Part, value);
    this.#entries.push({ parts: [...parts], value });
  }

  /** The values in the order of their parts, so that concurrent writers lock rollup rows in the same order. */
  sorted(): T[] {
    return this.#entries.sort((a, b) => compareParts(a.parts, b.parts)).map((e) => e.value);
  }
}

/** The start of the grain a span started in, in Unix seconds (exact: whole microseconds are below 2^53). */
const grainStart = (f: SpanFact, g: Grain): number => {
  const grainUs = g.seconds * 1_000_000;
  return (f.startUs - (f.startUs % grainUs)) / 1_000_000;
};

export function spanRollups(facts: readonly SpanFact[], g: Grain): SpanRollup[] {
  const rows = new Groups<SpanRollup>();
  const key: Part[] = [];
  for (const f of facts) {
    const at = grainStart(f, g);
    const model = f.responseModel ?? f.requestModel;
    const tool = g.byTool ? f.toolName : null;
    key[0] = at; key[1] = f.serviceName; key[2] = f.serviceVersion; key[3] = f.operation; key[4] = model; key[5] = f.agentName; key[6] = tool;
    let r = rows.get(key);
    if (!r) {
      r = { at, serviceName: f.serviceName, serviceVersion: f.serviceVersion, operation: f.operation, model, agent: f.agentName, tool, spans: 0, roots: 0, errors: 0, inputTokens: 0n, outputTokens: 0n, durationNs: 0 };
      rows.add(key, r);
    }
    r.spans++;
    if (f.root) r.roots++;
    if (f.error) r.errors++;
    r.inputTokens += f.inputTokens ?? 0n;
    r.outputTokens += f.outputTokens ?? 0n;
    r.durationNs += f.durationNs;
  }
  return rows.sorted();
}

export function latencyRollups(facts: readonly SpanFact[], g: Grain): LatencyRollup[] {
  const rows = new Groups<{ row: LatencyRollup; byBucket: Map<number, number> }>();
  const key: Part[] = [];
  for (const f of facts) {
    const at = grainStart(f, g);
    const tool = g.byTool ? f.toolName : null;
    key[0] = at; key[1] = f.serviceName; key[2] = f.operation; key[3] = tool;
    let r = rows.get(key);
    if (!r) {
      r = { row: { at, serviceName: f.serviceName, operation: f.operation, tool, spans: 0, buckets: [], counts: [] }, byBucket: new Map() };
      rows.add(key, r);
    }
    r.row.spans++;
    const bucket = latencyBucket(f.durationNs);
    r.byBucket.set(bucket, (r.byBucket.get(bucket) ?? 0) + 1);
  }
  return rows.sorted().map(({ row, byBucket }) => {
    const buckets = [...byBucket.keys()].sort((a, b) => a - b);
    return { ...row, buckets, counts: buckets.map((b) => byBucket.get(b) as number) };
  });
}
