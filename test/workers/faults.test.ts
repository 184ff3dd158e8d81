import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import app from '../../functions/index.ts';
import { type Env, getSettings } from '../../shared/env.ts';
import { resetLocalCircuits } from '../../shared/llm/circuit-breaker.ts';
import { getRedis, redisIsDown } from '../../shared/redis/client.ts';
import { bearer, type KEYS, testEnv } from './helpers.ts';

// Failing dependencies, with the real functions in workerd: Redis that hangs or refuses, a
// Pushgateway that is gone, and LLM upstreams that stall, reset or rate-limit. Every request is
// served or fails cleanly, and none outlives its deadline (bounds, not speed tests: the margins
// are generous for a loaded CI machine). Postgres stopping and restarting mid-run is in
// test/node/faults-postgres.test.ts (it needs a Postgres of its own to stop).

const blackhole = inject('blackholeUrl');
const fake = inject('openaiFakeUrl');
const DEAD = 'http://127.0.0.1:9'; // discard port: nothing listens, connections are refused
const DEADLINE_MS = 3000;
const MARGIN_MS = 1500;

const MODELS_YAML = `
providers:
  fake: { type: openai_compatible, base_url: ${fake}/v1, api_key_env: FAKE_KEY, timeout_ms: 600 }
models:
  - { id: good, provider: fake, upstream: ok, capabilities: [chat], context_window: 8192 }
  - { id: resetting, provider: fake, upstream: reset, capabilities: [chat], context_window: 8192 }
  - { id: stalling, provider: fake, upstream: stall, capabilities: [chat], context_window: 8192 }
  - { id: limited, provider: fake, upstream: rate429, capabilities: [chat], context_window: 8192 }
  - { id: failing, provider: fake, upstream: fail500, capabilities: [chat], context_window: 8192 }
roles:
  planning: [good]
  reset-then-good: [resetting, good]
  stall-then-good: [stalling, good]
  limited-then-good: [limited, good]
  all-bad: [resetting, failing, stalling]
  stall-only: [stalling]
policy:
  retries: 1
  backoff: { base_ms: 10, max_ms: 50 }
  retry_after_cap_ms: 200
  deadline_ms: ${DEADLINE_MS}
  circuit_breaker: { failure_threshold: 1000, window_ms: 60000, open_ms: 60000 }
`;

const env = (overrides: Record<string, string | undefined> = {}) =>
  testEnv({ MAS_MODELS_YAML: MODELS_YAML, FAKE_KEY: 'sk-fake-key-0000000000000000000000', ...overrides });

