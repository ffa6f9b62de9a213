/**
 * Online judges without a database: the `evaluators:` section (errors name
 * the field), the evaluator version, sampling by trace ID (the same choice in
 * every receiver, at the configured rate), reading answers strictly, and
 * Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { parseAnswer, retryAfterMs } from '../../src/judges/client.ts';
import { parseEvaluators } from '../../src/judges/config.ts';
import { JobFeed } from '../../src/judges/feed.ts';
import { inSample, samplePoint } from '../../src/judges/sampling.ts';
import { silentLogger } from '../../src/log.ts';
import { emptyBatch, type SpanFact } from '../../src/model/rows.ts';
import { examples } from '../helpers/markdown.ts';

const BASE = {
  name: 'relevance', target: 'span', where: { operation: 'chat' }, model: { base_url: 'http://127.0.0.1:8080/v1', model: 'judge' },
  prompt: 'Q: {{input}} A: {{output}}', output: { labels: { yes: 'positive', no: 'negative' } },
};
const parse = (over: Record<string, unknown>, env: Record<string, string> = {}) => parseEvaluators([{ ...BASE, ...over }], env);

describe('evaluators configuration', () => {
  it('reads an evaluator with its defaults', () => {
    const [e] = parse({});
    expect(e).toMatchObject({ name: 'relevance', target: 'span', rate: 1, alwaysWhen: [], settleMs: 30_000, timeoutMs: 30_000, retries: 3, callsPerMinute: null, tokensPerDay: null });
    expect(e!.where.operation!.test('chat')).toBe(true);
    expect(e!.where.operation!.test('chat2')).toBe(false);
    expect(e!.version).toMatch(/^[0-9a-f]{12}$/);
  });

  it.each([
    [{ sample: { rate: 1.5 } }, 'evaluators[0].sample.rate: must be a number from 0 to 1, got 1.5'],
    [{ target: 'run' }, 'evaluators[0].target: must be span, trace or conversation, got "run"'],
    [{ where: { colour: 'red' } }, 'evaluators[0].where.colour: unknown setting'],
    [{ where: { has_verdict: { polarity: 'bad' } } }, 'evaluators[0].where.has_verdict.polarity: must be one of positive, negative, neutral, got "bad"'],
    [{ sample: { always_when: [{ has_error: 'yes' }] } }, 'evaluators[0].sample.always_when[0].has_error: must be true or false, got "yes"'],
    [{ settle: 'soon' }, 'evaluators[0].settle: must be a duration such as 500ms, 30s or 5m, got "soon"'],
    [{ model: { base_url: 'ftp://x', model: 'm' } }, 'evaluators[0].model.base_url: must be http or https'],
    [{ model: { base_url: 'http://x/v1', model: 'm', api_key_env: 'NOPE_KEY' } }, 'evaluators[0].model.api_key_env: the environment variable NOPE_KEY is not set'],
    [{ prompt: 'Q: {{question}}' }, 'evaluators[0].prompt: unknown placeholder {{question}}'],
    [{ output: { labels: { yes: 'good' } } }, 'evaluators[0].output.labels.yes: must be positive, negative or neutral, got "good"'],
    [{ output: { score: { min: 1, max: 0 } } }, 'evaluators[0].output.score.max: must be greater than min (1), got 0'],
    [{ output: {} }, 'evaluators[0].output: give score, labels or both'],
    [{ budget: { calls_per_minute: 0 } }, 'evaluators[0].budget.calls_per_minute: must be a positive integer, got 0'],
    [{ retries: -1 }, 'evaluators[0].retries: must be an integer from 0 to 20, got -1'],
  ])('refuses %j naming the field', (over, message) => {
    expect(() => parse(over)).toThrow(ConfigError);
    expect(() => parse(over)).toThrow(message);
  });

  it('accepts the evaluators of docs/evaluators.md as written', () => {
    const [doc] = examples(new URL('../../docs/evaluators.md', import.meta.url)).filter((e) => e.kind === 'evaluators');
    const list = parseEvaluators(parseYaml(doc!.code).evaluators, { OPENAI_API_KEY: 'sk-doc' });
    expect(list.map((e) => [e.name, e.target, e.rate, e.alwaysWhen.length, e.settleMs])).toEqual([
      ['relevance', 'span', 0.1, 0, 30_000], ['task_success', 'trace', 0.05, 2, 30_000], ['frustration', 'conversation', 1, 0, 600_000],
    ]);
  });

  it('refuses two evaluators of one name', () => {
    expect(() => parseEvaluators([BASE, BASE], {})).toThrow('evaluators[1].name: "relevance" is used by an earlier evaluator');
  });

  it('stops loading the config file on a bad evaluator, naming the field and the file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'verdict-judges-')), 'verdict.yaml');
    writeFileSync(file, 'evaluators:\n  - name: relevance\n    model: { base_url: "http://127.0.0.1:1/v1", model: m }\n    prompt: "{{output}}"\n    output: { labels: { ok: positive } }\n    sample: { rate: 7 }\n');
    expect(() => loadConfig({ argv: ['--config', file], env: {} })).toThrow(`evaluators[0].sample.rate: must be a number from 0 to 1, got 7 (in ${file})`);
    writeFileSync(file, 'evaluators:\n  - name: relevance\n    model: { base_url: "http://127.0.0.1:1/v1", model: m, api_key_env: K }\n    prompt: "{{output}}"\n    output: { labels: { ok: positive } }\n');
    const cfg = loadConfig({ argv: ['--config', file], env: { K: 'secret' } });
    expect(cfg.evaluators.map((e) => [e.name, e.model.apiKey])).toEqual([['relevance', 'secret']]);
    expect(cfg.configFile).toBe(file);
  });

  it('versions an evaluator by its prompt and output spec, not by its model or sample', () => {
    const [a] = parse({});
    expect(parse({ model: { base_url: 'http://other/v1', model: 'bigger' }, sample: 0.5 })[0]!.version).toBe(a!.version);
    expect(parse({ prompt: 'Q: {{input}} A: {{output}}!' })[0]!.version).not.toBe(a!.version);
    expect(parse({ output: { labels: { yes: 'positive', no: 'neutral' } } })[0]!.version).not.toBe(a!.version);
  });
});

describe('sampling', () => {
  const ids = Array.from({ length: 10_000 }, () => randomBytes(16).toString('hex'));

  it('matches the rate within tolerance over 10,000 trace IDs', () => {
    for (const rate of [0.01, 0.1, 0.5]) {
      const n = ids.filter((id) => inSample('relevance', id, rate)).length;
      // Four standard deviations of the binomial count.
      const sd = Math.sqrt(ids.length * rate * (1 - rate));
      expect(Math.abs(n - ids.length * rate)).toBeLessThan(4 * sd);
    }
  });

  it('is the same decision in two receivers, and differs between evaluators', () => {
    // Two receivers: each its own parse of the config and its own feed, seeing the same spans.
    const facts: SpanFact[] = ids.slice(0, 2000).map((traceId, i) => ({
      traceId, spanId: (i + 1).toString(16).padStart(16, '0'), root: true, name: 'chat', startNs: 0n, endNs: 1n, startUs: 0, durationNs: 1, error: false,
      serviceName: 's', serviceVersion: null, operation: 'chat', requestModel: 'm', responseModel: null, agentName: null, toolName: null,
      conversationId: null, responseId: null, userId: null, inputTokens: null, outputTokens: null, modelCall: true, inputText: null, outputText: null,
    }));
    const batch = { ...emptyBatch(), facts };
    const feeds = [0, 1].map(() => {
      const list = parse({ sample: 0.2 });
      const feed = new JobFeed(() => list, silentLogger, undefined, () => 0);
      feed.observe(batch);
      return feed;
    });
    expect(feeds[0]!.pending).toBe(feeds[1]!.pending);
    expect(feeds[0]!.pending).toBeGreaterThan(300);
    expect(feeds[0]!.pending).toBeLessThan(500);
    const chosen = facts.filter((f) => inSample('relevance', f.traceId, 0.2)).length;
    expect(feeds[0]!.pending).toBe(chosen);
    const other = ids.filter((id) => inSample('other', id, 0.5) !== inSample('relevance', id, 0.5)).length;
    expect(other).toBeGreaterThan(4000);
    expect(samplePoint('relevance', ids[0]!)).toBe(samplePoint('relevance', ids[0]!));
  });
});

describe('judge answers', () => {
  const [e] = parseEvaluators([{ ...BASE, output: { score: { min: 1, max: 5 }, labels: { yes: 'positive', no: 'negative' }, explanation: true } }], {});
  it('reads an answer that fits the spec', () => {
    expect(parseAnswer('{"score": 4, "label": "yes", "explanation": "fine"}', e!.output)).toEqual({ score: 4, label: 'yes', explanation: 'fine' });
  });
  it.each([
    ['yes', 'the answer is not JSON'],
    ['[1]', 'the answer is not a JSON object'],
    ['{"score": 4, "label": "yes", "explanation": "x", "extra": 1}', 'unexpected field "extra"'],
    ['{"score": 9, "label": "yes", "explanation": "x"}', 'the score 9 is outside 1..5'],
    ['{"score": "4", "label": "yes", "explanation": "x"}', 'the answer has no numeric score'],
    ['{"score": 4, "label": "maybe", "explanation": "x"}', 'the label "maybe" is not one of yes, no'],
    ['{"score": 4, "label": "yes"}', 'the answer has no explanation'],
  ])('refuses %s', (raw, why) => {
    expect(() => parseAnswer(raw, e!.output)).toThrow(why);
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs(new Date(1_000_000 + 3000).toUTCString(), 1_000_000)).toBe(3000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });
});
