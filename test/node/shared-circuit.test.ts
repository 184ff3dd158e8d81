import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { type Stack, startStack } from '../../local/stack.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startDevWorker } from './dev-worker.ts';

// Two isolates (two `wrangler dev` processes) against one Redis: a circuit opened through one is
// open in the other without it calling the upstream, and a recovery seen by one closes it for
// both.

const AGENT_KEY = 'mas_circuit_agent_key_0123456789abcdef';
const run = crypto.randomUUID().slice(0, 8);
const upstream = `mode:shared-${run}`;

let stack: Stack;
let fake: Awaited<ReturnType<typeof startOpenAIFake>>;
const workers: Unstable_DevWorker[] = [];

const setMode = (mode: string) =>
  fetch(`${fake.url}/__modes/shared-${run}`, { method: 'POST', body: JSON.stringify(mode) });
const seen = async () =>
  ((await (await fetch(`${fake.url}/__requests/${upstream}`)).json()) as unknown[]).length;
const chat = (w: Unstable_DevWorker) =>
  w.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'solo', messages: [{ role: 'user', content: 'hi' }] }),
  });

async function until(condition: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now();
}

beforeAll(async () => {
  stack = await startStack({ env: process.env, migrationsDir: 'migrations', noPushgateway: true });
  expect(stack.redis, 'the stack runs Redis').toBe('ok');
  fake = await startOpenAIFake();
  const vars = {
    UPSTASH_REDIS_REST_URL: stack.settings.UPSTASH_REDIS_REST_URL!,
    UPSTASH_REDIS_REST_TOKEN: stack.settings.UPSTASH_REDIS_REST_TOKEN!,
    MAS_API_KEYS: `circuit-agent:agent:${await sha256Hex(AGENT_KEY)}`,
    FAKE_KEY: 'sk-fake-key-0000000000000000000000',
    RATE_LIMIT_REQUESTS: '1000000',
    MAS_MODELS_YAML: `
providers:
  fake: { type: openai_compatible, base_url: ${fake.url}/v1, api_key_env: FAKE_KEY, timeout_ms: 2000 }
models:
  - { id: shared-${run}, provider: fake, upstream: "${upstream}", capabilities: [chat], context_window: 8192 }
roles:
  solo: [shared-${run}]
policy:
  retries: 0
  circuit_breaker: { min_calls: 4, open_ms: 2000 }
`,
  };
  for (let i = 0; i < 2; i++) workers.push(await startDevWorker(undefined, vars));
}, 180_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  await fake?.close();
  await stack?.stop();
});

describe('circuit state shared by two isolates through Redis', () => {
  it('opens in both when one sees the outage, and closes in both when one sees the recovery', async () => {
    const [a, b] = workers as [Unstable_DevWorker, Unstable_DevWorker];
    await setMode('ok');
    expect((await chat(a)).status).toBe(200);
    expect((await chat(b)).status).toBe(200);

    await setMode('500');
    await until(async () => (await chat(a)).status === 503, 30_000);
    // B reads the shared state at most once a second: within that it may still try (and fail).
    let refused: Awaited<ReturnType<typeof chat>> | undefined;
    await until(async () => {
      refused = await chat(b);
      return refused.status === 503;
    }, 10_000);
    const quiet = await seen();
    // Now B turns callers away without calling the upstream.
    expect((await chat(b)).status).toBe(503);
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('circuit_open');
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await seen()).toBe(quiet);

    await setMode('ok');
    const closedAt = await until(async () => (await chat(a)).status === 200, 30_000);
    // B follows within its one-second sync (plus room for a loaded machine).
    const followedAt = await until(async () => (await chat(b)).status === 200, 10_000);
    expect(followedAt - closedAt).toBeLessThan(5000);
  }, 120_000);
});