/** Calls the combined app; `elapsed` is the time to the response, `background` to the end of waitUntil. */
async function timed(path: string, init: RequestInit & { env: Env }, role: keyof typeof KEYS = 'agent') {
  const ctx = createExecutionContext();
  const started = Date.now();
  const res = await app.fetch(
    new Request(`http://mas.test${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...bearer(role), ...(init.headers as object) },
    }),
    init.env,
    ctx,
  );
  const text = await res.text();
  const elapsed = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res, text, elapsed, background: Date.now() - started };
}

const chat = (model: string, e: Env, extra: Record<string, unknown> = {}) =>
  timed('/v1/chat/completions', {
    method: 'POST',
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    env: e,
  });

const audit = (e: Env, role: keyof typeof KEYS = 'agent') =>
  timed(
    '/v1/audit/actions',
    {
      method: 'POST',
      body: JSON.stringify({
        // No agent_id: each key records as its own principal (agent2 has no bound agents).
        agent_name: 'Faults Bot',
        action_type: 'probe',
        category: 'read',
        inputs: { n: 1 },
      }),
      env: e,
    },
    role,
  );

beforeEach(() => resetLocalCircuits());

describe.each([
  ['hangs', blackhole, 3],
  ['refuses connections', DEAD, 4],
])('Redis that %s', (_, url, limit) => {
  const redisEnv = (over: Record<string, string> = {}) =>
    env({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: 'token', ...over });

  it('chat (rate limit and shared circuits on Redis) is still served, in bounded time', async () => {
    const r = await chat('planning', await redisEnv());
    expect(r.res.status, r.text).toBe(200);
    expect(r.elapsed).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    const s = await chat('planning', await redisEnv(), { stream: true });
    expect(s.res.status).toBe(200);
    expect(s.text).toContain('data: [DONE]');
    expect(s.elapsed).toBeLessThan(DEADLINE_MS + MARGIN_MS);
  });

  it('audit writes are still recorded, in bounded time', async () => {
    const r = await audit(await redisEnv());
    expect(r.res.status, r.text).toBe(201);
    expect(r.elapsed).toBeLessThan(4000);
  });

  it('after the first failed commands Redis counts as down: requests stop waiting for it', async () => {
    const e = await redisEnv();
    for (let i = 0; i < 5 && !redisIsDown(getSettings(e)); i++) await audit(e);
    expect(redisIsDown(getSettings(e))).toBe(true);
    expect(getRedis(getSettings(e))).toBeUndefined(); // callers take their per-isolate path at once
    expect((await audit(e)).res.status).toBe(201);
  });

  it('rate limiting degrades to the per-isolate limit: still enforced', async () => {
    // agent2 is used by no other test in this file, and per-isolate limiters are kept per
    // limit, so each case starts with a budget of its own.
    const e = await redisEnv({ RATE_LIMIT_REQUESTS: String(limit) });
    const statuses: number[] = [];
    for (let i = 0; i <= limit; i++) statuses.push((await audit(e, 'agent2')).res.status);
    expect(statuses).toEqual([...Array.from({ length: limit }, () => 201), 429]);
  });

  it('an approval long-poll still returns at its wait, not later', async () => {
    const e = await redisEnv();
    const gated = await timed('/v1/audit/actions', {
      method: 'POST',
      body: JSON.stringify({
        // No agent_id: each key records as its own principal (agent2 has no bound agents).
        agent_name: 'Faults Bot',
        action_type: 'wipe',
        category: 'destructive',
        inputs: {},
      }),
      env: e,
    });
    const { approval } = JSON.parse(gated.text) as { approval: { id: string } };
    const r = await timed(`/v1/approvals/${approval.id}?wait=2`, { env: e });
    expect(r.res.status, r.text).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ status: 'pending' });
    expect(r.elapsed).toBeLessThan(2000 + MARGIN_MS + 1000);
    const decided = await timed(
      `/v1/approvals/${approval.id}/decision`,
      {
        method: 'POST',
        body: JSON.stringify({ decision: 'approve', reason: 'ok' }),
        env: e,
      },
      'approver',
    );
    expect(decided.res.status).toBe(200);
    // Waking long-pollers through Redis happens in the background, and ends too.
    expect(decided.background).toBeLessThan(4000);
  });
});

describe.each([
  ['refuses connections', DEAD],
  ['hangs', blackhole],
])('a Pushgateway that %s', (_, url) => {
  it('affects no response, and the background push gives up on its own', async () => {
    const e = await env({ PUSHGATEWAY_URL: url });
    for (const r of [await timed('/health', { env: e }), await chat('planning', e), await audit(e)]) {
      expect(r.res.status).toBeLessThan(300);
      expect(r.elapsed).toBeLessThan(2000);
      // metrics.push_timeout_ms is 1.5 s (config/gateway.yaml)
      expect(r.background).toBeLessThan(1500 + MARGIN_MS + r.elapsed);
    }
  });
});

describe('LLM upstream faults: the deadline holds and fallback happens', () => {
  it.each([
    ['resets the connection', 'reset-then-good', 3, 3],
    ['stalls past its timeout', 'stall-then-good', 3, 3],
    // Its Retry-After (1 s) is over retry_after_cap_ms, so the router moves on at once; the
    // second call comes within that second, so the cooling model is not even tried.
    ['answers 429 with a long Retry-After', 'limited-then-good', 2, 1],
  ])('a model that %s is given up, then the next one answers', async (_, role, first, second) => {
    for (const stream of [false, true]) {
      const r = await chat(role, await env(), { stream });
      expect(r.res.status, r.text).toBe(200);
      expect(r.res.headers.get('x-mas-model')).toBe('good');
      expect(r.res.headers.get('x-mas-attempts')).toBe(String(stream ? second : first));
      if (stream) expect(r.text).toContain('data: [DONE]');
      expect(r.elapsed).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    }
  });

  it('when every model fails, the answer is a clean 502/504 within the deadline', async () => {
    const r = await chat('all-bad', await env());
    expect([502, 504]).toContain(r.res.status);
    expect(JSON.parse(r.text)).toMatchObject({ error: { type: expect.stringMatching(/_error$/) } });
    expect(r.elapsed).toBeLessThan(DEADLINE_MS + MARGIN_MS);
  });

  it('twenty concurrent requests to a stalled upstream all end by the deadline', async () => {
    const e = await env();
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => chat('stall-only', e, { stream: i % 2 === 0 })),
    );
    for (const r of results) {
      expect(r.res.status).toBe(504);
      expect(r.elapsed).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    }
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 2 * MARGIN_MS);
  });
});
