/**
 * `npm run demo`: an hour of an AI customer-support agent, sent to a running
 * Verdict in a few seconds, so there is something to query and to see in the
 * dashboards before you have an agent of your own.
 *
 *   npm start -- --rules examples/rules.yaml      # in one terminal
 *   npm run demo                                   # in another
 *   npm run demo -- --endpoint http://localhost:4318 --conversations 30 --seed 1 --token <token>
 *
 * What it sends, all through the OpenTelemetry JS SDK over OTLP/HTTP
 * (protobuf), except the verdicts that come from outside an SDK:
 * - traces of `support-agent` runs (agent.ts), with a deploy from 1.4.0 to
 *   1.5.0 half-way through, and of the `kb-search` service it calls;
 * - application logs, correlated with the spans they were written in;
 * - verdicts from all four sources: customers' thumbs and reopened tickets
 *   through POST /v1/feedback (feedback.ts), the LLM judge's
 *   `gen_ai.evaluation.result` events (judge.ts), the agent's own PII check,
 *   and a reviewer's spot checks of the judge;
 *   and messages that Verdict's rules turn into verdicts at ingest (a
 *   frustrated customer, a question asked again, failed and slow model
 *   calls), when Verdict runs with `--rules examples/rules.yaml`.
 *
 * The files: main.ts (this: the command line and the summary), scenarios.ts
 * (the story of the hour), agent.ts (the instrumented agent), fake-model.ts,
 * tools.ts, knowledge-base.ts (what the agent calls), judge.ts,
 * feedback.ts (the verdicts), telemetry.ts (the SDK set-up), clock.ts and
 * random.ts (replaying an hour, reproducibly).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AGENT_NAME, RELEASES, SupportAgent, type Run } from './agent.ts';
import { SimClock } from './clock.ts';
import { FakeModel } from './fake-model.ts';
import { DeliveryError, FeedbackClient } from './feedback.ts';
import { RelevanceJudge } from './judge.ts';
import { KnowledgeBaseService } from './knowledge-base.ts';
import { seeded } from './random.ts';
import { countRepeats, ensureReopened, newTally, planHour, playConversation, type Cast, type Tally } from './scenarios.ts';
import { startTelemetry } from './telemetry.ts';
import { SupportTools } from './tools.ts';

const USAGE = `Usage: npm run demo -- [options]

Sends an hour of AI customer-support traffic (traces, logs and verdicts) to a running Verdict.

Options:
  --endpoint <url>        Verdict's OTLP/HTTP address (default: $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318)
  --conversations <n>     conversations in the hour, 1-500 (default 30: about 150 runs)
  --seed <n>              seed for the content: the same seed replays the same hour (default 1)
  --token <token>         bearer token, when Verdict runs with --auth-tokens (default: $VERDICT_TOKEN)
  -h, --help              this help
`;

/** The queries printed at the end: one line each, so they paste into psql. */
const QUERIES = [
  {
    title: 'Verdicts by source and channel (how they arrived)',
    sql: "SELECT source, channel, count(*) AS verdicts, count(*) FILTER (WHERE polarity = 'negative') AS negative, count(DISTINCT trace_id) AS runs FROM verdict.trace_evaluations GROUP BY 1, 2 ORDER BY 1, 2;",
  },
  {
    title: 'Drift after the deploy: the negative-verdict rate by service.version',
    sql: "SELECT r.resource_attributes->>'service.version' AS version, count(*) AS verdicts, round(avg((e.polarity = 'negative')::int), 2) AS negative_rate FROM verdict.trace_evaluations e JOIN verdict.spans r ON r.trace_id = e.trace_id AND r.parent_span_id IS NULL WHERE r.service_name = 'support-agent' AND e.polarity IS NOT NULL GROUP BY 1 ORDER BY 1;",
  },
  {
    title: 'The conversations with the most negative verdicts',
    sql: 'SELECT conversation_id, trace_count, negative_verdicts, verdicts_by_source FROM verdict.conversations WHERE negative_verdicts > 0 ORDER BY negative_verdicts DESC, end_time DESC LIMIT 10;',
  },
];

class UsageError extends Error {}

