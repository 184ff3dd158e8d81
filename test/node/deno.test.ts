import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../local/ports.ts';
import { stopChild } from '../../local/processes.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';

const DENO = 'node_modules/.bin/deno';
const AGENT_KEY = 'mas_deno_smoke_agent_key_0123456789';

// The same function code on Deno (the `deno` npm package ships the binary): the deno.json task
// serves the combined app with env from Deno.env, against the real Postgres/Redis stack and the
// OpenAI protocol fake.
describe.skipIf(!existsSync(DENO))('Deno runtime (smoke)', () => {
  let stack: Stack;
  let fake: Awaited<ReturnType<typeof startOpenAIFake>>;
  let deno: ChildProcess;
  let base: string;
  let output = '';

  beforeAll(async () => {
    stack = await startStack({ env: process.env, migrationsDir: 'migrations', noPushgateway: true });
    fake = await startOpenAIFake();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    deno = spawn(DENO, ['task', 'serve:all'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...stack.settings,
        PORT: String(port),
        MAS_API_KEYS: `deno-agent:agent:${await sha256Hex(AGENT_KEY)}`,
        LLM_BASE_URL: `${fake.url}/v1`,
        LLM_DEFAULT_PROVIDER: 'openai_compatible',
        LLM_MODEL_PLANNING: 'ok',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    deno.stdout?.on('data', (d) => {
      output += d;
    });
    deno.stderr?.on('data', (d) => {
      output += d;
    });
    const up = await waitFor(
      async () => deno.exitCode === null && (await fetch(`${base}/health`)).ok,
      60_000,
      200,
    );
    if (!up) throw new Error(`deno serve:all did not come up:\n${output}`);
  }, 90_000);

  afterAll(async () => {
    if (deno) await stopChild(deno);
    await fake?.close();
    await stack?.stop();
  });

  it('GET /health answers from Deno', async () => {
    const res = await fetch(`${base}/health`);
    expect(await res.json()).toMatchObject({ status: 'ok', service: 'mas' });
    expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('GET /ready reaches Postgres through the Neon driver', async () => {
    const res = await fetch(`${base}/ready`);
    const body = (await res.json()) as { checks: Record<string, { status: string }> };
    expect(body.checks.postgres?.status).toBe('ok');
    if (stack.redis === 'ok') expect(body.checks.redis?.status).toBe('ok');
  });

  it('POST /v1/chat/completions goes through the router to the fake upstream', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${AGENT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'planning', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toMatch(/gateway;dur=/);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]?.message.content).toBe('Hello from the fake.');
  });

  it('POST /v1/messages answers in Anthropic’s shape from Deno (translated to the fake upstream)', async () => {
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: {
        'x-api-key': AGENT_KEY,
        'anthropic-version': '2023-06-01',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'planning',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { type: string; content: Array<{ type: string; text: string }> };
    expect(body.type).toBe('message');
    expect(body.content[0]).toEqual({ type: 'text', text: 'Hello from the fake.' });
  });
});
