import type { Context } from 'hono';
import { actingAgent } from '../audit/identity.ts';
import { PRINCIPAL_ID } from '../auth/api-keys.ts';
import { gatewayConfig } from '../config/index.ts';
import { withPostgres } from '../db/postgres.ts';
import { getSettings, type Settings } from '../env.ts';
import { AppError } from '../errors/index.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import type { ResolvedModel, ResolvedTarget } from '../llm/registry.ts';
import {
  llmBudgetRejectionsTotal,
  llmBudgetUtilization,
  llmCostUsdTotal,
  llmUnpricedRequestsTotal,
} from '../metrics/registry.ts';
import { CounterSeries } from '../metrics/series.ts';
import { openaiDuration } from '../middleware/rate-limit/index.ts';
import { redisIsDown } from '../redis/client.ts';
import { UpstashRedis as Redis } from '../redis/upstash-rest.ts';
import { type Budget, type BudgetScope, budgetsFor, spentSince } from './budgets.ts';
import { costUsd, formatUsd, type TokenCounts, tokenCounts, toNanoUsd } from './pricing.ts';
import {
  type LimitCheck,
  type LimitKind,
  localReservations,
  type Reservations,
  redisReservations,
} from './reservations.ts';
import { recordUsage } from './usage-writer.ts';

export type Endpoint = 'chat' | 'responses' | 'messages' | 'completions' | 'embeddings';

export interface SpendRequest {
  endpoint: Endpoint;
  target: ResolvedTarget;
  /**
   * Estimated prompt tokens (estimatePromptTokens), or how to estimate them: a function is called
   * only when a budget applies, so a key without budgets does not serialise its prompt to count it.
   */
  promptTokens: number | (() => number);
  /** What the caller allows the model to write; the configured default when absent. */
  maxOutputTokens?: number | undefined;
}

/** The spend of one call: reserved before the upstream call, settled after it. */
export interface Spend {
  /** Prices the answer, settles the reservation and queues the usage row. Returns the cost. */
  settle(model: ResolvedModel, usage: unknown, options?: { cacheHit?: boolean }): number | null;
  /** The call failed before any usage: give the reservation back (the request still counts). */
  release(): void;
}

const local = localReservations();
const shared = new Map<string, Reservations>();
/** Budgets are worth a longer wait than a cache hint: a slow answer is not taken as "no Redis". */
const BUDGET_COMMAND_TIMEOUT_MS = 5000;

/**
 * Where budgets are counted: Redis when configured (its own client, with a longer deadline than
 * the hint-grade callers'), per isolate only when no Redis is configured at all. A configured
 * Redis that is down or fails is never replaced by per-isolate counting, which would let every
 * isolate spend the whole budget again: budgeted calls then get 503 (fail closed).
 */
export function budgetReservations(settings: Settings): Reservations {
  const url = settings.UPSTASH_REDIS_REST_URL;
  const token = settings.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) return local;
  let store = shared.get(url);
  if (!store) {
    store = redisReservations(
      new Redis({
        url,
        token,
        retry: { retries: 1, backoff: () => 50 },
        timeoutMs: BUDGET_COMMAND_TIMEOUT_MS,
      }),
    );
    shared.set(url, store);
  }
  return store;
}

/**
 * A reservation id, which is also the usage row's idempotency key: unique across isolates (a
 * random UUID made once per isolate) and within one (a counter), not secret. A random UUID per
 * call (16 pooled random bytes formatted) took ~1 µs in workerd; this takes ~0.05.
 */
let spendIdPrefix: string | undefined;
let spendIdCount = 0;
export function newSpendId(): string {
  spendIdPrefix ??= crypto.randomUUID();
  return `${spendIdPrefix}.${(spendIdCount++).toString(36)}`;
}

const budgetsUnavailable = (cause: unknown) =>
  new AppError(
    503,
    'budget_unavailable',
    'Budgets cannot be checked right now (Redis is unavailable); retry shortly.',
    {
      headers: { 'retry-after': '1' },
      cause,
    },
  );

/**
 * The rough token count of a request body: UTF-8 bytes of its text / 3, rounded up. Tokenisers
 * give ~4 bytes per token for English; dividing by 3 over-reserves a little, which a settled
 * reservation gives back, rather than letting a budget be overshot.
 */
