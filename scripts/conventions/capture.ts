/**
 * Runs every scenario against the fake model and the OTLP capture server and
 * writes what each library exported to test/fixtures/conventions/<scenario>/.
 *
 * Each scenario runs in its own Node process: every library installs global
 * OpenTelemetry state (tracer provider, context manager, patched modules),
 * and several need different SDK generations, so they cannot share one.
 * Scenarios run one after another (the machines have two cores) and each is
 * killed after SCENARIO_TIMEOUT_MS.
 *
 *   npm run capture                  # all scenarios
 *   npm run capture -- traceloop     # only the named ones
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCaptureServer } from './lib/capture-server.ts';
import { startFakeOpenAI } from './lib/fake-openai.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(HERE, '../../test/fixtures/conventions');
const SCENARIO_TIMEOUT_MS = 45_000;
/** After the scenario exits, how long to wait for a straggling export to land. */
const SETTLE_MS = 300;

interface Scenario {
  /** Fixture folder name. */
  name: string;
  /** Workspace folder under scenarios/ holding scenario.ts and its package.json. */
  dir: string;
  env?: Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  { name: 'openinference-openai', dir: 'openinference-openai' },
  { name: 'openinference-langchain', dir: 'openinference-langchain' },
  { name: 'vercel-ai-genai', dir: 'vercel-ai', env: { AI_SDK_TELEMETRY: 'OpenTelemetry' } },
  { name: 'vercel-ai-legacy', dir: 'vercel-ai', env: { AI_SDK_TELEMETRY: 'LegacyOpenTelemetry' } },
  { name: 'vercel-ai-v6', dir: 'vercel-ai-v6' },
  { name: 'traceloop', dir: 'traceloop' },
  // 0.22.0 ignores the opt-in (see its scenario); set so the fixture is what a user who follows the advice gets.
  { name: 'otel-openai', dir: 'otel-openai', env: { OTEL_SEMCONV_STABILITY_OPT_IN: 'gen_ai_latest_experimental', OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' } },
  {
    name: 'langsmith',
    dir: 'langsmith',
    env: {
      LANGSMITH_TRACING: 'true',
      LANGSMITH_OTEL_ENABLED: 'true',
      LANGSMITH_API_KEY: 'lsv2-test',
      LANGSMITH_PROJECT: 'verdict-conventions',
      // Anything the SDK still sends to the LangSmith API lands in the sink as "unexpected".
      LANGSMITH_ENDPOINT: 'CAPTURE_SINK',
    },
  },
];

function run(s: Scenario, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['scenario.ts'], { cwd: path.join(HERE, 'scenarios', s.dir), env, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      console.error(`[${s.name}] still running after ${SCENARIO_TIMEOUT_MS} ms: killing it`);
      child.kill('SIGKILL');
    }, SCENARIO_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - started });
    });
  });
}

const only = process.argv.slice(2);
const selected = only.length ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
if (only.length && selected.length !== only.length) {
  console.error(`unknown scenario in ${only.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const model = await startFakeOpenAI();
const sink = await startCaptureServer(FIXTURES);
let failed = 0;
try {
  for (const s of selected) {
    // A fresh folder, so a file left by an earlier run can never pass for this one's.
    fs.rmSync(path.join(FIXTURES, s.name), { recursive: true, force: true });
    fs.rmSync(path.join(FIXTURES, `${s.name}-stray`), { recursive: true, force: true });
    const before = sink.captured.length;
    const unexpectedBefore = sink.unexpected.length;
    console.log(`\n=== ${s.name}`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_OPTIONS: '--no-warnings=ExperimentalWarning',
      FAKE_OPENAI_BASE_URL: model.baseURL(s.name),
      CAPTURE_OTLP_BASE_URL: sink.baseURL(s.name),
      CAPTURE_SCENARIO: s.name,
      // Any exporter a library sets up on its own from the standard variables
      // lands in the sink under <scenario>-stray, never on a real receiver.
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.baseURL(`${s.name}-stray`),
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...s.env,
    };
    for (const [k, v] of Object.entries(env)) if (v === 'CAPTURE_SINK') env[k] = sink.baseURL(`${s.name}-api`);
    const { code, signal, ms } = await run(s, env);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const got = sink.captured.slice(before).filter((c) => c.scenario === s.name || c.scenario === `${s.name}-stray`);
    const calls = model.log.get(s.name) ?? [];
    console.log(`[${s.name}] exit ${code ?? signal} in ${ms} ms; model calls: ${calls.length}; OTLP requests: ${got.length}`);
    for (const c of got) console.log(`  ${c.scenario}/${c.file} ${c.bytes} B ${c.contentType}${c.contentEncoding ? ` ${c.contentEncoding}` : ''} (${c.userAgent ?? 'no user-agent'})`);
    for (const u of sink.unexpected.slice(unexpectedBefore)) console.log(`  unexpected request to the sink: ${u}`);
    if (code !== 0 || got.length === 0) failed++;
    if (got.length) {
      // Which request was which: the encoding, the exporter's user agent and the model calls it traced.
      const manifest = {
        scenario: s.name,
        node: process.version,
        requests: got.map(({ scenario, ...rest }) => ({ ...rest, stray: scenario !== s.name })),
        modelCalls: calls,
        // Requests that reached the sink on no OTLP path (LangSmith's GET /info calls, say).
        otherRequestsToSink: sink.unexpected.slice(unexpectedBefore),
      };
      fs.mkdirSync(path.join(FIXTURES, s.name), { recursive: true });
      fs.writeFileSync(path.join(FIXTURES, s.name, 'requests.json'), JSON.stringify(manifest, null, 2) + '\n');
    }
  }
} finally {
  await sink.close();
  await model.close();
}
console.log(failed ? `\n${failed} scenario(s) failed or exported nothing` : '\nall scenarios exported');
process.exit(failed ? 1 : 0);
