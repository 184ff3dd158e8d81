import { Hono } from 'hono';
import { notImplemented } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();

routes.use('/v1/approvals', auth({ roles: ['approver', 'admin'] }), rateLimit());
routes.use('/v1/approvals/*', auth(), rateLimit());

// Approval gates land with issue #5.
routes.get('/v1/approvals', () => {
  throw notImplemented('Listing approvals');
});
routes.get('/v1/approvals/:id', () => {
  throw notImplemented('Reading an approval');
});
routes.post('/v1/approvals/:id/decision', () => {
  throw notImplemented('Deciding an approval');
});
routes.get('/approvals', () => {
  throw notImplemented('The approvals page');
});

export const approvalFunction = defineFunction('approval', routes);
