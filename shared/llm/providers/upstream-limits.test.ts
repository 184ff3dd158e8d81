import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../../../local/demo/http.ts';
import { ProviderError } from '../provider-error.ts';
import { readCappedText } from './http.ts';
import { createOpenAIProvider } from './openai/index.ts';
import { openChunkBytes, tapChunkStream } from './openai/openai-stream-tap.ts';
import { SseParser, sseBatches } from './sse.ts';
import type { ChatRequest } from './types.ts';

// Upstream answers past `max_response_bytes`, from a real HTTP server on loopback (so Content-
// Length, chunked bodies, gzip and a connection that is let go are the runtime's, not a Response
// built in the test): a clean 502 before any byte for a whole answer, an `event: error` for a
// stream event that never ends, and the upstream connection released either way.

const MAX = 64 * 1024;
const KIB = 'x'.repeat(1024);
const chunk = (content: string) =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${content}"}}]}\n\n`;
const completion = (content: string) =>
  JSON.stringify({
    id: 'x',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  });

/** Per path: how the upstream answers; `closed` records the paths whose connection the client let go. */
const closed = new Set<string>();
const behaviours: Record<string, (res: ServerResponse) => void> = {
  // A whole answer, its length declared, within the bound and over it.
  '/small/chat/completions': (res) => sendDeclared(res, completion('ok')),
  '/declared/chat/completions': (res) => sendDeclared(res, completion(KIB.repeat(100))),
  // Chunked (no Content-Length): within the bound, and one that never ends.
  '/chunked/chat/completions': (res) => sendChunked(res, [completion(KIB.repeat(10))]),
  '/endless/chat/completions': (res) => endless(res, 'application/json', '{"id":"x","pad":"', KIB),
  // 2 KiB on the wire, 1 MiB once decoded: the declared length is not the body's.
  '/gzip/chat/completions': (res) => {
    const zipped = gzipSync(completion(KIB.repeat(1024)));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'content-length': String(zipped.length),
    });
    res.end(zipped);
  },
  // An error status whose body never ends: the status still decides.
  '/error/chat/completions': (res) => endless(res, 'application/json', '{"error":{"message":"', KIB, 503),
  // Streams: a first event that never ends; a good start, then an event that never ends.
  '/nofirst/chat/completions': (res) => endless(res, 'text/event-stream', 'data: {"pad":"', KIB),
  '/midway/chat/completions': (res) =>
    endless(res, 'text/event-stream', `${chunk('Hel')}${chunk('lo')}data: {"pad":"`, KIB),
  // One long event in many small reads, under the bound: whole, and parsed once.
  '/long/chat/completions': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const content = 'y'.repeat(40 * 1024);
    const text = `${chunk('a')}${chunk(content)}data: [DONE]\n\n`;
    let at = 0;
    const next = () => {
      if (at >= text.length) return void res.end();
      res.write(text.slice(at, at + 512));
      at += 512;
      setImmediate(next);
    };
    next();
  },
};

function sendDeclared(res: ServerResponse, text: string) {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

function sendChunked(res: ServerResponse, pieces: string[]) {
  res.writeHead(200, { 'content-type': 'application/json' });
  for (const piece of pieces) res.write(piece);
  res.end();
}

/** `start`, then `piece` for as long as the client reads. */
function endless(res: ServerResponse, type: string, start: string, piece: string, status = 200) {
  res.writeHead(status, { 'content-type': type });
  res.write(start);
  const more = () => {
    while (!res.destroyed && res.write(piece)) {}
    if (!res.destroyed) res.once('drain', more);
  };
  more();
}

let server: Awaited<ReturnType<typeof listenOnLoopback>>;

beforeAll(async () => {
  server = await listenOnLoopback(
    createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = new URL(req.url ?? '/', 'http://up').pathname;
      res.on('close', () => {
        if (!res.writableFinished) closed.add(path);
      });
      req.resume();
      req.on('end', () => {
        const behave = behaviours[path];
        if (behave) behave(res);
        else res.writeHead(404).end();
      });
    }),
  );
});
afterAll(() => server?.close());

