import { notFound } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { countMessageTokens, createMessage } from '../../shared/llm/messages/messages-route.ts';
import { guard } from '../../shared/middleware/guard.ts';

const routes = routeTable<AppEnv>();

// Anthropic's clients send our key as `x-api-key`, and read errors in Anthropic's shape (set
// before auth, so its refusals are in that shape too). Each path its own guard, as before.
for (const path of ['/v1/messages', '/v1/messages/*']) {
  routes.use(path, guard({ roles: ['agent', 'admin'], apiKeyHeader: 'x-api-key', errorShape: 'anthropic' }));
}

routes.post('/v1/messages', createMessage);
routes.post('/v1/messages/count_tokens', countMessageTokens);
routes.all('/v1/messages/*', (c) => {
  throw notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}.`, 'route_not_found');
});

export const messagesFunction = defineFunction('messages', routes);
