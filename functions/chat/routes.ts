import { Hono } from 'hono';
import { notImplemented } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/chat/*', auth({ roles: ['agent', 'admin'] }), rateLimit());
routes.use('/v1/models', auth(), rateLimit());

// The LLM router lands with issue #4; until then the routes exist, authenticate and say so.
routes.post('/v1/chat/completions', () => {
  throw notImplemented('Chat completions');
});
routes.get('/v1/models', () => {
  throw notImplemented('The model list');
});

export const chatFunction = defineFunction('chat', routes);
