/** Operations of the usage function (cost, budgets): appended to OPERATIONS by openapi-operations.ts. */
import * as z from 'zod';
import { budgetBodySchema } from '../functions/usage/routes.ts';
import { budgetLimitsShape } from '../shared/config/budget-limits.ts';
import { usageQuerySchema } from '../shared/governance/usage-query.ts';
import type { Operation } from './openapi-operations.ts';

const scope = z.enum(['principal', 'agent', 'role']);
// The body schema is zod/mini (the usage function's) and lazy: its fields, made by the same
// function, extend into a classic object.
const budget = z.strictObject({
  ...budgetLimitsShape(),
  object: z.literal('budget'),
  scope,
  id: z.string(),
  updated_at: z.string(),
  updated_by: z.string().nullable(),
});
const usageGroup = z.looseObject({
  requests: z.number(),
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  cached_tokens: z.number(),
  cost_usd: z.number(),
  unpriced_requests: z.number(),
  cache_hits: z.number(),
});

export const USAGE_OPERATIONS: Operation[] = [
  {
    id: 'getUsage',
    method: 'get',
    path: '/v1/usage',
    tag: 'usage',
    summary: 'Spend and tokens per day or model, for a key, an agent or a role',
    description: 'Admins read any scope; any other key reads only its own (`scope=principal`).',
    auth: true,
    query: usageQuerySchema,
    responses: {
      200: {
        description: 'Sums of the usage rows.',
        schema: z.object({
          object: z.literal('usage'),
          data: z.array(usageGroup),
          totals: z.looseObject({ requests: z.number(), cost_usd: z.number() }),
        }),
      },
    },
    errors: [400, 401, 403, 429, 503],
  },
  {
    id: 'listBudgets',
    method: 'get',
    path: '/v1/admin/budgets',
    tag: 'usage',
    summary: 'Every budget set, and the configured defaults',
    auth: ['admin'],
    responses: { 200: { description: 'Budgets.', schema: z.object({ data: z.array(budget) }) } },
    errors: [401, 403, 429, 503],
  },
  ...(['get', 'put', 'delete'] as const).map(
    (method): Operation => ({
      id: `${method}Budget`,
      method,
      path: '/v1/admin/budgets/{scope}/{id}',
      tag: 'usage',
      summary:
        method === 'put'
          ? 'Sets the USD-per-day/month, tokens- and requests-per-minute limits of a key, agent or role'
          : method === 'get'
            ? 'One budget'
            : 'Removes a budget (the defaults apply again)',
      auth: ['admin'],
      pathParams: { scope, id: z.string() },
      ...(method === 'put' ? { body: budgetBodySchema } : {}),
      responses:
        method === 'delete'
          ? { 204: { description: 'Removed.' } }
          : { 200: { description: 'The budget.', schema: budget } },
      errors: [400, 401, 403, 404, 429, 503],
    }),
  ),
];