const provider = (base: string) =>
  createOpenAIProvider(
    { id: 'up', apiKey: undefined, baseURL: `${server.url}/${base}`, timeoutMs: 5000, maxResponseBytes: MAX },
    'openai_compatible',
  );
const request = { messages: [{ role: 'user', content: 'hi' }] } as ChatRequest;
const options = () => ({ signal: new AbortController().signal, headers: {} });
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('resolved');
    },
    (err: unknown) => err as ProviderError,
  );

async function until(condition: () => boolean) {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

describe('a non-stream answer past max_response_bytes', () => {
  it('within the bound, declared or chunked: read whole', async () => {
    expect((await provider('small').chat('m', request, options())).choices).toHaveLength(1);
    const chunked = await provider('chunked').chat('m', request, options());
    expect(JSON.stringify(chunked)).toContain(KIB.repeat(10));
  });

  it.each([
    ['declared', 'a Content-Length over it: refused before reading'],
    ['endless', 'a chunked body that never ends: cut at the bound'],
    ['gzip', 'a small gzip body that decodes past it'],
  ])('%s (%s): a 502 upstream_too_large another model may answer', async (base) => {
    const err = await failure(provider(base).chat('m', request, options()));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 502, code: 'upstream_too_large', retryable: false, fallback: true });
    expect(err.message).toBe(`upstream sent an answer larger than ${MAX} bytes (max_response_bytes)`);
    if (base === 'endless') await until(() => closed.has('/endless/chat/completions'));
  });

  it('an error status whose body never ends is still that status, and the body is let go', async () => {
    const err = await failure(provider('error').chat('m', request, options()));
    expect(err).toMatchObject({ status: 503, retryable: true });
    expect(err.message).toBe('503 status code (no body)');
    await until(() => closed.has('/error/chat/completions'));
  });

  it('a Response built in-process cannot pass a lying Content-Length', async () => {
    const res = new Response(KIB.repeat(65), { headers: { 'content-length': '10' } });
    const err = await failure(readCappedText('up', res, MAX));
    expect(err.code).toBe('upstream_too_large');
  });

  it("a Content-Length beside a Content-Encoding is not the body's: an endless decoded body is still cut", async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      // Each read yields to the event loop, so a reader that never stops fails by the test's timeout.
      async pull(c) {
        pulls++;
        await new Promise((r) => setImmediate(r));
        c.enqueue(new TextEncoder().encode(KIB));
      },
    });
    const res = new Response(body, { headers: { 'content-length': '2048', 'content-encoding': 'gzip' } });
    const err = await failure(readCappedText('up', res, MAX));
    expect(err.code).toBe('upstream_too_large');
    expect(pulls).toBeLessThan(80);
  });
});

