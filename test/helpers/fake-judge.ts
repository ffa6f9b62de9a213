/**
 * A fake OpenAI-compatible judge: real HTTP on loopback, POST
 * /v1/chat/completions. Each call takes the next scripted reply, else the
 * default one (an answer computed from the request). A reply can be an
 * answer, a status with Retry-After, a delay, or a body that is not what was
 * asked for. Counts calls and keeps the requests.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface JudgeRequest {
  body: any;
  headers: IncomingMessage['headers'];
  /** The user message: the rendered prompt. */
  prompt: string;
}

export interface Reply {
  /** The structured answer (JSON-encoded into the message content), or the content as a string. */
  answer?: unknown;
  status?: number;
  retryAfter?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send this as the whole response body instead (malformed responses). */
  rawBody?: string;
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface FakeJudge {
  /** base_url for the evaluator: http://127.0.0.1:port/v1 */
  baseUrl: string;
  requests: JudgeRequest[];
  readonly calls: number;
  /** Replies for the next calls, in order. */
  next(...replies: Reply[]): void;
  /** The reply when nothing is scripted. */
  setDefault(fn: (req: JudgeRequest) => Reply): void;
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_REPLY = (): Reply => ({ answer: { score: 0.9, label: 'relevant', explanation: 'on topic' } });

export async function startFakeJudge(): Promise<FakeJudge> {
  const requests: JudgeRequest[] = [];
  const queue: Reply[] = [];
  let fallback: (req: JudgeRequest) => Reply = DEFAULT_REPLY;
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      let body: any = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('{"error":{"message":"bad json"}}');
        return;
      }
      const r: JudgeRequest = { body, headers: req.headers, prompt: String(body?.messages?.at(-1)?.content ?? '') };
      requests.push(r);
      const reply = queue.shift() ?? fallback(r);
      const send = () => {
        if (res.destroyed) return;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (reply.retryAfter !== undefined) headers['retry-after'] = reply.retryAfter;
        if (reply.rawBody !== undefined) {
          res.writeHead(reply.status ?? 200, headers).end(reply.rawBody);
          return;
        }
        if (reply.status !== undefined && reply.status !== 200) {
          res.writeHead(reply.status, headers).end(JSON.stringify({ error: { message: `scripted ${reply.status}` } }));
          return;
        }
        const content = typeof reply.answer === 'string' ? reply.answer : JSON.stringify(reply.answer ?? {});
        res.writeHead(200, headers).end(JSON.stringify({
          id: `chatcmpl-fake-${requests.length}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000),
          model: reply.model ?? `${body.model}-2026-01-01`,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { ...(reply.usage ?? { prompt_tokens: 100, completion_tokens: 20 }), total_tokens: (reply.usage?.prompt_tokens ?? 100) + (reply.usage?.completion_tokens ?? 20) },
        }));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    get calls() {
      return requests.length;
    },
    next: (...replies) => void queue.push(...replies),
    setDefault: (fn) => void (fallback = fn),
    reset() {
      requests.length = 0;
      queue.length = 0;
      fallback = DEFAULT_REPLY;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
