import { Hono } from 'hono';
import { notImplemented } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/audit/*', auth(), rateLimit());

// The ledger lands with issue #5.
routes.post('/v1/audit/actions', () => {
  throw notImplemented('Recording actions');
});
routes.patch('/v1/audit/actions/:id', () => {
  throw notImplemented('Updating actions');
});
routes.get('/v1/audit/actions', () => {
  throw notImplemented('Listing actions');
});
routes.get('/v1/audit/actions/:id', () => {
  throw notImplemented('Reading an action');
});
routes.get('/v1/audit/verify', () => {
  throw notImplemented('Verifying the ledger');
});

export const auditFunction = defineFunction('audit', routes);
