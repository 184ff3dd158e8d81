import { Hono } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { describe, expect, it } from 'vitest';
import { type AppEnv, createApp, defineFunction, type FunctionDef, lazyFunction } from './create-app.ts';

// A function with its own middleware, a parameter route, a wildcard and an error: what proxy's
// and mcp's routes have, and what createApp must route the same whether it got them eagerly or
// loads them on first use.
function echoFunction(): FunctionDef {
  const routes = new Hono<AppEnv>();
  routes.use('/v1/echo/*', async (c, next) => {
    await next();
    c.header('x-echo-mw', 'ran');
  });
  routes.get('/v1/echo/:word', (c) => c.json({ word: c.req.param('word') }));
  routes.post('/v1/echo/fail', () => {
    throw new Error('boom');
  });
  routes.all('/v1/echo/any/*', (c) => c.text(`any ${c.req.method}`));
  routes.get('/other', (c) => c.text('other'));
  return defineFunction('echo', routes);
}

const ENV = { LOG_LEVEL: 'silent' };

async function answer(app: Hono<AppEnv>, method: string, path: string, env: object = ENV) {
  const res = await app.request(path, { method }, env);
  const headers = Object.fromEntries(
    [...res.headers].filter(([name]) => !['x-correlation-id', 'traceparent', 'x-request-id'].includes(name)),
  );
  const body = await res.text();
  return { status: res.status, headers, body: body.replace(/correlation id [0-9a-f]+/g, 'correlation id …') };
}

const REQUESTS: Array<[string, string]> = [
  ['GET', '/health'],
  ['HEAD', '/health'],
  ['POST', '/health'],
  ['GET', '/metrics'],
  ['GET', '/v1/echo/hello'],
  ['GET', '/v1/echo/hello/'],
  ['POST', '/v1/echo/fail'],
  ['PUT', '/v1/echo/any/x/y'],
  ['DELETE', '/v1/echo/any'],
  ['GET', '/v1/echo'],
  ['GET', '/other'],
  ['GET', '/nowhere'],
  ['OPTIONS', '/v1/echo/hello'],
];

describe('createApp with a lazily loaded function', () => {
  it('answers every request as the eager app does', async () => {
    const eager = createApp('t', [echoFunction()]);
    for (const order of [REQUESTS, [...REQUESTS].reverse()]) {
      const lazy = createApp('t', [lazyFunction(async () => echoFunction())]);
      for (const [method, path] of order)
        expect(await answer(lazy, method, path), `${method} ${path}`).toEqual(
          await answer(eager, method, path),
        );
    }
  });

  it('loads nothing for GET /health or /metrics, then loads once for everything else', async () => {
    let loads = 0;
    const app = createApp('t', [
      lazyFunction(async () => {
        loads++;
        return echoFunction();
      }),
    ]);
    expect((await app.request('/health', {}, ENV)).status).toBe(200);
    expect((await app.request('/health?x=1', { method: 'HEAD' }, ENV)).status).toBe(200);
    expect((await app.request('/metrics', {}, ENV)).status).toBe(404);
    expect(loads).toBe(0);
    const [a, b] = await Promise.all([app.request('/v1/echo/a', {}, ENV), app.request('/nowhere', {}, ENV)]);
    expect([a.status, b.status, loads]).toEqual([200, 404, 1]);
    expect(await (await app.request('/v1/echo/b', {}, ENV)).json()).toEqual({ word: 'b' });
    expect(loads).toBe(1);
  });

  it('labels the loaded routes with their function in the request metrics', async () => {
    const app = createApp('t', [lazyFunction(async () => echoFunction())]);
    await app.request('/v1/echo/label-check', {}, ENV);
    const metrics = await answer(app, 'GET', '/metrics', { ...ENV, EXPOSE_METRICS: 'true' });
    expect(metrics.body).toContain(
      'http_requests_total{function="echo",route="/v1/echo/:word",status="200"}',
    );
  });

  it('refuses a lazy function that routes what createApp answers without loading it', async () => {
    for (const path of ['/health', '/metrics', '*']) {
      const routes = new Hono<AppEnv>();
      routes.get(path, (c) => c.text('mine'));
      const app = createApp('t', [lazyFunction(async () => defineFunction('greedy', routes))]);
      await expect(app.request('/v1/anything', {}, ENV)).rejects.toThrow(/cannot route/);
    }
  });
});

// The deployments that load their function lazily: none of its routes may match a path that
// createApp answers without loading it (for any method), or the eager app would have run them.
describe.each([
  ['proxy', async () => (await import('../../functions/proxy/routes.ts')).proxyFunction],
  ['mcp', async () => (await import('../../functions/mcp/routes.ts')).mcpFunction],
])('the %s deployment', (_name, load) => {
  it('has routes that match neither /health nor /metrics', async () => {
    const fn = await load();
    expect(fn.routes.routes.length).toBeGreaterThan(0);
    const trie = new TrieRouter<string>();
    for (const r of fn.routes.routes) trie.add(r.method, r.path, `${r.method} ${r.path}`);
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
      for (const path of ['/health', '/metrics'])
        expect(trie.match(method, path)[0], `${method} ${path}`).toEqual([]);
  });
});