function options(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        endpoint: { type: 'string' },
        conversations: { type: 'string' },
        seed: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const endpoint = (parsed.endpoint ?? (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://localhost:4318')).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(endpoint)) throw new UsageError(`--endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  return {
    help: parsed.help === true,
    endpoint,
    token: parsed.token ?? (process.env.VERDICT_TOKEN || undefined),
    conversations: int('conversations', parsed.conversations, 30, 1, 500),
    seed: int('seed', parsed.seed, 1, 0, 2 ** 32 - 1),
  };
}

/** One line saying what is wrong, or null when Verdict is there, ready and takes our token. */
async function checkVerdict(endpoint: string, token: string | undefined): Promise<string | null> {
  let ready: Response;
  try {
    ready = await fetch(`${endpoint}/readyz`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `Cannot reach Verdict at ${endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message}). Start it first with \`npm start -- --rules examples/rules.yaml\`, or pass --endpoint.`;
  }
  if (ready.status === 503) return `Verdict at ${endpoint} is not ready (${((await ready.json().catch(() => ({}))) as { reason?: string }).reason ?? 'no reason given'}); try again in a moment.`;
  if (!ready.ok) return `${endpoint} does not look like Verdict: GET /readyz answered ${ready.status}. Pass --endpoint with Verdict's OTLP/HTTP address.`;
  // An empty protobuf body is a valid export of nothing: it checks the token without storing anything.
  const probe = await fetch(`${endpoint}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: new Uint8Array(0),
  });
  if (probe.status === 401) return token ? `Verdict at ${endpoint} refused the token; check --token or VERDICT_TOKEN.` : `Verdict at ${endpoint} wants a bearer token: pass --token or set VERDICT_TOKEN.`;
  if (!probe.ok) return `Verdict at ${endpoint} refused an empty export with ${probe.status}.`;
  return null;
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const sum = (runs: Run[], f: (r: Run) => number) => runs.reduce((s, r) => s + f(r), 0);

/** The run worth opening first: verdicts from the most sources, preferably one where something failed. */
function showcase(tally: Tally): Run | undefined {
  const score = (r: Run) => (tally.sources.get(r.traceId)?.size ?? 0) * 10 + (r.toolErrors > 0 ? 2 : 0) + (r.erroredGenAiSpans > 0 ? 1 : 0);
  return [...tally.runs].sort((a, b) => score(b) - score(a))[0];
}

async function main(argv: string[]): Promise<number> {
  const opts = options(argv);
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const startedAt = performance.now();
  // `npm run demo | head`: stop quietly when the reader goes away.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const problem = await checkVerdict(opts.endpoint, opts.token);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    return 1;
  }
  out(`Verdict demo: an hour of ${AGENT_NAME} traffic (seed ${opts.seed}) to Verdict at ${opts.endpoint}`);

  const random = seeded(opts.seed);
  const plan = planHour(random, opts.conversations, Date.now(), () => `conv_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  const { hour } = plan;
  const clock = new SimClock(hour.start);
  const telemetry = startTelemetry({ endpoint: opts.endpoint, token: opts.token });
  // Created in this order, and so flushed in it: the release before the deploy first.
  const v14 = telemetry.service(AGENT_NAME, RELEASES.before.version);
  const v15 = telemetry.service(AGENT_NAME, RELEASES.after.version);
  const kb = new KnowledgeBaseService(telemetry.service('kb-search', '2.3.1').tracer, clock, random);
  const judge = new RelevanceJudge(telemetry.service(RelevanceJudge.SERVICE, '0.9.2').logger);
  const model = new FakeModel(clock, random, { rateLimited: plan.rateLimited, hangAt: plan.hangAt });
  const tools = new SupportTools(plan.conversations.map((c) => c.order), clock, random, plan.orderServiceOutage);
  const shared = { model, tools, kb, clock, random };
  const before = new SupportAgent(RELEASES.before, { ...v14, ...shared });
  const after = new SupportAgent(RELEASES.after, { ...v15, ...shared });
  const feedback = new FeedbackClient(opts.endpoint, opts.token);
  const cast: Cast = { clock, random, hour, judge, feedback, agentAt: (t) => (t < hour.deployAt ? before : after) };
  const tally = newTally();

  out(`  ${plural(plan.conversations.length, 'conversation')} from ${hhmm(hour.start)} to ${hhmm(hour.end)} UTC; ${RELEASES.before.version} → ${RELEASES.after.version} at ${hhmm(hour.deployAt)}`);
  for (const [i, conversation] of plan.conversations.entries()) {
    await playConversation(conversation, cast, tally);
    await telemetry.flush();
    if (telemetry.delivered.failures.length > 0) break; // reported below; no point sending the rest
    if ((i + 1) % 10 === 0 || i === plan.conversations.length - 1) out(`  ${i + 1}/${plan.conversations.length} conversations sent (${plural(tally.runs.length, 'run')})`);
  }
  const { delivered } = telemetry;
  if (delivered.failures.length > 0) {
    await telemetry.shutdown();
    process.stderr.write(`Verdict at ${opts.endpoint} did not take the data: ${delivered.failures[0]}\n`);
    return 1;
  }
  ensureReopened(cast, tally);
  const repeats = countRepeats(tally);
  const accepted = await feedback.send();
  out(`  POST /v1/feedback: ${plural(accepted, 'verdict')} accepted`);
  await telemetry.shutdown();
  if (delivered.failures.length > 0) {
    process.stderr.write(`Verdict at ${opts.endpoint} did not take the data: ${delivered.failures[0]}\n`);
    return 1;
  }
  if (delivered.evaluations !== tally.sent.llm_judge + tally.sent.rule) throw new Error(`sent ${tally.sent.llm_judge + tally.sent.rule} evaluation records, delivered ${delivered.evaluations}`);

  const runs = tally.runs;
  const errored = sum(runs, (r) => r.erroredGenAiSpans);
  const slow = sum(runs, (r) => r.slowChatCalls);
  const ruleMade = tally.frustrated + errored + slow;
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  out();
  out(`Sent in ${seconds} s: ${plural(tally.runsByConversation.size, 'conversation')}, ${plural(runs.length, 'run')}, ${plural(delivered.spans, 'span')}, ${plural(delivered.logRecords, 'log record')}`);
  for (const release of [RELEASES.before, RELEASES.after]) {
    const n = runs.filter((r) => r.version === release.version).length;
    const j = tally.judged.get(release.version);
    const share = j && j.graded > 0 ? `, the judge found ${Math.round((100 * j.notRelevant) / j.graded)}% of answers not relevant` : '';
    out(`  ${AGENT_NAME} ${release.version} (${release.model}): ${plural(n, 'run')}${share}`);
  }
  out(`  failures: ${plural(sum(runs, (r) => r.toolErrors), 'tool error')} (order service outage), ${plural(sum(runs, (r) => r.rateLimited), 'rate-limited model call')} (429), ${plural(sum(runs, (r) => r.timeouts), 'model timeout')}`);
  out('Verdicts by source:');
  out(`  user       ${String(tally.sent.user).padStart(4)}  thumbs up and down through POST /v1/feedback`);
  out(`  llm_judge  ${String(tally.sent.llm_judge).padStart(4)}  gen_ai.evaluation.result log records from ${RelevanceJudge.SERVICE}`);
  out(`  rule       ${String(tally.sent.rule + ruleMade).padStart(4)}  ${tally.sent.rule} from the agent's PII check + ${ruleMade} from Verdict's rules: ${plural(tally.frustrated, 'frustrated message')}, ${plural(errored, 'failed GenAI span')}, ${plural(slow, 'call')} over 30 s`);
  out(`  reviewer   ${String(tally.sent.reviewer).padStart(4)}  spot checks of the judge's Relevance grades through POST /v1/feedback`);
  out(`  indirect   ${String(tally.sent.indirect + repeats).padStart(4)}  ${plural(tally.sent.indirect, 'reopened ticket')} through POST /v1/feedback + ${plural(repeats, 'question')} asked again (Verdict's repeat rule)`);
  out("  (Verdict's rules run when it is started with --rules examples/rules.yaml)");
  const best = showcase(tally);
  if (best) {
    out();
    out(`A run to open in Grafana's Trace dashboard (docker compose up: http://localhost:3000/d/verdict-trace?var-trace_id=${best.traceId}):`);
    out(`  trace_id ${best.traceId}`);
  }
  out();
  out('Try in SQL (embedded database: the psql command Verdict printed at start-up, password included):');
  for (const q of QUERIES) {
    out(`  -- ${q.title}`);
    out(`  ${q.sql}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`demo: ${err.message}\n\n${USAGE}`);
    else if (err instanceof DeliveryError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
