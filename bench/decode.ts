/**
 * `npm run bench:decode`: what the receiver spends per span on one core
 * before the database sees anything, for the benchmark's GenAI workload
 * (bench/workload.ts, 512-span requests):
 *
 * - decode:            protobuf bytes → message objects (protobufjs over proto/);
 * - decode+normalise:  the above, then the rows encoded for binary COPY
 *                      (spans, and the verdicts found in span events).
 *
 * Each figure is the best of several rounds, after a warm-up round, so it is
 * the steady-state cost of optimised code rather than of the JIT warming up.
 *
 *   node bench/decode.ts [--requests 200] [--rounds 5]
 */
import { makeSpans, Payload } from './workload.ts';
import { NO_POLICY } from '../src/normalize/evaluations.ts';
import { normalizeTraces } from '../src/normalize/spans.ts';
import { decodeTraceRequest } from '../src/otlp/proto.ts';

const argv = process.argv.slice(2);
const flag = (name: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
const REQUESTS = Number(flag('requests') ?? 200);
const ROUNDS = Number(flag('rounds') ?? 5);

const payload = new Payload(await makeSpans(51, 3));
const bodies = Array.from({ length: REQUESTS }, (_, i) => payload.renew(91, i));
const spans = REQUESTS * payload.spans;
const bytes = bodies.reduce((n, b) => n + b.length, 0);

/** Runs `work` over every body `ROUNDS` times (after one warm-up) and returns the best µs per span. */
function best(work: (body: Buffer) => number): number {
  let sink = 0;
  let min = Infinity;
  for (let round = 0; round <= ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    for (const body of bodies) sink += work(body);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / spans;
    if (round > 0) min = Math.min(min, us);
  }
  // The sink keeps the work observable, so none of it can be optimised away.
  if (sink === 0) throw new Error('decoded nothing');
  return min;
}

const decode = best((body) => decodeTraceRequest(body).resourceSpans.length);
const full = best((body) => normalizeTraces(decodeTraceRequest(body), { policy: NO_POLICY }).batch.spans.rows);

console.log(`verdict bench:decode: ${REQUESTS} requests × ${payload.spans} spans (${(bytes / spans).toFixed(0)} bytes of protobuf per span), best of ${ROUNDS} rounds, Node ${process.version}`);
console.log(`  decode:            ${decode.toFixed(1)} µs/span = ${Math.round(1e6 / decode)} spans/s on one core`);
console.log(`  decode+normalise:  ${full.toFixed(1)} µs/span = ${Math.round(1e6 / full)} spans/s on one core`);
