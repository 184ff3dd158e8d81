import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './listen.ts';
import { fakeEmbedding } from './openai-fake.ts';

/**
 * A local stand-in for the Gemini API (`/v1[beta]/models/<model>:generateContent` and
 * `:streamGenerateContent?alt=sse`), in its wire format. The model name picks the behaviour:
 *   `ok`       "Hello from Gemini." (streamed in 3 responses, usage on the last)
 *   `tools`    a functionCall `get_weather` with id `fc_gemini_1`
 *   `fail500`  500 INTERNAL     `rate429`  429 RESOURCE_EXHAUSTED with RetryInfo 1s
 *   `blocked`  promptFeedback.blockReason SAFETY
 *   `stallstream`  streams one response, then stalls (records `closedAt` when the client leaves)
 * GET /__requests/<model> returns the request bodies received for that model.
 */
export async function startGeminiFake(): Promise<{ url: string; close(): Promise<void> }> {
  const received = new Map<string, unknown[]>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'GET' && url.pathname.startsWith('/__requests/')) {
      return json(
        res,
        200,
        received.get(decodeURIComponent(url.pathname.slice('/__requests/'.length))) ?? [],
      );
    }
    const embed = /^\/v1(?:beta)?\/models\/([^:]+):(embedContent|batchEmbedContents)$/.exec(url.pathname);
    if (embed) {
      const request = JSON.parse(body || '{}') as {
        requests?: Array<{ content: { parts: Array<{ text: string }> } }>;
        content?: { parts: Array<{ text: string }> };
      };
      const texts = (request.requests ?? [{ content: request.content! }]).map((r) =>
        r.content.parts.map((p) => p.text).join(''),
      );
      const dim = Number(/(\d+)$/.exec(embed[1]!)?.[1] ?? 8);
      const vectors = texts.map((t) => ({ values: fakeEmbedding(t, dim) }));
      return json(
        res,
        200,
        embed[2] === 'embedContent' ? { embedding: vectors[0] } : { embeddings: vectors },
      );
    }
    const match = /^\/v1(?:beta)?\/models\/([^:]+):(generateContent|streamGenerateContent)$/.exec(
      url.pathname,
    );
    if (!match) return json(res, 404, status(404, 'NOT_FOUND', `Unknown path ${url.pathname}`));
    const [, model, method] = match as unknown as [string, string, string];
    const list = received.get(model) ?? [];
    list.push({ body: JSON.parse(body || '{}'), headers: req.headers });
    received.set(model, list);
    if (!req.headers['x-goog-api-key'])
      return json(res, 401, status(401, 'UNAUTHENTICATED', 'API key not valid.'));
    if (model === 'fail500')
      return json(res, 500, status(500, 'INTERNAL', 'An internal error has occurred.'));
    if (model === 'rate429') {
      const err = status(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota.');
      (err.error as Record<string, unknown>).details = [
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
      ];
      return json(res, 429, err);
    }
    const responses = model === 'blocked' ? [blocked()] : model === 'tools' ? [toolCall()] : textResponses();
    if (method === 'generateContent') return json(res, 200, merge(responses));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (model === 'stallstream') {
      // One response, then silence; records when the client's connection closes.
      const record = list[list.length - 1] as Record<string, unknown>;
      res.on('close', () => {
        record.closedAt = Date.now();
      });
      res.write(`data: ${JSON.stringify(responses[0])}\r\n\r\n`);
      return;
    }
    for (const r of responses) {
      res.write(`data: ${JSON.stringify(r)}\r\n\r\n`);
      await new Promise((r2) => setTimeout(r2, 5));
    }
    res.end();
  }

  return listenOnLoopback(server);
}

const usage = { promptTokenCount: 11, candidatesTokenCount: 4, totalTokenCount: 15 };

function textResponses() {
  const part = (text: string, finish?: string, withUsage = false) => ({
    candidates: [
      {
        content: { role: 'model', parts: [{ text }] },
        index: 0,
        ...(finish ? { finishReason: finish } : {}),
      },
    ],
    ...(withUsage ? { usageMetadata: usage } : {}),
    modelVersion: 'gemini-fake',
    responseId: 'resp-gemini-1',
  });
  return [part('Hello'), part(' from'), part(' Gemini.', 'STOP', true)];
}

function toolCall() {
  return {
    candidates: [
      {
        content: {
          role: 'model',
          parts: [{ functionCall: { id: 'fc_gemini_1', name: 'get_weather', args: { city: 'Paris' } } }],
        },
        finishReason: 'STOP',
        index: 0,
      },
    ],
    usageMetadata: usage,
    modelVersion: 'gemini-fake',
    responseId: 'resp-gemini-2',
  };
}

function blocked() {
  return {
    promptFeedback: { blockReason: 'SAFETY' },
    usageMetadata: { promptTokenCount: 11, totalTokenCount: 11 },
  };
}

/** A non-streamed answer is the streamed parts joined. */
function merge(responses: Array<Record<string, unknown>>) {
  const first = responses[0] as { candidates?: Array<{ content: { parts: Array<{ text?: string }> } }> };
  if (!first.candidates || responses.length === 1) return responses[responses.length - 1];
  const text = responses
    .map((r) => (r as typeof first).candidates?.[0]?.content.parts[0]?.text ?? '')
    .join('');
  const last = responses[responses.length - 1] as Record<string, unknown>;
  return {
    ...last,
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
  };
}

function status(code: number, name: string, message: string) {
  return { error: { code, message, status: name } as Record<string, unknown> };
}

function json(res: ServerResponse, code: number, body: unknown) {
  const text = JSON.stringify(body);
  res
    .writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}