describe('a stream event past max_response_bytes', () => {
  it('no whole first event within the bound: a 502 before any byte, the body let go', async () => {
    const err = await failure(provider('nofirst').chatStreamBytes!('m', request, options()));
    expect(err).toMatchObject({ status: 502, code: 'upstream_too_large' });
    await until(() => closed.has('/nofirst/chat/completions'));
    // The translated path (sseBatches) says the same before its first batch.
    const translated = await failure(provider('nofirst').chatStream('m', request, options()));
    expect(translated).toMatchObject({ status: 502, code: 'upstream_too_large' });
  });

  it('after a good start: the events before it, then the error event, and the body let go', async () => {
    closed.delete('/midway/chat/completions');
    const bytes = await provider('midway').chatStreamBytes!('m', request, options());
    let ended: unknown;
    const stream = tapChunkStream(bytes, {
      wantsUsage: false,
      errorEvent: (err) => `event: error\ndata: ${(err as Error).message}\n\n`,
      onEnd: (_usage, error) => {
        ended = error;
      },
    });
    const text = await new Response(stream).text();
    expect(text).toBe(
      `${chunk('Hel')}${chunk('lo')}event: error\ndata: upstream sent a stream event larger than ${MAX} bytes (max_response_bytes)\n\n`,
    );
    expect(ended).toMatchObject({ code: 'upstream_too_large' });
    await until(() => closed.has('/midway/chat/completions'));

    closed.delete('/midway/chat/completions');
    const chunks: unknown[] = [];
    const translated = await provider('midway').chatStream('m', request, options());
    const err = await failure(
      (async () => {
        for await (const c of translated) chunks.push(c);
      })(),
    );
    expect(chunks).toHaveLength(2);
    expect(err).toMatchObject({ code: 'upstream_too_large' });
    await until(() => closed.has('/midway/chat/completions'));
  });

  it('one long event in many reads, within the bound, comes through whole on both paths', async () => {
    const content = 'y'.repeat(40 * 1024);
    const bytes = await provider('long').chatStreamBytes!('m', request, options());
    const stream = tapChunkStream(bytes, { wantsUsage: false, errorEvent: () => 'error', onEnd: () => {} });
    expect(await new Response(stream).text()).toBe(`${chunk('a')}${chunk(content)}data: [DONE]\n\n`);
    const chunks: Array<{ choices: Array<{ delta: { content: string } }> }> = [];
    for await (const c of await provider('long').chatStream('m', request, options())) chunks.push(c as never);
    expect(chunks.map((c) => c.choices[0]!.delta.content)).toEqual(['a', content]);
  });
});

describe('SseParser and the tap hold an unended event in pieces', () => {
  it('held counts what waits for its end; a blank line split across reads (LF or CRLF) still ends it', () => {
    const parser = new SseParser();
    expect(parser.push(new TextEncoder().encode('data: a'))).toEqual([]);
    expect(parser.push(new TextEncoder().encode('bc\r'))).toEqual([]);
    expect(parser.held).toBe(9);
    expect(parser.push(new TextEncoder().encode('\n\r'))).toEqual([]);
    expect(parser.push(new TextEncoder().encode('\ndata: d'))).toEqual([{ data: 'abc' }]);
    expect(parser.held).toBe(7);
    expect(parser.end()).toEqual([{ data: 'd' }]);
    expect(parser.held).toBe(0);
  });

  it('sseBatches ends at the bound however the event is split, not before', async () => {
    const reads = (size: number) =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode('data: 1\n\ndata: '));
            for (let sent = 0; sent < size; sent += 1000)
              c.enqueue(new TextEncoder().encode('z'.repeat(1000)));
            c.enqueue(new TextEncoder().encode('\n\n'));
            c.close();
          },
        }),
      );
    const out: unknown[] = [];
    for await (const batch of sseBatches('up', reads(9000), 1000, new AbortController().signal, 10_000))
      out.push(...batch);
    expect(out).toHaveLength(2);
    const got: unknown[] = [];
    const err = await failure(
      (async () => {
        for await (const batch of sseBatches('up', reads(11_000), 1000, new AbortController().signal, 10_000))
          got.push(...batch);
      })(),
    );
    expect(got).toEqual([{ data: '1' }]);
    expect(err).toMatchObject({ code: 'upstream_too_large' });
  });

  it('openChunkBytes: comments before the first event count toward the bound, and a CRLF blank line across reads ends an event', async () => {
    const body = (reads: string[]) =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            for (const r of reads) c.enqueue(new TextEncoder().encode(r));
            c.close();
          },
        }),
      );
    const signal = new AbortController().signal;
    const split = await openChunkBytes(
      'up',
      body([': hi\r\n\r\ndata: {"a":1}\r\n\r', '\n']),
      1000,
      signal,
      100,
    );
    expect(new TextDecoder().decode(split.head)).toBe(': hi\r\n\r\ndata: {"a":1}\r\n\r\n');
    const comments = Array.from({ length: 20 }, () => ': keep-alive\n\n');
    const err = await failure(openChunkBytes('up', body([...comments, chunk('a')]), 1000, signal, 100));
    expect(err).toMatchObject({ code: 'upstream_too_large' });
  });
});
