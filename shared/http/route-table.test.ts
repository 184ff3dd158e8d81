import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { type AppEnv, createApp, defineFunction } from './create-app.ts';
import { routeTable, unrouted } from './route-table.ts';

const REFUSAL = 'a function route table does not route: serve it through createApp';

// What a function's routes.ts does with its table: middleware, a parameter route, a part of the
// table mounted with route() (as audit's ledger routes and approval's page are).
function table() {
  const part = routeTable<AppEnv>();
  part.get('/v1/part/:id', (c) => c.json({ id: c.req.param('id') }));
  const routes = routeTable<AppEnv>();
  routes.use('/v1/t/*', async (c, next) => {
    await next();
    c.header('x-mw', 'ran');
  });
  routes.get('/v1/t/:word', (c) => c.text(c.req.param('word')));
  routes.route('/', part);
  return routes;
}

describe('unrouted', () => {
  it('takes routes and refuses to match, saying why', () => {
    const router = unrouted<string>();
    router.add('GET', '/a', 'a');
    router.add('ALL', '/b/*', 'b');
    expect(() => router.match('GET', '/a')).toThrow(REFUSAL);
  });
});

describe('routeTable', () => {
  it('keeps the routes it is given, in order, for createApp to read', () => {
    expect(table().routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'ALL /v1/t/*',
      'GET /v1/t/:word',
      'GET /v1/part/:id',
    ]);
  });

  it('does not route by itself', async () => {
    await expect(async () => table().request('/v1/t/x')).rejects.toThrow(REFUSAL);
  });

  it('is served through createApp as a plain Hono is', async () => {
    const plain = new Hono<AppEnv>();
    for (const r of table().routes) plain.on(r.method, r.path, r.handler);
    const env = { LOG_LEVEL: 'silent' };
    for (const routes of [table(), plain]) {
      const app = createApp('t', [defineFunction('t', routes)]);
      const word = await app.request('/v1/t/hello', {}, env);
      expect([word.status, word.headers.get('x-mw'), await word.text()]).toEqual([200, 'ran', 'hello']);
      const part = await app.request('/v1/part/7', {}, env);
      expect([part.status, await part.json()]).toEqual([200, { id: '7' }]);
      expect((await app.request('/v1/nowhere', {}, env)).status).toBe(404);
    }
  });
});
