import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startChild } from '../../bench/lib/children.ts';
import { type Runtime, unavailable } from '../../bench/lib/runtimes.ts';
import { buildBundles } from '../../bench/lib/setup.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';

// A caller that goes away aborts the upstream call, end to end, on every runtime we serve on:
// wrangler dev (what `npm start` runs), the bare workerd binary with the deployed bundle, Node
// (@hono/node-server, from source and the deploy bundle: node/fetch.mjs's upstream calls) and Deno. The fake upstream records when its connection closes
// (`closedAt`); it must close within 1 s of the client leaving, and the router records the
// attempt as `cancelled`.

const AGENT_KEY = 'mas_cancel_agent_key_0123456789abcdef';
const RUNTIMES: Runtime[] = ['workerd-dev', 'workerd-raw', 'node', 'node-bundle', 'deno'];

let fake: Awaited<ReturnType<typeof startOpenAIFake>>;
let bundleRoot: string;

beforeAll(async () => {
  fake = await startOpenAIFake();
  bundleRoot = mkdtempSync(join(tmpdir(), 'mas-cancel-'));
  await buildBundles(['all'], bundleRoot, 1);
}, 180_000);

afterAll(async () => {
  await fake?.close();
  if (bundleRoot) rmSync(bundleRoot, { recursive: true, force: true });
});

type Seen = Array<{ closedAt?: number }>;
const seen = async (upstream: string) =>
  (await (await fetch(`${fake.url}/__requests/${upstream}`)).json()) as Seen;

async function poll<T>(read: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Sends a chat request over a raw socket, waits until the upstream has it (and, for a stream,
 * until the first bytes reach the client), then destroys the socket. Returns how long after that
 * the upstream saw its connection close.
 */
async function leaveEarly(base: string, model: string, upstream: string, stream: boolean): Promise<number> {
  const before = (await seen(upstream)).length;
  const body = JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] });
  const url = new URL(base);
  const req = request({
    hostname: url.hostname,
    port: url.port,
    path: '/v1/chat/completions',
    method: 'POST',
    headers: {
      authorization: `Bearer ${AGENT_KEY}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    },
  });
  req.on('error', () => undefined);
  const firstBytes = new Promise<void>((resolve) =>
    req.on('response', (res) => {
      res.on('error', () => undefined);
      res.once('data', () => resolve());
    }),
  );
  req.end(body);
  const arrived = await poll(async () => ((await seen(upstream)).length > before ? true : undefined), 30_000);
  expect(arrived, `the request reached the upstream (${upstream})`).toBe(true);
  if (stream) await firstBytes;
  const left = Date.now();
  req.destroy();
  const closedAt = await poll(async () => (await seen(upstream))[before]?.closedAt, 5_000);
  expect(closedAt, 'the upstream connection was closed').toBeDefined();
  return closedAt! - left;
}

async function cancelledCount(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('llm_requests_total{') && line.includes('status="cancelled"')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

describe.each(RUNTIMES)('cancellation on %s', (runtime) => {
  let server: Child<{ url: string }> | undefined;

  beforeAll(async () => {
    const why = unavailable(runtime);
    if (why) throw new Error(`${runtime} cannot run here: ${why}`);
    server = await startChild<{ url: string }>(
      'fn',
      'bench/lib/serve.ts',
      [runtime, join(bundleRoot, 'all')],
      {
        env: {
          BENCH_VARS: JSON.stringify({
            MAS_API_KEYS: `cancel-agent:agent:${await sha256Hex(AGENT_KEY)}`,
            LLM_BASE_URL: `${fake.url}/v1`,
            LLM_DEFAULT_PROVIDER: 'openai_compatible',
            LLM_MODEL_PLANNING: 'stall',
            LLM_MODEL_EXECUTION: 'slowstream',
            EXPOSE_METRICS: 'true',
            LOG_LEVEL: 'error',
            // Deno's child inherits the test's environment: keep it off any database or Redis.
            DATABASE_URL: '',
            UPSTASH_REDIS_REST_URL: '',
            UPSTASH_REDIS_REST_TOKEN: '',
          }),
        },
        quiet: true,
        timeoutMs: 120_000,
      },
    );
  }, 150_000);

  afterAll(async () => {
    await server?.stop();
  });

  // workerd (wrangler dev and the bare binary alike) does not notice a client that leaves before
  // the response has started: request.signal never fires (cloudflare/workerd#4185; #3488 added
  // it, #3735 reverts it), so nothing reaches our abort. On Cloudflare's edge a disconnect
  // cancels the request's subrequests. Marked as an expected failure so it is seen, and so
  // this test says so the day workerd starts doing it; the attempt still ends at its timeout.
  const expected = runtime.startsWith('workerd') ? it.fails : it;
  expected(
    'a non-streaming call: the upstream connection closes within 1 s, recorded as cancelled',
    async () => {
      const base = server!.info.url;
      const before = await cancelledCount(base);
      expect(await leaveEarly(base, 'planning', 'stall', false)).toBeLessThan(1000);
      expect(await poll(async () => ((await cancelledCount(base)) > before ? true : undefined), 5000)).toBe(
        true,
      );
    },
    60_000,
  );

  it('a stream: the upstream connection closes within 1 s', async () => {
    expect(await leaveEarly(server!.info.url, 'execution', 'slowstream', true)).toBeLessThan(1000);
  }, 60_000);
});
