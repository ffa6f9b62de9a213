/**
 * The judge's HTTP client against real sockets on loopback: what a call
 * sends, and each way a judge can fail to answer, classified so the worker
 * retries what is worth retrying.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callJudge, JudgeCallError } from '../../src/judges/client.ts';
import type { JudgeModel, OutputSpec } from '../../src/judges/config.ts';
import { startFakeJudge, type FakeJudge } from '../helpers/fake-judge.ts';

const SPEC: OutputSpec = { score: null, labels: new Map([['yes', 'positive'], ['no', 'negative']]), explanation: true };
const model = (baseUrl: string): JudgeModel => ({ baseUrl, model: 'judge-model', apiKey: 'sk-test', headers: { 'x-team': 'evals' } });

async function failure(p: Promise<unknown>): Promise<JudgeCallError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(JudgeCallError);
  return err as JudgeCallError;
}

describe('the judge client', () => {
  let judge: FakeJudge;
  let huge: Server;
  let hugeUrl = '';
  beforeAll(async () => {
    judge = await startFakeJudge();
    // A server that answers 200 with an endless body.
    huge = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    hugeUrl = `http://127.0.0.1:${(huge.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    await judge?.close();
    huge?.closeAllConnections();
    await new Promise((resolve) => huge?.close(resolve));
  });

  it('posts the prompt with the key and extra headers, and reads the answer, model, id and tokens', async () => {
    judge.reset();
    const a = await callJudge(model(judge.baseUrl), 'Is it sunny?', SPEC, 5000);
    expect(JSON.parse(a.raw)).toMatchObject({ label: expect.any(String) });
    expect(a).toMatchObject({ responseModel: 'judge-model-2026-01-01', inputTokens: 100, outputTokens: 20 });
    expect(a.responseId).toEqual(expect.any(String));
    const req = judge.requests[0]!;
    expect(req.prompt).toBe('Is it sunny?');
    expect(req.headers).toMatchObject({ authorization: 'Bearer sk-test', 'x-team': 'evals', 'content-type': 'application/json' });
  });

  it('a refused connection is a network failure, retried', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const e = await failure(callJudge(model(`http://127.0.0.1:${port}/v1`), 'q', SPEC, 5000));
    expect([e.kind, e.retryable]).toEqual(['network', true]);
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('no answer within the timeout is a timeout; an abort by the worker is not', async () => {
    judge.reset();
    judge.setDefault(() => ({ delayMs: 2000, answer: { label: 'yes', explanation: 'late' } }));
    const e = await failure(callJudge(model(judge.baseUrl), 'q', SPEC, 200));
    expect([e.kind, e.message]).toEqual(['timeout', 'no answer within 200 ms']);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    expect((await failure(callJudge(model(judge.baseUrl), 'q', SPEC, 5000, stop.signal))).kind).toBe('network');
  });

  it('a response larger than a chat completion can be is cut off, not read into memory', async () => {
    const e = await failure(callJudge(model(hugeUrl), 'q', SPEC, 10_000));
    expect([e.kind, e.message]).toEqual(['network', 'the response is larger than 4194304 bytes']);
  });
});
