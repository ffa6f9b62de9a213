/**
 * The long fuzz run, outside CI: `npm run fuzz -- --inputs 200000 [--seed N]`
 * runs test/fuzz/otlp-fuzz.test.ts with its random categories scaled to about
 * that many inputs and prints its summary (inputs, problems, time). CI runs
 * the same file bounded (npm test).
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { inputs: { type: 'string', default: '200000' }, seed: { type: 'string' } } });
const inputs = Number(values.inputs);
if (!Number.isSafeInteger(inputs) || inputs < 1) {
  console.error(`fuzz: --inputs must be a positive integer, got ${JSON.stringify(values.inputs)}`);
  process.exit(2);
}
const env = { ...process.env, VERDICT_FUZZ_INPUTS: String(inputs), ...(values.seed ? { VERDICT_FUZZ_SEED: values.seed } : {}) };
const child = spawn('npx', ['vitest', 'run', 'test/fuzz/otlp-fuzz.test.ts', '--hookTimeout', '600000'], { stdio: 'inherit', env });
child.on('exit', (code) => process.exit(code ?? 1));
