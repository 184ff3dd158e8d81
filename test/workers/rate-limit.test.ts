import { Hono } from 'hono';
import { describe, expect, inject, it, vi } from 'vitest';
import app from '../../functions/index.ts';
import { generateApiKey, sha256Hex } from '../../shared/auth/api-keys.ts';
import { getSettings } from '../../shared/env.ts';
import { type AppEnv, createApp, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { getRedis } from '../../shared/redis/client.ts';
import { adminSql, bearer, call, testEnv } from './helpers.ts';

// A principal of its own (a key in auth.api_keys), so no other test file's traffic counts here.
async function freshPrincipal(role: 'agent' | 'approver'): Promise<{ id: string; key: string }> {
  const key = generateApiKey();
  const id = `rl-${crypto.randomUUID().slice(0, 12)}`;
  await adminSql('insert into auth.api_keys (id, role, key_hash) values ($1, $2, $3)', [
    id,
    role,
    await sha256Hex(key),
  ]);
  return { id, key };
}

describe.skipIf(inject('stackInfo').redis !== 'ok')('one rate-limit token per request', () => {
  /** Hits Redis holds for this principal across the sliding window's buckets. */
  async function redisHits(role: string, id: string, prefix = 'mas:ratelimit'): Promise<number> {
    const redis = getRedis(getSettings(await testEnv()))!;
    const keys = await redis.keys(`${prefix}:${role}:${id}:*`);
    let total = 0;
    for (const k of keys) total += Number(await redis.get(k));
    return total;
  }

  it.each([
    ['/v1/approvals', 'approver'], // matched by both `/v1/approvals` and `/v1/approvals/*`
    ['/v1/approvals?status=pending', 'approver'],
    ['/v1/models', 'agent'], // `/v1/models` and `/v1/models/*`
  ] as const)('%s spends one token', async (path, role) => {
    const agent = await freshPrincipal(role);
    const env = await testEnv();
    for (let i = 1; i <= 3; i++) {
      const res = await call(app, path, { headers: { authorization: `Bearer ${agent.key}` }, env });
      expect(res.status).toBe(200);
      expect(await redisHits(role, agent.id)).toBe(i);
    }
  });

  it('far from the limit, fast requests share a few Redis commands, and every hit is counted', async () => {
    const prefix = `test:batch:${crypto.randomUUID()}`;
    const routes = new Hono<AppEnv>();
    // An hour-long window: at a boundary the previous window's weighted count rounds hits away.
    routes.use(
      '/v1/limited',
      auth(),
      rateLimit({ requests: 1000, windowSeconds: 3600, prefix, flushMs: 250 }),
    );
    routes.get('/v1/limited', (c) => c.json({ ok: true }));
    const limited = createApp('isolate', [defineFunction('limited', routes)]);
    const env = await testEnv();
    const redisUrl = getSettings(env).UPSTASH_REDIS_REST_URL!;
    // Redis commands for this prefix: each is one REST call whose body names its keys.
    const realFetch = globalThis.fetch;
    let commands = 0;
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith(redisUrl) && String(init?.body ?? '').includes(prefix)) commands += 1;
      return realFetch(input, init);
    });
    try {
      // The first request waits for Redis and leaves a verdict with plenty of headroom.
      expect((await call(limited, '/v1/limited', { headers: bearer('agent'), env })).status).toBe(200);
      expect(commands).toBe(1);
      const n = 60;
      const statuses = await Promise.all(
        Array.from({ length: n }, () =>
          call(limited, '/v1/limited', { headers: bearer('agent'), env }).then((res) => res.status),
        ),
      );
      expect(statuses).toEqual(Array.from({ length: n }, () => 200));
      await vi.waitFor(async () => expect(await redisHits('agent', 'agent-1', prefix)).toBe(n + 1), {
        timeout: 5000,
        interval: 50,
      });
      expect(commands).toBeGreaterThan(1);
      expect(commands).toBeLessThanOrEqual(n / 10);
    } finally {
      spy.mockRestore();
    }
  });
});
