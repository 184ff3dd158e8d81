import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../auth/api-keys.ts';
import { badRequest } from '../errors/index.ts';
import { guard } from '../middleware/guard.ts';
import { rateLimit } from '../middleware/rate-limit/index.ts';
import { answerHeader, answerWith } from './answer-headers.ts';
import { type AppEnv, createApp, defineFunction } from './create-app.ts';

const KEY = 'mas_agentkey0123456789';

/** createApp's pipeline (correlation first) over routes behind a guard, and one behind rateLimit alone. */
async function app() {
  const routes = new Hono<AppEnv>();
  for (const path of ['/bag', '/json', '/fails']) routes.use(path, guard({ roles: ['agent'] }));
  routes.get('/bag', (c) => {
    answerHeader(c, 'x-mas-one', '1');
    answerHeader(c, 'x-mas-two', '2');
    answerHeader(c, 'x-mas-one', 'again');
    return answerWith(c, '{"ok":true}', 'application/json');
  });
  routes.get('/json', (c) => {
    answerHeader(c, 'x-mas-one', '1');
    return c.json({ ok: true });
  });
  routes.get('/fails', (c) => {
    answerHeader(c, 'x-mas-one', '1');
    throw badRequest('No.', null, 'nope');
  });
  // No guard: its rateLimit writes through c.header, which a Response returned as is never had.
  routes.use('/raw', rateLimit());
  routes.get('/raw', () => new Response('raw'));
  const built = createApp('bag-test', [defineFunction('bag-test', routes)]);
  const env = { MAS_API_KEYS: `bot:agent:${await sha256Hex(KEY)}`, RATE_LIMIT_REQUESTS: '5' };
  return (path: string) => built.request(path, { headers: { authorization: `Bearer ${KEY}` } }, env as never);
}

const ids = (res: Response) => [res.headers.get('x-correlation-id'), res.headers.get('x-request-id')];

describe('the answer headers bag', () => {
  it('answerWith: every header written for the answer, the last write of a name, in one Response', async () => {
    const res = await (await app())('/bag');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{"ok":true}');
    expect(res.headers.get('x-mas-one')).toBe('again');
    expect(res.headers.get('x-mas-two')).toBe('2');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('4');
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/s$/);
    const [correlation, request] = ids(res);
    expect(correlation).toMatch(/^[0-9a-f]{32}$/);
    expect(request).toBe(correlation);
  });

  it("an answer made by hono's c.json still carries the bag (set by correlation)", async () => {
    const res = await (await app())('/json');
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('x-mas-one')).toBe('1');
    expect(res.headers.get('x-ratelimit-limit')).toBe('5');
    expect(ids(res)[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  it("onError's answer carries the bag beside the error", async () => {
    const res = await (await app())('/fails');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('nope');
    expect(res.headers.get('x-mas-one')).toBe('1');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('4');
    expect(ids(res)[1]).toMatch(/^[0-9a-f]{32}$/);
  });

  it('without a guard the bag holds the ids only: a Response returned as is gets no rate-limit headers, as before', async () => {
    const res = await (await app())('/raw');
    expect(await res.text()).toBe('raw');
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    expect(ids(res)[0]).toMatch(/^[0-9a-f]{32}$/);
  });
});
