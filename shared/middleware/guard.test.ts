import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../auth/api-keys.ts';
import { type AppEnv, createApp, defineFunction } from '../http/create-app.ts';
import { guard } from './guard.ts';

async function appWith(limit: number) {
  const routes = new Hono<AppEnv>();
  routes.use('/a', guard({ roles: ['agent'] }));
  routes.use('/b', guard({ roles: ['agent'], apiKeyHeader: 'x-api-key', errorShape: 'anthropic' }));
  let reached = 0;
  routes.get('/a', (c) => {
    reached++;
    return c.json({ ok: true });
  });
  routes.get('/b', (c) => c.json({ ok: true }));
  const app = createApp('guard-test', [defineFunction('guard-test', routes)]);
  const env = {
    MAS_API_KEYS: `bot:agent:${await sha256Hex('mas_agentkey0123456789')},ops:approver:${await sha256Hex('mas_approverkey0123456789')}`,
    RATE_LIMIT_REQUESTS: String(limit),
  };
  const get = (path: string, headers: Record<string, string> = {}) =>
    app.request(path, { headers }, env as never);
  return { get, reached: () => reached };
}

describe('guard', () => {
  it('runs next() for an allowed principal under its limit', async () => {
    const { get, reached } = await appWith(5);
    const res = await get('/a', { authorization: 'Bearer mas_agentkey0123456789' });
    expect(res.status).toBe(200);
    expect(reached()).toBe(1);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('4');
  });

  it('refuses without a key (401) before the limiter, which keeps its token', async () => {
    const { get, reached } = await appWith(1);
    const refused = await get('/a');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-ratelimit-remaining')).toBeNull();
    expect((await get('/a', { authorization: 'Bearer mas_wrongkey0123456789' })).status).toBe(401);
    expect(reached()).toBe(0);
    // The one token is still there: the refused requests did not spend it.
    expect((await get('/a', { authorization: 'Bearer mas_agentkey0123456789' })).status).toBe(200);
    expect(reached()).toBe(1);
  });

  it('is 429 over the limit, and each guard counts on its own', async () => {
    const { get, reached } = await appWith(1);
    expect((await get('/a', { authorization: 'Bearer mas_agentkey0123456789' })).status).toBe(200);
    const over = await get('/a', { authorization: 'Bearer mas_agentkey0123456789' });
    expect(over.status).toBe(429);
    expect(reached()).toBe(1);
    // /b has its own rateLimit: its bucket is untouched by /a's requests.
    expect((await get('/b', { 'x-api-key': 'mas_agentkey0123456789' })).status).toBe(200);
  });

  it('sets errorShape before auth, so its refusal is in that shape', async () => {
    const { get } = await appWith(5);
    const res = await get('/b', { 'x-api-key': 'mas_approverkey0123456789' });
    expect(res.status).toBe(403);
    expect(res.headers.get('request-id')).toBeTruthy();
    expect(((await res.json()) as { type?: string }).type).toBe('error');
    expect((await get('/a', { authorization: 'Bearer mas_approverkey0123456789' })).status).toBe(403);
  });
});
