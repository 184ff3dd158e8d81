import { createServer, type Server } from 'node:http';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { type Stack, startStack } from '../../local/stack.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startDevWorker } from './dev-worker.ts';

const KEY = 'mas_cors_test_agent_key_0123456789';

/** A page on its own origin (another port), from which the browser calls the gateway. */
async function pageServer(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>agent</title><p>agent page</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { origin: `http://127.0.0.1:${address.port}`, server };
}

// CORS as a browser enforces it: a page on an allowed origin calls /v1 with an API key (the
// preflight answered before auth), streams, and reads the exposed headers; a page on another
// origin is refused by the browser itself.
describe('CORS from a page on another origin, in headless Chromium', () => {
  let stack: Stack;
  let fake: Awaited<ReturnType<typeof startOpenAIFake>>;
  let worker: Unstable_DevWorker;
  let browser: Browser;
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let stranger: Awaited<ReturnType<typeof pageServer>>;
  let api: string;

  beforeAll(async () => {
    stack = await startStack({ env: process.env, migrationsDir: 'migrations', noPushgateway: true });
    fake = await startOpenAIFake();
    allowed = await pageServer();
    stranger = await pageServer();
    worker = await startDevWorker(undefined, {
      ...stack.settings,
      MAS_API_KEYS: `cors-agent:agent:${await sha256Hex(KEY)}`,
      CORS_ORIGINS: `https://elsewhere.example, ${allowed.origin}`,
      FAKE_KEY: 'sk-fake-key-0000000000000000000000',
      MAS_MODELS_YAML: [
        'providers:',
        `  fake: { type: openai_compatible, base_url: "${fake.url}/v1", api_key_env: FAKE_KEY }`,
        'models:',
        '  - { id: good, provider: fake, upstream: ok, capabilities: [chat], context_window: 8192 }',
        'roles:',
        '  planning: [good]',
      ].join('\n'),
    });
    api = `http://${worker.address}:${worker.port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await fake?.close();
    allowed?.server.close();
    stranger?.server.close();
    await stack?.stop();
  });

  /** Runs the calls inside a page of `origin`, with the headers the openai SDK sends. */
  async function fromPage(origin: string) {
    const page = await browser.newPage();
    await page.goto(origin);
    const result = await page.evaluate(
      async ({ api, key }) => {
        const headers = {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'x-stainless-os': 'Linux',
          'x-stainless-retry-count': '0',
          'openai-organization': 'org-test',
        };
        try {
          const res = await fetch(`${api}/v1/chat/completions`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] }),
          });
          const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
          const streamed = await fetch(`${api}/v1/chat/completions`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
              model: 'planning',
              stream: true,
              messages: [{ role: 'user', content: 'hi' }],
            }),
          });
          // Read the stream chunk by chunk, as a page would render it.
          const reader = streamed.body!.getReader();
          const decoder = new TextDecoder();
          let sse = '';
          let reads = 0;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            reads++;
            sse += decoder.decode(value, { stream: true });
          }
          const text = sse
            .split('\n\n')
            .filter((e) => e.startsWith('data: {'))
            .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '')
            .join('');
          return {
            ok: true,
            status: res.status,
            content: body.choices[0]!.message.content,
            requestId: res.headers.get('x-request-id'),
            model: res.headers.get('x-mas-model'),
            remaining: res.headers.get('x-ratelimit-remaining-requests'),
            streamed: text,
            reads,
            done: sse.includes('data: [DONE]'),
          };
        } catch (err) {
          return { ok: false, error: String(err) };
        }
      },
      { api, key: KEY },
    );
    await page.close();
    return result;
  }

  it('an allowed origin calls with its key, streams, and reads the exposed headers', async () => {
    const result = await fromPage(allowed.origin);
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      content: 'Hello from the fake.',
      model: 'good',
      streamed: 'Hello from the fake.',
      done: true,
    });
    expect(result.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(result.remaining)).toBeGreaterThan(0);
  });

  it('another origin is refused by the browser (no CORS headers for it)', async () => {
    const result = await fromPage(stranger.origin);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/Failed to fetch/);
  });
});
