import * as z from 'zod/mini';
import type { Client } from '../db/postgres.ts';
import { lazy } from '../http/lazy.ts';
import { BUDGET_SCOPES } from './budgets.ts';

/**
 * The query of GET /v1/usage. zod/mini, like every schema of the usage function (see
 * config/budget-limits.ts).
 *
 * Made on first use, not at module load: built eagerly it was the largest allocation left in the
 * usage bundle's start-up (~95 KiB of young generation in Node, with zod's first use of its
 * classes), and that start-up left a new isolate's first request to pay a scavenge.
 * The usage route parses with this getter; `usageQuerySchema` wraps the same schema for the
 * OpenAPI document and tests only, and drops out of a bundle: its `z.lazy` is marked pure, as
 * esbuild does not see zod's own annotation on it.
 */
export const usageQuery = lazy(() =>
  z.strictObject({
    scope: z._default(z.enum(BUDGET_SCOPES as ['principal', 'agent', 'role']), 'principal'),
    id: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
    since: z.optional(z.iso.datetime({ offset: true })),
    until: z.optional(z.iso.datetime({ offset: true })),
    group_by: z._default(z.enum(['day', 'model']), 'day'),
  }),
);
export const usageQuerySchema = /* @__PURE__ */ z.lazy(usageQuery);
export type UsageQuery = z.infer<typeof usageQuerySchema>;

interface UsageGroupRow {
  group_key: string;
  requests: string;
  prompt_tokens: string;
  completion_tokens: string;
  cached_tokens: string;
  cost_usd: string | null;
  unpriced: string;
  cache_hits: string;
}

const COLUMN = { principal: 'principal', agent: 'agent_id', role: 'role' } as const;

/** Sums of governance.usage per day or per model for one key, agent or role (or all of them). */
export async function queryUsage(client: Client, q: UsageQuery) {
  const since = q.since ?? new Date(Date.now() - 30 * 86_400_000).toISOString();
  const until = q.until ?? new Date(Date.now() + 60_000).toISOString();
  const group =
    q.group_by === 'day'
      ? "to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')"
      : "provider || '/' || model";
  const values: unknown[] = [since, until];
  let where = 'created_at >= $1 and created_at < $2';
  if (q.id !== undefined) {
    values.push(q.id);
    where += ` and ${COLUMN[q.scope]} = $3`;
  }
  const { rows } = await client.query<UsageGroupRow>(
    `select ${group} as group_key, count(*)::text as requests,
            sum(prompt_tokens)::text as prompt_tokens, sum(completion_tokens)::text as completion_tokens,
            sum(cached_tokens)::text as cached_tokens, sum(cost_usd)::text as cost_usd,
            count(*) filter (where cost_usd is null)::text as unpriced,
            count(*) filter (where cache_hit)::text as cache_hits
       from governance.usage where ${where}
      group by 1 order by 1`,
    values,
  );
  const data = rows.map((r) => ({
    [q.group_by]: r.group_key,
    requests: Number(r.requests),
    prompt_tokens: Number(r.prompt_tokens),
    completion_tokens: Number(r.completion_tokens),
    cached_tokens: Number(r.cached_tokens),
    cost_usd: r.cost_usd === null ? 0 : Number(r.cost_usd),
    unpriced_requests: Number(r.unpriced),
    cache_hits: Number(r.cache_hits),
  }));
  const total = (k: 'requests' | 'prompt_tokens' | 'completion_tokens' | 'cached_tokens' | 'cost_usd') =>
    data.reduce((sum, d) => sum + d[k], 0);
  return {
    object: 'usage',
    scope: q.scope,
    id: q.id ?? null,
    since,
    until,
    group_by: q.group_by,
    data,
    totals: {
      requests: total('requests'),
      prompt_tokens: total('prompt_tokens'),
      completion_tokens: total('completion_tokens'),
      cached_tokens: total('cached_tokens'),
      cost_usd: total('cost_usd'),
    },
  };
}

/** Spend per agent per UTC day, for the admin usage page. */
export async function spendPerAgentPerDay(client: Client, days: number) {
  const { rows } = await client.query<{ agent: string; day: string; cost: string | null; requests: string }>(
    `select coalesce(agent_id, principal) as agent, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day,
            sum(cost_usd)::text as cost, count(*)::text as requests
       from governance.usage where created_at >= now() - make_interval(days => $1)
      group by 1, 2 order by 2 desc, 1`,
    [days],
  );
  return rows.map((r) => ({
    agent: r.agent,
    day: r.day,
    cost_usd: Number(r.cost ?? 0),
    requests: Number(r.requests),
  }));
}
