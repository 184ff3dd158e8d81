import { notFound } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { countMessageTokens, createMessage } from '../../shared/llm/messages/messages-route.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = routeTable<AppEnv>();

// Anthropic's clients send our key as `x-api-key`, and read errors in Anthropic's shape. One
// middleware per path, not three: each is a route entry that hono and createApp's trie register
// and keep (module load, a new isolate's start), and a step of dispatch per request. auth and
// rateLimit throw to refuse and otherwise return `next()`'s promise, so chaining them is what
// hono's compose did.
for (const path of ['/v1/messages', '/v1/messages/*']) {
  const authenticate = auth({ roles: ['agent', 'admin'], apiKeyHeader: 'x-api-key' });
  const limit = rateLimit();
  routes.use(path, function anthropicGuard(c, next) {
    c.set('errorShape', 'anthropic');
    return authenticate(c, () => limit(c, next) as Promise<void>) as Promise<void>;
  });
}

routes.post('/v1/messages', createMessage);
routes.post('/v1/messages/count_tokens', countMessageTokens);
routes.all('/v1/messages/*', (c) => {
  throw notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}.`, 'route_not_found');
});

export const messagesFunction = defineFunction('messages', routes);
