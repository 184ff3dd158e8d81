import { Hono } from 'hono';
import { notFound } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { countMessageTokens, createMessage } from '../../shared/llm/messages/messages-route.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();

// Anthropic's clients send our key as `x-api-key`, and read errors in Anthropic's shape.
for (const path of ['/v1/messages', '/v1/messages/*']) {
  routes.use(
    path,
    async (c, next) => {
      c.set('errorShape', 'anthropic');
      await next();
    },
    auth({ roles: ['agent', 'admin'], apiKeyHeader: 'x-api-key' }),
    rateLimit(),
  );
}

routes.post('/v1/messages', createMessage);
routes.post('/v1/messages/count_tokens', countMessageTokens);
routes.all('/v1/messages/*', (c) => {
  throw notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}.`, 'route_not_found');
});

export const messagesFunction = defineFunction('messages', routes);
