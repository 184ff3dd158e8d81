import * as z from 'zod/mini';
import {
  announceDecision,
  decideApproval,
  decisionSchema,
  getApproval,
  listApprovals,
  listApprovalsQuerySchema,
  notifierFor,
  waitForDecision,
  waitQuerySchema,
} from '../../shared/approvals/index.ts';
import { sealAfterWrites } from '../../shared/audit/ledger-seal.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { auth, requireRole } from '../../shared/middleware/auth/index.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';
import { approvalsPage } from './page.ts';

const routes = routeTable<AppEnv>();
const approvalId = z.uuid({ message: 'must be an approval id (uuid)' });

routes.use('/v1/approvals', auth(), rateLimit());
routes.use('/v1/approvals/*', auth(), rateLimit());
// Decisions (API and page) append to the ledger: wake its sealer once answered.
routes.use('/v1/approvals/*', sealAfterWrites());
routes.use('/approvals/*', sealAfterWrites());

routes.get('/v1/approvals', async (c) => {
  requireRole(c.get('principal'), ['approver', 'admin']);
  const query = listApprovalsQuerySchema.parse(c.req.query());
  return c.json(
    await withPostgres(getSettings(c.env), (client) => listApprovals(client, query, c.get('principal'))),
  );
});

routes.get('/v1/approvals/:id', async (c) => {
  const id = approvalId.parse(c.req.param('id'));
  const { wait } = waitQuerySchema.parse(c.req.query());
  const settings = getSettings(c.env);
  const read = () =>
    withPostgres(settings, (client) => getApproval(client, id, c.get('principal'), settings.APPROVAL_SECRET));
  const view = wait > 0 ? await waitForDecision(settings, id, wait, read, c.req.raw.signal) : await read();
  return c.json(view);
});

routes.post('/v1/approvals/:id/decision', async (c) => {
  requireRole(c.get('principal'), ['approver', 'admin']);
  const id = approvalId.parse(c.req.param('id'));
  const body = await readJson(c, decisionSchema, maxBodyBytes('approval'));
  const trace = c.get('trace');
  const result = await decideApproval(getSettings(c.env), id, body, {
    principal: c.get('principal'),
    correlationId: trace.correlationId,
    traceId: trace.traceId,
  });
  announceDecision(notifierFor(c), result);
  return c.json(result);
});

routes.route('/', approvalsPage);

export const approvalFunction = defineFunction('approval', routes);
