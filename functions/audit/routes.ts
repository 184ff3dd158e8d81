import { type Context, Hono } from 'hono';
import * as z from 'zod';
import { sendApprovalWebhook } from '../../shared/approvals/notify.ts';
import {
  getAction,
  listActions,
  listQuerySchema,
  type RequestContext,
  recordAction,
  recordActionSchema,
  updateActionSchema,
  updateActionStatus,
} from '../../shared/audit/actions.ts';
import { verifyLedger } from '../../shared/audit/ledger.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError } from '../../shared/errors/index.ts';
import { runInBackground } from '../../shared/http/background.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { auth, requireRole } from '../../shared/middleware/auth/index.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

const routes = new Hono<AppEnv>();
const actionId = z.uuid({ message: 'must be an action id (uuid)' });

routes.use('/v1/audit/*', auth(), rateLimit());

function context(c: Context<AppEnv>): RequestContext {
  const trace = c.get('trace');
  return {
    principal: c.get('principal'),
    correlationId: trace.correlationId,
    traceId: trace.traceId,
    approvalsEnabled: getSettings(c.env).APPROVAL_REQUIRED,
    receiptSecret: getSettings(c.env).APPROVAL_SECRET,
  };
}

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
  const settings = getSettings(c.env);
  const result = await withPostgres(settings, (client) => recordAction(client, body, context(c)));
  if (result.approval) {
    const approval = {
      ...result.approval,
      action_id: result.action_id,
      status: 'pending',
      agent_id: body.agent_id,
      action_type: body.action_type,
      category: body.category,
    };
    runInBackground(
      c,
      sendApprovalWebhook(settings, { type: 'approval.pending', approval }, c.get('log'), c.get('trace')),
    );
  }
  const { seq: _seq, ...response } = result;
  return c.json(response, 201);
});

routes.patch('/v1/audit/actions/:id', async (c) => {
  requireRole(c.get('principal'), ['agent', 'admin']);
  assertAuditEnabled(c.env);
  const id = actionId.parse(c.req.param('id'));
  const body = await readJson(c, updateActionSchema, maxBodyBytes('audit'));
  const result = await withPostgres(getSettings(c.env), (client) =>
    updateActionStatus(client, id, body, context(c)),
  );
  const { seq: _seq, ...response } = result;
  return c.json(response);
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

routes.get('/v1/audit/verify', async (c) => {
  requireRole(c.get('principal'), ['approver', 'admin']);
  return c.json(await withPostgres(getSettings(c.env), (client) => verifyLedger(client)));
});

export const auditFunction = defineFunction('audit', routes);
