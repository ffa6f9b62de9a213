/**
 * The load generator, run as its own process so that its CPU is not the
 * receiver's: it replays pre-encoded GenAI trace requests (made once with the
 * official SDK serializer, trace IDs renewed per send) over OTLP/gRPC or
 * OTLP/HTTP protobuf, closed-loop (a fixed number in flight, for maximum
 * throughput) or open-loop (a fixed rate, for latency without coordinated
 * omission). Progress goes to stderr; the result, one JSON line, to stdout.
 */
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { makeSpans, Payload } from './workload.ts';
import { cpuSeconds } from './proc.ts';

export interface LoadSpec {
  transport: 'grpc' | 'http';
  /** host:port */
  address: string;
  /** Traces per request (about 10 spans each). */
  tracesPerRequest: number;
  /** Total spans to send (whole requests; at least this many). */
  spans: number;
  /** Closed loop only: send for this long instead (`spans` is then ignored). */
  seconds?: number;
  /** Also count acknowledged spans per interval of this length (the result's `timeline`). */
  timelineMs?: number;
  /** Closed loop: requests in flight. */
  concurrency: number;
  /** Open loop: requests per second; 0 = closed loop. */
  rate: number;
  /** Makes trace IDs unique across runs. */
  salt: number;
}

export interface LoadResult {
  requests: number;
  ackedSpans: number;
  failed: number;
  statuses: Record<string, number>;
  seconds: number;
  spansPerSecond: number;
  spansPerRequest: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  generatorCpuSeconds: number;
  /** With `timelineMs`: spans acknowledged in each interval from `startMs` (wall-clock epoch ms) on. */
  timeline?: { startMs: number; bucketMs: number; acked: number[] };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as LoadSpec;
  if (spec.seconds !== undefined && spec.rate > 0) throw new Error('loadgen: seconds is for the closed loop (rate 0) only');
  // Eight distinct request shapes, so consecutive requests are not byte-identical.
  const payloads = await Promise.all(Array.from({ length: 8 }, async (_, i) => new Payload(await makeSpans(spec.tracesPerRequest, 1000 + i))));
  const perRequest = payloads[0]!.spans;
  const total = spec.seconds !== undefined ? Infinity : Math.ceil(spec.spans / perRequest);
  const bucketMs = spec.timelineMs ?? 0;
  const timeline: number[] = [];
  let startMs = 0;
  const send = spec.transport === 'grpc' ? grpcSender(spec.address, spec.concurrency) : httpSender(spec.address, spec.concurrency);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let acked = 0;
  let next = 0;
  let done = 0;
  const one = async (): Promise<void> => {
    const i = next++;
    const p = payloads[i % payloads.length]!;
    const body = p.renew(spec.salt, i);
    const t = performance.now();
    const status = await send(body);
    latencies.push(performance.now() - t);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status === 'OK' || status === '200') {
      acked += p.spans;
      if (bucketMs > 0) {
        const b = Math.floor((Date.now() - startMs) / bucketMs);
        while (timeline.length <= b) timeline.push(0);
        timeline[b]! += p.spans;
      }
    }
    done++;
  };
  // Tells the orchestrator the timed phase starts (it samples CPU counters around it).
  process.stdout.write('go\n');
  const cpu0 = cpuSeconds(process.pid);
  const started = performance.now();
  startMs = Date.now();
  const until = spec.seconds !== undefined ? started + spec.seconds * 1000 : Infinity;
  const tty = process.stderr.isTTY;
  const progress = setInterval(() => {
    const line = `    ${spec.transport}: ${done}${total === Infinity ? '' : `/${total}`} requests, ${Math.round((acked / (performance.now() - started)) * 1000)} spans/s`;
    process.stderr.write(tty ? `\r${line}   ` : `${line}\n`);
  }, tty ? 1000 : 10_000);
  if (spec.rate > 0) {
    const pending: Promise<void>[] = [];
    for (let k = 0; k < total; k++) {
      const due = started + (k * 1000) / spec.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(one());
    }
    await Promise.all(pending);
  } else {
    await Promise.all(Array.from({ length: spec.concurrency }, async () => {
      while (next < total && performance.now() < until) await one();
    }));
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(progress);
  if (tty) process.stderr.write('\r' + ' '.repeat(70) + '\r');
  latencies.sort((a, b) => a - b);
  const q = (f: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * f))] ?? 0) * 10) / 10;
  const result: LoadResult = {
    requests: done,
    ackedSpans: acked,
    failed: done - Object.entries(statuses).filter(([s]) => s === 'OK' || s === '200').reduce((n, [, c]) => n + c, 0),
    statuses,
    seconds,
    spansPerSecond: acked / seconds,
    spansPerRequest: perRequest,
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) },
    generatorCpuSeconds: cpuSeconds(process.pid) - cpu0,
    ...(bucketMs > 0 ? { timeline: { startMs, bucketMs, acked: timeline } } : {}),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

function httpSender(address: string, concurrency: number) {
  const [host, port] = address.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  return (body: Buffer) =>
    new Promise<string>((resolve) => {
      const req = http.request({ host, port: Number(port), path: '/v1/traces', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
      });
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
      req.end(body);
    });
}

function grpcSender(address: string, _concurrency: number) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 * 1024 * 1024 });
  const raw = (b: Buffer) => b;
  return (body: Buffer) =>
    new Promise<string>((resolve) => {
      client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', raw, raw, body, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err) => {
        resolve(err ? grpc.status[err.code] ?? String(err.code) : 'OK');
      });
    });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) void main();
