import { gatewayConfig } from '../config/index.ts';
import type { BudgetLimits } from '../config/schema.ts';
import { type Client, withPostgres } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { lazy } from '../http/lazy.ts';
import { boundedCache } from '../http/lru.ts';

/** Who a budget belongs to: an API key's principal, an agent id, or a model role. */
export type BudgetScope = 'principal' | 'agent' | 'role';
export const BUDGET_SCOPES: readonly BudgetScope[] = ['principal', 'agent', 'role'];

export interface Budget {
  scope: BudgetScope;
  id: string;
  limits: BudgetLimits;
  /** `set`: a row of governance.budgets; `default`: config/gateway.yaml. */
  source: 'set' | 'default';
}

export interface BudgetRow {
  scope: BudgetScope;
  id: string;
  daily_usd: string | number | null;
  monthly_usd: string | number | null;
  tpm: string | number | null;
  rpm: string | number | null;
  updated_at: string | Date;
  updated_by: string | null;
}

const num = (v: string | number | null | undefined): number | null =>
  v === null || v === undefined ? null : Number(v);

export function limitsOfRow(row: BudgetRow): BudgetLimits {
  return {
    daily_usd: num(row.daily_usd),
    monthly_usd: num(row.monthly_usd),
    tpm: num(row.tpm),
    rpm: num(row.rpm),
  };
}

export const hasLimit = (l: BudgetLimits) =>
  l.daily_usd != null || l.monthly_usd != null || l.tpm != null || l.rpm != null;

// Per isolate: budgets change rarely and a request must not wait on Postgres for them. Entries
// are trusted `cache_seconds`; a stale entry is still used (and logged) when Postgres is down. One
// cache per scope, keyed by the id itself: a key string built per subject and request
// (`scope\0id`) was a new string to hash on every look-up.
type Cached = { limits: BudgetLimits | null; at: number; refreshing?: boolean };
const caches = lazy(
  (): Record<BudgetScope, ReturnType<typeof boundedCache<string, Cached>>> => ({
    principal: boundedCache(10_000),
    agent: boundedCache(10_000),
    role: boundedCache(10_000),
  }),
);

type Subject = { scope: BudgetScope; id: string };

/**
 * The budgets that apply to one call: the key's, the agent's and the role's, each the row set for
 * it or else the configured default. Only scopes with at least one limit are returned.
 *
 * Answered from the per-isolate cache, without a promise, when every subject is cached: an entry
 * under `cache_seconds` old as is; with `background` (the request's `waitUntil`), an entry past
 * that but under twice that old is answered too while one re-read of it runs in the background
 * (stale-while-revalidate, one re-read in flight per entry), so the request that finds it expired
 * no longer waits on Postgres for it. A subject not cached, or cached longer ago than twice
 * `cache_seconds` (an isolate that sat idle), is read before answering, as is any stale entry
 * without `background`. A failed read keeps the entries it was to replace (and says so through
 * `onStale`).
 */
export function budgetsFor(
  settings: Settings,
  subjects: ReadonlyArray<Subject>,
  onStale: (err: unknown) => void = () => undefined,
  background?: (work: Promise<unknown>) => void,
): Budget[] | Promise<Budget[]> {
  const now = Date.now();
  const ttl = gatewayConfig.budgets.cache_seconds * 1000;
  const cache = caches();
  // One cache read per subject (a key without a budget is cached as `null` like any other answer).
  const known: Array<BudgetLimits | null | undefined> = new Array(subjects.length);
  // Indices into `subjects`: entries to read before answering, and stale ones to re-read after.
  let missing: number[] | undefined;
  let stale: Cached[] | undefined;
  let staleAt: number[] | undefined;
  for (let i = 0; i < subjects.length; i++) {
    const s = subjects[i]!;
    const hit = cache[s.scope].get(s.id);
    known[i] = hit?.limits;
    if (hit && now - hit.at < ttl) continue;
    if (hit && background && now - hit.at < 2 * ttl) {
      if (hit.refreshing) continue;
      stale ??= [];
      staleAt ??= [];
      stale.push(hit);
      staleAt.push(i);
    } else {
      missing ??= [];
      missing.push(i);
    }
  }
  if (!settings.DATABASE_URL) return answer(subjects, known);
  if (missing) {
    // Read before answering anyway: the stale entries go in the same query.
    const at = staleAt ? missing.concat(staleAt) : missing;
    return readInto(settings, subjects, at, now, known).then(
      () => answer(subjects, known),
      (err) => {
        onStale(err);
        return answer(subjects, known);
      },
    );
  }
  if (staleAt && background) {
    for (const hit of stale ?? []) hit.refreshing = true;
    background(
      readInto(settings, subjects, staleAt, now, []).catch((err) => {
        for (const hit of stale ?? []) hit.refreshing = false;
        onStale(err);
      }),
    );
  }
  return answer(subjects, known);
}

