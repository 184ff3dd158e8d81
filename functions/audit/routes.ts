import * as z from 'zod/mini';
import {
  getAction,
  listActions,
  listQuerySchema,
  MAX_BATCH_ACTIONS,
  recordAction,
  recordActionSchema,
  recordActions,
  recordBatchSchema,
  requestContext,
  updateActionSchema,
  updateActionStatus,
} from '../../shared/audit/actions.ts';
import { sealAfterWrites } from '../../shared/audit/ledger-seal.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError } from '../../shared/errors/index.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { auth, requireRole } from '../../shared/middleware/auth/index.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { ledgerRoutes } from './ledger-routes.ts';

const routes = routeTable<AppEnv>();
const actionId = z.uuid({ message: 'must be an action id (uuid)' });
const batchEnvelope = z.looseObject({ actions: z.array(z.unknown()) });

// Every write wakes the ledger's sealer once it has answered.
routes.use('/v1/audit/*', auth(), rateLimit(), sealAfterWrites());

/** ACTION_AUDIT_ENABLED=false refuses writes loudly rather than dropping them. */
function assertAuditEnabled(env: AppEnv['Bindings']): void {
  if (!getSettings(env).ACTION_AUDIT_ENABLED) {
    throw new AppError(
      503,
      'audit_disabled',
      'Audit writes are disabled (ACTION_AUDIT_ENABLED=false); nothing was recorded.',
    );
  }
}

routes.post('/v1/audit/actions', async (c) => {
  requireRole(c.get('principal'), ['agent', 'admin']);
  assertAuditEnabled(c.env);
  const body = await readJson(c, recordActionSchema, maxBodyBytes('audit'));
  const result = await withPostgres(getSettings(c.env), (client) =>
    recordAction(client, body, requestContext(c)),
  );
  return c.json(result, 201);
});

// Many actions, all or none, in one statement (Hono reads ':' as a parameter only at the start of
// a segment). The count is checked before the items, so 501 actions are refused as such.
routes.post('/v1/audit/actions:batch', async (c) => {
  requireRole(c.get('principal'), ['agent', 'admin']);
  assertAuditEnabled(c.env);
  const body = await readJson(c, batchEnvelope, maxBodyBytes('audit_batch'));
  if (body.actions.length > MAX_BATCH_ACTIONS) {
    throw new AppError(
      413,
      'batch_too_large',
      `A batch holds at most ${MAX_BATCH_ACTIONS} actions; this one has ${body.actions.length}. Nothing was recorded.`,
      { param: 'actions' },
    );
  }
  const { actions } = recordBatchSchema.parse(body);
  const result = await withPostgres(getSettings(c.env), (client) =>
    recordActions(client, actions, requestContext(c)),
  );
  return c.json(result, 201);
});

routes.patch('/v1/audit/actions/:id', async (c) => {
  requireRole(c.get('principal'), ['agent', 'admin']);
  assertAuditEnabled(c.env);
  const id = actionId.parse(c.req.param('id'));
  const body = await readJson(c, updateActionSchema, maxBodyBytes('audit'));
  const result = await withPostgres(getSettings(c.env), (client) =>
    updateActionStatus(client, id, body, requestContext(c)),
  );
  return c.json(result);
});

routes.get('/v1/audit/actions', async (c) => {
  const query = listQuerySchema.parse(c.req.query());
  return c.json(
    await withPostgres(getSettings(c.env), (client) => listActions(client, query, c.get('principal'))),
  );
});

routes.get('/v1/audit/actions/:id', async (c) => {
  const id = actionId.parse(c.req.param('id'));
  return c.json(
    await withPostgres(getSettings(c.env), (client) => getAction(client, id, c.get('principal'))),
  );
});

routes.route('/', ledgerRoutes);

export const auditFunction = defineFunction('audit', routes);
