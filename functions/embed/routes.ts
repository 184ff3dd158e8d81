import { Hono } from 'hono';
import { notImplemented } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/embeddings', auth({ roles: ['agent', 'admin'] }), rateLimit());
routes.use('/v1/vectors/*', auth({ roles: ['agent', 'admin'] }), rateLimit());

// Embeddings and vector memory land with issue #4.
routes.post('/v1/embeddings', () => {
  throw notImplemented('Embeddings');
});
routes.post('/v1/vectors/:collection/upsert', () => {
  throw notImplemented('Vector upsert');
});
routes.post('/v1/vectors/:collection/search', () => {
  throw notImplemented('Vector search');
});

export const embedFunction = defineFunction('embed', routes);
