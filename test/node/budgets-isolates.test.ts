import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { type Stack, startStack } from '../../local/stack.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startDevWorker } from './dev-worker.ts';

const run = crypto.randomUUID().slice(0, 8);
const AGENT_KEY = `mas_tpm-${run}_agent_key_0123456789`;
const ADMIN_KEY = `mas_tpm-${run}_admin_key_0123456789`;

/**
 * A tokens-per-minute limit holds across isolates: two separately started `wrangler dev` workers
 * (two isolates, no shared memory) against one Redis enforce one budget between them.
 */
describe('TPM limit across two isolates', () => {
  let stack: Stack;
  let fake: Awaited<ReturnType<typeof startOpenAIFake>>;
  const workers: Unstable_DevWorker[] = [];

  beforeAll(async () => {
    stack = await startStack({ env: process.env, migrationsDir: 'migrations', noPushgateway: true });
    expect(stack.redis, 'this test needs Redis (REDIS_URL or redis-server on PATH)').toBe('ok');
    fake = await startOpenAIFake();
    const vars = {
      ...stack.settings,
      MAS_API_KEYS: `tpm-agent-${run}:agent:${await sha256Hex(AGENT_KEY)},tpm-admin-${run}:admin:${await sha256Hex(ADMIN_KEY)}`,
      MAS_MODELS_YAML: `
providers:
  fake: { type: openai_compatible, base_url: ${fake.url}/v1, api_key_env: FAKE_KEY }
models:
  - { id: counted, provider: fake, upstream: "tpm-${run}", capabilities: [chat], context_window: 8192, price: { input: 1, output: 1 } }
roles:
  planning: [counted]
`,
      FAKE_KEY: 'sk-fake-key-0000000000000000000000',
      RATE_LIMIT_REQUESTS: '1000000',
    };
    for (let i = 0; i < 2; i++) workers.push(await startDevWorker(undefined, vars));
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await fake?.close();
    await stack?.stop();
  });

  const base = (i: number) => `http://${workers[i % 2]!.address}:${workers[i % 2]!.port}`;

  it('the second isolate sees the tokens the first one spent', async () => {
    const put = await fetch(`${base(0)}/v1/admin/budgets/principal/tpm-agent-${run}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tpm: 70 }),
    });
    expect(put.status).toBe(200);
    // One minute is the window: start well inside one, so the count cannot reset mid-test.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${base(i)}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'planning',
          max_tokens: 1,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    // Each call reserves its estimate (13 prompt + 1 output) and spends 14 (the fake's 9 + 5), so
    // whether or not a settlement has landed when the next call comes, five fit in 70 and the
    // sixth does not, whichever isolate it reaches. Counting per isolate would let ten through.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
    const requests = (await (await fetch(`${fake.url}/__requests/tpm-${run}`)).json()) as unknown[];
    expect(requests).toHaveLength(5);
  }, 120_000);
});
