/**
 * A fast fake OpenAI upstream for the benchmark: every response is precomputed, so the floor it
 * sets is as low as node:http allows. Unlike test/fakes/openai-fake.ts it records nothing and has
 * no behaviours: whatever the model, the answer is the same.
 *   POST /v1/chat/completions  a small completion with usage; `"stream": true` gives an SSE stream
 *                              of `chunks` content chunks, a finish chunk, a usage chunk and [DONE]
 *   POST /v1/embeddings        `dim` floats per input (one input assumed), with usage
 *   GET  /health               {"status":"ok"}: a trivial-server floor for GET /health
 * `delayMs` holds every answer (and the first stream chunk) that long.
 * Run as a child process (`node bench/lib/fake-upstream.ts '{"chunks":8}'`): prints one JSON line
 * `{"url": ...}` when listening, so the load generator does not share its event loop.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstreamOptions {
  /** Content chunks in a streamed completion (plus a finish chunk and a usage chunk). */
  chunks?: number;
  /** Embedding dimension (text-embedding-3-small has 1536). */
  dim?: number;
  /** Held before every answer. */
  delayMs?: number;
  port?: number;
}

const CREATED = 1_764_000_000;
const JSON_HEADERS = { 'content-type': 'application/json' };

export function precompute(options: FakeUpstreamOptions) {
  const chunks = options.chunks ?? 8;
  const dim = options.dim ?? 1536;
  const completion = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: CREATED,
      model: 'bench',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello from the bench upstream.', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
      system_fingerprint: 'fp_bench',
    }),
  );
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'bench' };
  const frame = (o: unknown) => Buffer.from(`data: ${JSON.stringify(o)}\n\n`);
  const stream: Buffer[] = [
    frame({
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    }),
  ];
  for (let i = 0; i < chunks; i++) {
    stream.push(
      frame({ ...base, choices: [{ index: 0, delta: { content: ` word${i}` }, finish_reason: null }] }),
    );
  }
  stream.push(frame({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
  stream.push(
    frame({
      ...base,
      choices: [],
      usage: { prompt_tokens: 9, completion_tokens: chunks, total_tokens: 9 + chunks },
    }),
  );
  stream.push(Buffer.from('data: [DONE]\n\n'));
  let h = 2166136261;
  const vector = Array.from({ length: dim }, (_, i) => {
    h = Math.imul(h ^ (i + 1), 2654435761) >>> 0;
    return Math.round(((h % 2000) / 1000 - 1) * 1e6) / 1e6;
  });
  // A Responses API answer (non-streamed: the native Responses cell).
  const response = Buffer.from(
    JSON.stringify({
      id: 'resp_bench',
      object: 'response',
      created_at: CREATED,
      status: 'completed',
      error: null,
      incomplete_details: null,
      instructions: null,
      model: 'bench',
      output: [
        {
          id: 'msg_bench',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [
            { type: 'output_text', text: 'Hello from the bench upstream.', annotations: [], logprobs: [] },
          ],
        },
      ],
      parallel_tool_calls: true,
      tool_choice: 'auto',
      tools: [],
      temperature: 1,
      top_p: 1,
      metadata: {},
      usage: {
        input_tokens: 9,
        input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
        output_tokens: 7,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 16,
      },
    }),
  );
  const embeddings = Buffer.from(
    JSON.stringify({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: vector }],
      model: 'bench-embed',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    }),
  );
  return { completion, stream, response, embeddings, health: Buffer.from('{"status":"ok"}') };
}

export async function startFakeUpstream(
  options: FakeUpstreamOptions = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const bodies = precompute(options);
  const delayMs = options.delayMs ?? 0;
  const later = (fn: () => void) => (delayMs > 0 ? setTimeout(fn, delayMs) : fn());
  const sendJson = (res: ServerResponse, status: number, body: Buffer) => {
    res.writeHead(status, { ...JSON_HEADERS, 'content-length': body.byteLength });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/health') return sendJson(res, 200, bodies.health);
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      if (req.method === 'POST' && url === '/v1/embeddings')
        return later(() => sendJson(res, 200, bodies.embeddings));
      if (req.method === 'POST' && url === '/v1/responses')
        return later(() => sendJson(res, 200, bodies.response));
      if (req.method !== 'POST' || url !== '/v1/chat/completions') {
        return sendJson(
          res,
          404,
          Buffer.from('{"error":{"message":"Unknown path","type":"invalid_request_error"}}'),
        );
      }
      // Only `"stream":true` matters; a substring test keeps JSON parsing out of the floor.
      const streaming = /"stream"\s*:\s*true/.test(Buffer.concat(parts).toString('latin1'));
      if (!streaming) return later(() => sendJson(res, 200, bodies.completion));
      later(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const chunk of bodies.stream) res.write(chunk);
        res.end();
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as FakeUpstreamOptions;
  const fake = await startFakeUpstream(options);
  process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
  process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}
