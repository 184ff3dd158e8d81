import * as z from 'zod/mini';
import { budgetLimits, budgetLimitsSchema } from '../../shared/config/budget-limits.ts';
import { gatewayConfig } from '../../shared/config/index.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { AppError, notFound } from '../../shared/errors/index.ts';
import {
  BUDGET_SCOPES,
  type BudgetRow,
  deleteBudget,
  limitsOfRow,
  listBudgets,
  putBudget,
} from '../../shared/governance/budgets.ts';
import { queryUsage, usageQuery } from '../../shared/governance/usage-query.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { lazy } from '../../shared/http/lazy.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { guard } from '../../shared/middleware/guard.ts';
import { maxBodyBytes, readJson } from '../../shared/middleware/json-body/index.ts';

const routes = routeTable<AppEnv>();

routes.use('/v1/usage', guard());
routes.use('/v1/admin/budgets', guard({ roles: ['admin'] }));
routes.use('/v1/admin/budgets/*', guard({ roles: ['admin'] }));

// Made on the first budget route's request, not at module load (isolate start): most requests
// of a new isolate are not these.
const scopeParam = lazy(() => z.enum(BUDGET_SCOPES as ['principal', 'agent', 'role']));
const idParam = lazy(() =>
  z.string().check(z.minLength(1), z.maxLength(200), z.regex(/^[^\u0000-\u001f]+$/, 'no control characters')),
);
/** The PUT body, for the OpenAPI document; the route parses with `budgetLimits()` (no `z.lazy` at load). */
export const budgetBodySchema = budgetLimitsSchema;

function parseParam<T>(schema: z.ZodMiniType<T>, value: string | undefined, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError(400, 'invalid_request', `Invalid ${name}.`, { param: name });
  return parsed.data;
}

const budgetJson = (row: BudgetRow) => ({
  object: 'budget',
  scope: row.scope,
  id: row.id,
  ...limitsOfRow(row),
  updated_at: new Date(row.updated_at).toISOString(),
  updated_by: row.updated_by,
});

/** Admins read anyone's usage; any other principal only its own key's. */
routes.get('/v1/usage', async (c) => {
  const parsed = usageQuery().safeParse(c.req.query());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(400, 'invalid_request', `Invalid query: ${issue?.message ?? 'bad value'}.`, {
      param: String(issue?.path[0] ?? ''),
    });
  }
  const query = parsed.data;
  const principal = c.get('principal');
  if (principal.role !== 'admin') {
    if (query.scope !== 'principal' || (query.id !== undefined && query.id !== principal.id)) {
      throw new AppError(403, 'forbidden', 'Only admins may read usage other than their own key’s.');
    }
    query.id = principal.id;
  }
  return c.json(await withPostgres(getSettings(c.env), (client) => queryUsage(client, query)));
});

routes.get('/v1/admin/budgets', async (c) => {
  const rows = await withPostgres(getSettings(c.env), (client) => listBudgets(client));
  return c.json({ object: 'list', data: rows.map(budgetJson), defaults: gatewayConfig.budgets.defaults });
});

routes.get('/v1/admin/budgets/:scope/:id', async (c) => {
  const scope = parseParam(scopeParam(), c.req.param('scope'), 'scope');
  const id = parseParam(idParam(), c.req.param('id'), 'id');
  const rows = await withPostgres(getSettings(c.env), (client) => listBudgets(client));
  const row = rows.find((r) => r.scope === scope && r.id === id);
  if (!row) throw notFound(`No budget is set for ${scope} '${id}'.`, 'budget_not_found');
  return c.json(budgetJson(row));
});

routes.put('/v1/admin/budgets/:scope/:id', async (c) => {
  const scope = parseParam(scopeParam(), c.req.param('scope'), 'scope');
  const id = parseParam(idParam(), c.req.param('id'), 'id');
  const body = await readJson(c, budgetLimits(), maxBodyBytes('default'));
  const row = await withPostgres(getSettings(c.env), (client) =>
    putBudget(client, scope, id, body, c.get('principal').id),
  );
  return c.json(budgetJson(row));
});

routes.delete('/v1/admin/budgets/:scope/:id', async (c) => {
  const scope = parseParam(scopeParam(), c.req.param('scope'), 'scope');
  const id = parseParam(idParam(), c.req.param('id'), 'id');
  const deleted = await withPostgres(getSettings(c.env), (client) => deleteBudget(client, scope, id));
  if (!deleted) throw notFound(`No budget is set for ${scope} '${id}'.`, 'budget_not_found');
  return c.body(null, 204);
});

export const usageFunction = defineFunction('usage', routes);
