/**
 * Node.js flags Verdict runs with, everywhere it is started (the `verdict`
 * bin's shebang, `npm start`, the Docker image, the benchmark and the tests
 * that start it as a process).
 *
 * --max-semi-space-size=4: nearly everything Verdict allocates lives for one
 * request, and V8 grows the young generation up to 3 × 32 MB under a high
 * allocation rate. Measured (`npm run bench` workload, 400k spans): peak RSS
 * 324 MB with the default, 228 MB with 4 MB semi-spaces, and no throughput
 * lost.
 *
 * --no-wasm-code-gc: the V8 of Node.js 24 (24.21, which npm ci installs,
 * included) can abort the whole process while freeing WebAssembly code, when
 * its registry of JIT pages is asked to drop an allocation it does not hold
 * ("Check failed: jit_page_->allocations_.erase(addr) == 1" in
 * UnregisterWasmAllocation). It has been reported under PGlite's churn of
 * instances on Node.js 24.18 (nodejs/node#64500, open), and a full test run
 * here lost a test process to it on 24.21. The embedded database is
 * PostgreSQL compiled to WebAssembly, run in worker threads that come and go
 * (on a first start, initdb runs in one of its own). The abort was never
 * reproduced on demand here, so this flag is a narrowing, argued from where
 * the check sits, not a proven cure: with dead code no longer collected while
 * a module lives, code is freed only when a whole module goes. The price is on
 * the embedded database only: in three alternating runs of
 * `npm run bench:memory` each way, 0.143-0.145 s of the receiver's CPU per
 * 1,000 spans without the collection against 0.112-0.130 s with it (RSS moved
 * both ways); on PostgreSQL, where no WebAssembly runs per span, no
 * difference. A crash of the receiver costs more than that, so the flag stays
 * until the Node.js that npm ci installs has a fix.
 *
 * V8 takes these flags only at start, not from v8.setFlagsFromString, and
 * Node.js refuses --no-wasm-code-gc in NODE_OPTIONS: they go on the command
 * line wherever Verdict is started, and the test processes, which open
 * embedded databases themselves, get the second (vitest.config.ts);
 * test/unit/node-flags.test.ts checks each place.
 */
export const WASM_CODE_GC_OFF = '--no-wasm-code-gc';
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', WASM_CODE_GC_OFF];