/** Reads the budgets of `subjects[at]` from Postgres into the cache and into `known`. */
async function readInto(
  settings: Settings,
  subjects: ReadonlyArray<Subject>,
  at: number[],
  now: number,
  known: Array<BudgetLimits | null | undefined>,
): Promise<void> {
  const asked = at.map((i) => subjects[i]!);
  const rows = await withPostgres(settings, (client) => readBudgets(client, asked), {
    connectTimeoutMs: 2000,
  });
  const cache = caches();
  for (const i of at) {
    const s = subjects[i]!;
    const row = rows.find((r) => r.scope === s.scope && r.id === s.id);
    const limits = row ? limitsOfRow(row) : null;
    cache[s.scope].set(s.id, { limits, at: now });
    known[i] = limits;
  }
}

function answer(subjects: ReadonlyArray<Subject>, known: Array<BudgetLimits | null | undefined>): Budget[] {
  const out: Budget[] = [];
  for (let i = 0; i < subjects.length; i++) {
    const s = subjects[i]!;
    const set = known[i];
    const limits = set ?? gatewayConfig.budgets.defaults[s.scope];
    if (hasLimit(limits)) out.push({ scope: s.scope, id: s.id, limits, source: set ? 'set' : 'default' });
  }
  return out;
}

/** Forget cached budgets (after an admin change in this isolate, and in tests). */
export function forgetBudgets(scope?: BudgetScope, id?: string): void {
  const cache = caches();
  if (scope && id) cache[scope].delete(id);
  else for (const c of Object.values(cache)) c.clear();
}

async function readBudgets(client: Client, subjects: Subject[]) {
  const { rows } = await client.query<BudgetRow>(
    `select scope, id, daily_usd, monthly_usd, tpm, rpm, updated_at, updated_by
       from governance.budgets b
      where (b.scope, b.id) in (select * from unnest($1::text[], $2::text[]))`,
    [subjects.map((s) => s.scope), subjects.map((s) => s.id)],
  );
  return rows;
}

export async function listBudgets(client: Client): Promise<BudgetRow[]> {
  const { rows } = await client.query<BudgetRow>(
    'select scope, id, daily_usd, monthly_usd, tpm, rpm, updated_at, updated_by from governance.budgets order by scope, id',
  );
  return rows;
}

/** Sets (upserts) a budget; a limit given as null is removed. */
export async function putBudget(
  client: Client,
  scope: BudgetScope,
  id: string,
  limits: BudgetLimits,
  by: string,
): Promise<BudgetRow> {
  const { rows } = await client.query<BudgetRow>(
    `insert into governance.budgets (scope, id, daily_usd, monthly_usd, tpm, rpm, updated_at, updated_by)
     values ($1, $2, $3, $4, $5, $6, now(), $7)
     on conflict (scope, id) do update set daily_usd = excluded.daily_usd, monthly_usd = excluded.monthly_usd,
       tpm = excluded.tpm, rpm = excluded.rpm, updated_at = now(), updated_by = excluded.updated_by
     returning scope, id, daily_usd, monthly_usd, tpm, rpm, updated_at, updated_by`,
    [
      scope,
      id,
      limits.daily_usd ?? null,
      limits.monthly_usd ?? null,
      limits.tpm ?? null,
      limits.rpm ?? null,
      by,
    ],
  );
  forgetBudgets(scope, id);
  return rows[0] as BudgetRow;
}

export async function deleteBudget(client: Client, scope: BudgetScope, id: string): Promise<boolean> {
  const { rowCount } = await client.query('delete from governance.budgets where scope = $1 and id = $2', [
    scope,
    id,
  ]);
  forgetBudgets(scope, id);
  return (rowCount ?? 0) > 0;
}

/** Spend Postgres knows for a scope since `since` (nano-USD): what a lost Redis counter restarts from. */
export async function spentSince(
  client: Client,
  scope: BudgetScope,
  id: string,
  since: Date,
): Promise<number> {
  const column = scope === 'principal' ? 'principal' : scope === 'agent' ? 'agent_id' : 'role';
  const { rows } = await client.query<{ nano: string | null }>(
    `select ceil(coalesce(sum(cost_usd), 0) * 1000000000)::text as nano
       from governance.usage where ${column} = $1 and created_at >= $2`,
    [id, since.toISOString()],
  );
  return Number(rows[0]?.nano ?? 0);
}

/** How budgets are enforced here, for /ready: shared through Redis, or per isolate (approximate). */
export function budgetEnforcement(redisConfigured: boolean): { enforcement: string; note?: string } {
  return redisConfigured
    ? { enforcement: 'shared' }
    : {
        enforcement: 'per_isolate',
        note: 'approximate: without Redis each isolate enforces the whole budget on its own (set UPSTASH_REDIS_REST_URL)',
      };
}
