import { Hono } from 'hono';
import { notImplemented } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/integrations/*', auth({ roles: ['agent', 'admin'] }), rateLimit());

// The integration proxy lands with issue #6.
routes.all('/v1/integrations/:name/*', () => {
  throw notImplemented('The integration proxy');
});

export const proxyFunction = defineFunction('proxy', routes);
