/**
 * Node.js flags Verdict runs with, everywhere it is started (the `verdict`
 * bin's shebang, `npm start`, the Docker image, the benchmark and the tests
 * that start it as a process).
 *
 * --max-semi-space-size=4: nearly everything Verdict allocates lives for one
 * request, and V8 grows the young generation up to 3 × 32 MB under a high
 * allocation rate. Measured (`npm run bench` workload, 400k spans): peak RSS
 * 324 MB with the default, 228 MB with 4 MB semi-spaces, and no throughput
 * lost. V8 takes these flags only at start, not from v8.setFlagsFromString.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