export function estimatePromptTokens(parts: unknown): number {
  const text = typeof parts === 'string' ? parts : JSON.stringify(parts ?? '');
  return Math.ceil(utf8Length(text) / 3);
}

const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * UTF-8 bytes of a string without encoding it: a new TextEncoder and its output per request
 * were ~2 % of the isolate's time per chat request on workerd. ASCII (most prompts) is its length.
 */
export function utf8Length(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      // A surrogate pair is one code point of 4 bytes; a lone surrogate encodes as U+FFFD (3).
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * The agent a call is made for: `x-mas-agent-id` when sent (bound to the key like an audit
 * record's agent_id: the key's own id, an agent bound to it, or any for admins; else 403
 * `agent_mismatch`), otherwise the key's principal. Its budget is the `agent` scope.
 */
export function agentIdOf(c: Context<AppEnv>): string | undefined {
  const header = c.req.header('x-mas-agent-id');
  const principal = c.get('principal');
  if (header === undefined || !principal) return principal?.id;
  if (!PRINCIPAL_ID.test(header)) {
    throw new AppError(400, 'invalid_header', 'x-mas-agent-id must be 1-64 of A-Z a-z 0-9 . _ @ -.', {
      param: 'x-mas-agent-id',
    });
  }
  return actingAgent(principal, header, 'x-mas-agent-id');
}

/**
 * Reserves the request's worst case on every budget that applies (key, agent, role), atomically,
 * before anything is sent upstream. Over budget: 429 `insufficient_quota` naming the scope and
 * when it resets.
 */
export async function beginSpend(c: Context<AppEnv>, request: SpendRequest): Promise<Spend> {
  const principal = c.get('principal');
  const agentId = agentIdOf(c);
  const role = request.target.role;
  const settings = getSettings(c.env);
  const log = c.get('log');
  const subjects: Array<{ scope: BudgetScope; id: string }> = [];
  if (principal) subjects.push({ scope: 'principal', id: principal.id });
  if (agentId) subjects.push({ scope: 'agent', id: agentId });
  subjects.push({ scope: 'role', id: role });
  // Cached budgets come back without a promise (the common case), so nothing is awaited for them;
  // an expired entry is re-read in the background, held by this request's waitUntil.
  const found = budgetsFor(
    settings,
    subjects,
    (err) => log.warn('budgets: Postgres unavailable, using the budgets last read', { error: err as Error }),
    (work) => runInBackground(c, work),
  );
  const budgets = Array.isArray(found) ? found : await found;

  // Most keys have no budget: then there is nothing to price, reserve or settle.
  const checks: LimitCheck[] = [];
  const now = Date.now();
  if (budgets.length) {
    const maxOut = request.maxOutputTokens ?? gatewayConfig.budgets.default_max_output_tokens;
    const prompt = typeof request.promptTokens === 'function' ? request.promptTokens() : request.promptTokens;
    const worst: TokenCounts = { prompt, completion: maxOut, cached: 0 };
    const worstNano = Math.max(
      0,
      ...request.target.chain.map((m) => toNanoUsd(costUsd(m.model.price, worst) ?? 0)),
    );
    const period = periodOf(now);
    for (const b of budgets) checks.push(...checksFor(b, period, worstNano, worst.prompt + worst.completion));
  }
  const rid = newSpendId();
  const store = checks.length ? budgetReservations(settings) : local;
  if (checks.length) {
    if (store !== local && redisIsDown(settings)) throw budgetsUnavailable(undefined);
    const expiresAt = now + gatewayConfig.budgets.reservation_ttl_seconds * 1000;
    let outcome: Awaited<ReturnType<Reservations['reserve']>> | undefined;
    for (let round = 0; round < 4 && outcome?.status !== 'ok' && outcome?.status !== 'over'; round++) {
      try {
        outcome = await store.reserve(rid, checks, expiresAt);
      } catch (err) {
        log.warn('budgets: Redis unavailable, refusing budgeted calls', { error: err as Error });
        throw budgetsUnavailable(err);
      }
      if (outcome.status === 'rebuild') {
        // Redis lost this dollar counter: restart it from the spend Postgres recorded.
        const check = outcome.check;
        const spent = await withPostgres(settings, (client) =>
          spentSince(client, check.scope as BudgetScope, check.id, periodStart(check.kind, now)),
        );
        await store.seed(check, spent);
        log.info('budgets: counter rebuilt from Postgres', { scope: check.scope, kind: check.kind });
      }
    }
    if (outcome?.status === 'over') {
      llmBudgetRejectionsTotal.inc({ scope: outcome.check.scope, kind: outcome.check.kind });
      throw overBudget(outcome.check);
    }
    if (outcome?.status === 'ok') {
      checks.forEach((ch, i) => {
        const used = outcome.used[i];
        if (used !== undefined && ch.limit > 0)
          llmBudgetUtilization.observe({ scope: ch.scope, kind: ch.kind }, (used + ch.amount) / ch.limit);
      });
      setTokenLimitHeaders(c, checks, outcome.used, now);
    }
    if (outcome?.status !== 'ok')
      throw new AppError(503, 'budget_unavailable', 'Budgets could not be checked.');
  }

  let settled = false;
  const finish = (actual: number[]) => {
    if (settled) return;
    settled = true;
    runInBackground(
      c,
      store
        .settle(rid, checks, actual)
        .catch((err) => log.warn('budgets: settle failed', { error: err as Error })),
    );
  };
  return {
    settle(model, usage, options = {}) {
      const tokens = tokenCounts(usage);
      const cost = options.cacheHit ? 0 : costUsd(model.model.price, tokens);
      if (cost === null) costSeries(model, role).unpriced.inc();
      else if (cost > 0) costSeries(model, role).cost.inc(cost);
      if (checks.length) {
        const spentTokens = options.cacheHit ? 0 : tokens.prompt + tokens.completion;
        finish(checks.map((ch) => actualFor(ch.kind, cost ?? 0, spentTokens)));
      }
      if (principal) {
        recordUsage(c, {
          idempotency_key: rid,
          principal: principal.id,
          agent_id: agentId ?? null,
          role,
          endpoint: request.endpoint,
          provider: model.providerId,
          model: model.model.id,
          prompt_tokens: tokens.prompt,
          completion_tokens: tokens.completion,
          cached_tokens: tokens.cached,
          cost_usd: cost,
          cache_hit: options.cacheHit === true,
          correlation_id: c.get('trace')?.correlationId ?? null,
        });
      }
      return cost;
    },
    release() {
      if (checks.length) finish(checks.map((ch) => actualFor(ch.kind, 0, 0)));
    },
  };
}

/**
 * `llm_cost_usd_total` and `llm_unpriced_requests_total` of a model in a role, found once per
 * registry model entry and role and then counted in place (series.ts), as the router's call
 * metrics are (shared/llm/call-metrics.ts): prom-client's `inc` hashed and copied a labels object
 * built per priced request.
 */
const costSeriesByModel = new WeakMap<
  object,
  Map<string, { cost: CounterSeries; unpriced: CounterSeries }>
>();
function costSeries(model: ResolvedModel, role: string): { cost: CounterSeries; unpriced: CounterSeries } {
  let roles = costSeriesByModel.get(model.model);
  if (!roles) {
    roles = new Map();
    costSeriesByModel.set(model.model, roles);
  }
  let s = roles.get(role);
  if (!s) {
    const labels = { provider: model.providerId, model: model.model.id, role };
    s = {
      cost: new CounterSeries(llmCostUsdTotal, labels),
      unpriced: new CounterSeries(llmUnpricedRequestsTotal, labels),
    };
    roles.set(role, s);
  }
  return s;
}

/**
 * OpenAI's `x-ratelimit-*-tokens` where a tokens-per-minute budget applies: the tightest one
 * (key, agent or role), its remaining tokens counting this request's worst-case reservation.
 */
function setTokenLimitHeaders(c: Context, checks: LimitCheck[], used: number[], now: number): void {
  let tightest: { limit: number; remaining: number; resetAt: number } | undefined;
  checks.forEach((ch, i) => {
    if (ch.kind !== 'tpm' || used[i] === undefined) return;
    const remaining = Math.max(0, ch.limit - used[i]! - ch.amount);
    if (!tightest || remaining < tightest.remaining)
      tightest = { limit: ch.limit, remaining, resetAt: ch.resetAt };
  });
  if (!tightest) return;
  c.header('x-ratelimit-limit-tokens', String(tightest.limit));
  c.header('x-ratelimit-remaining-tokens', String(tightest.remaining));
  c.header('x-ratelimit-reset-tokens', openaiDuration(Math.max(0, tightest.resetAt - now)));
}

/** `x-mas-cost-usd` on a non-streamed answer (absent when the model has no price). */
export function setCostHeader(c: Context, cost: number | null): void {
  if (cost !== null) c.header('x-mas-cost-usd', formatUsd(cost));
}

function actualFor(kind: LimitKind, costUsdValue: number, tokens: number): number {
  if (kind === 'rpm') return 1;
  if (kind === 'tpm') return tokens;
  return toNanoUsd(costUsdValue);
}

/** The periods a request falls in, worked out once for all its budgets (up to three). */
interface Period {
  day: string;
  month: string;
  minute: number;
  ends: Record<LimitKind, number>;
}

function periodOf(now: number): Period {
  const day = new Date(now).toISOString().slice(0, 10);
  const minuteEnd = periodEnd('tpm', now);
  return {
    day,
    month: day.slice(0, 7),
    minute: Math.floor(now / 60_000),
    ends: {
      daily_usd: periodEnd('daily_usd', now),
      monthly_usd: periodEnd('monthly_usd', now),
      tpm: minuteEnd,
      rpm: minuteEnd,
    },
  };
}

function checksFor(budget: Budget, period: Period, worstNano: number, worstTokens: number): LimitCheck[] {
  const base = `mas:budget:${budget.scope}:${encodeURIComponent(budget.id)}`;
  const { day, month, minute, ends } = period;
  const out: LimitCheck[] = [];
  const { daily_usd, monthly_usd, tpm, rpm } = budget.limits;
  const common = { scope: budget.scope, id: budget.id };
  if (daily_usd != null)
    out.push({
      ...common,
      key: `${base}:usd:d:${day}`,
      kind: 'daily_usd',
      limit: toNanoUsd(daily_usd),
      amount: worstNano,
      resetAt: ends.daily_usd,
      rebuildable: true,
    });
  if (monthly_usd != null)
    out.push({
      ...common,
      key: `${base}:usd:m:${month}`,
      kind: 'monthly_usd',
      limit: toNanoUsd(monthly_usd),
      amount: worstNano,
      resetAt: ends.monthly_usd,
      rebuildable: true,
    });
  if (tpm != null)
    out.push({
      ...common,
      key: `${base}:tok:${minute}`,
      kind: 'tpm',
      limit: tpm,
      amount: worstTokens,
      resetAt: ends.tpm,
      rebuildable: false,
    });
  if (rpm != null)
    out.push({
      ...common,
      key: `${base}:req:${minute}`,
      kind: 'rpm',
      limit: rpm,
      amount: 1,
      resetAt: ends.rpm,
      rebuildable: false,
    });
  return out;
}

function periodStart(kind: LimitKind, now: number): Date {
  const d = new Date(now);
  if (kind === 'daily_usd') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  if (kind === 'monthly_usd') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  return new Date(Math.floor(now / 60_000) * 60_000);
}

function periodEnd(kind: LimitKind, now: number): number {
  const d = new Date(now);
  if (kind === 'daily_usd') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  if (kind === 'monthly_usd') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return (Math.floor(now / 60_000) + 1) * 60_000;
}

const KIND_NAMES: Record<LimitKind, string> = {
  daily_usd: 'daily USD budget',
  monthly_usd: 'monthly USD budget',
  tpm: 'tokens-per-minute limit',
  rpm: 'requests-per-minute limit',
};

function overBudget(check: LimitCheck): AppError {
  const limit =
    check.kind === 'daily_usd' || check.kind === 'monthly_usd'
      ? `$${(check.limit / 1e9).toFixed(2)}`
      : String(check.limit);
  const resets = new Date(check.resetAt).toISOString();
  const retryAfter = Math.max(1, Math.ceil((check.resetAt - Date.now()) / 1000));
  return new AppError(
    429,
    'insufficient_quota',
    `The ${KIND_NAMES[check.kind]} of ${check.scope} '${check.id}' (${limit}) does not leave room for this request; it resets at ${resets}.`,
    { type: 'insufficient_quota', headers: { 'retry-after': String(retryAfter) } },
  );
}
