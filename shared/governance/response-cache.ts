import canonicalize from 'canonicalize';
import type { Context } from 'hono';
import { getSettings } from '../env.ts';
import { AppError } from '../errors/index.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import { effectiveRegistry, type ResolvedTarget } from '../llm/registry.ts';
import { llmCacheHitsTotal } from '../metrics/registry.ts';
import { getRedis } from '../redis/client.ts';
import { beginSpend } from './spend.ts';

/**
 * Opt-in exact-match cache for non-streamed chat and embeddings answers: per role in
 * models.yaml (`cache: { <role>: { ttl_seconds } }`) or per request (`x-mas-cache: <ttl>`;
 * `x-mas-cache: off` skips it). Keyed by SHA-256 of the canonical request body and the routing
 * target (role and chain), per principal unless the role is `shared`. Stored in Redis; without
 * Redis there is no cache. Never caches errors, streams, tool calls, or sampled answers
 * (`temperature` > 0) unless the role allows it.
 */

const MAX_TTL_SECONDS = 30 * 86_400;

export interface CachePlan {
  key: string;
  ttlSeconds: number;
}

export interface CachedAnswer {
  body: unknown;
  provider: string;
  model: string;
}

export async function planCache(
  c: Context<AppEnv>,
  endpoint: 'chat' | 'embeddings',
  body: Record<string, unknown>,
  target: ResolvedTarget,
): Promise<CachePlan | undefined> {
  const header = c.req.header('x-mas-cache')?.trim().toLowerCase();
  if (header === 'off') return undefined;
  const role = effectiveRegistry(c.env).cache[target.role];
  let ttlSeconds = role?.ttl_seconds;
  if (header !== undefined && header !== '') {
    if (!/^\d{1,8}$/.test(header) || Number(header) < 1 || Number(header) > MAX_TTL_SECONDS) {
      throw new AppError(
        400,
        'invalid_header',
        `x-mas-cache must be 'off' or a TTL in seconds (1-${MAX_TTL_SECONDS}).`,
        {
          param: 'x-mas-cache',
        },
      );
    }
    ttlSeconds = Number(header);
  }
  if (!ttlSeconds || body.stream === true) return undefined;
  const temperature = typeof body.temperature === 'number' ? body.temperature : endpoint === 'chat' ? 1 : 0;
  // OpenAI samples at temperature 1 when none is given: a replay is only "the" answer at 0.
  if (endpoint === 'chat' && temperature > 0 && !role?.allow_temperature) return undefined;
  if (!getRedis(getSettings(c.env))) return undefined;
  const scope = role?.shared ? 'shared' : `${c.get('principal')?.role}:${c.get('principal')?.id}`;
  const material = canonicalize({
    endpoint,
    body,
    role: target.role,
    chain: target.chain.map((m) => `${m.providerId}/${m.model.id}`),
    scope,
  });
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(material ?? ''));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { key: `mas:cache:${endpoint}:${hex}`, ttlSeconds };
}

export async function cacheGet(c: Context<AppEnv>, plan: CachePlan, endpoint: string, role: string) {
  const redis = getRedis(getSettings(c.env));
  if (!redis) return undefined;
  try {
    const hit = await redis.get<CachedAnswer>(plan.key);
    if (!hit) return undefined;
    llmCacheHitsTotal.inc({ endpoint, role });
    return hit;
  } catch (err) {
    c.get('log').warn('response cache: Redis unavailable, calling upstream', { error: err as Error });
    return undefined;
  }
}

/** Stores an answer after the response; tool-call answers are never stored. */
export function cachePut(c: Context<AppEnv>, plan: CachePlan, answer: CachedAnswer): void {
  if (hasToolCalls(answer.body)) return;
  const redis = getRedis(getSettings(c.env));
  if (!redis) return;
  runInBackground(c, redis.set(plan.key, answer, { ex: plan.ttlSeconds }));
}

function hasToolCalls(body: unknown): boolean {
  const choices = (body as { choices?: Array<{ message?: { tool_calls?: unknown[] } }> })?.choices;
  return Array.isArray(choices) && choices.some((ch) => (ch?.message?.tool_calls?.length ?? 0) > 0);
}

/**
 * The cache step of an endpoint: a hit is answered here (priced at zero, still counted against
 * request limits and in the usage rows); otherwise the plan to store the answer under, if any.
 */
export async function lookupCache(
  c: Context<AppEnv>,
  endpoint: 'chat' | 'embeddings',
  body: Record<string, unknown>,
  target: ResolvedTarget,
): Promise<{ hit?: Response; plan?: CachePlan }> {
  const plan = await planCache(c, endpoint, body, target);
  if (!plan) return {};
  const hit = await cacheGet(c, plan, endpoint, target.role);
  const model = hit && target.chain.find((m) => m.model.id === hit.model && m.providerId === hit.provider);
  if (!hit || !model) {
    c.header('x-mas-cache', 'miss');
    return { plan };
  }
  const spend = await beginSpend(c, { endpoint, target, promptTokens: 0, maxOutputTokens: 0 });
  spend.settle(model, null, { cacheHit: true });
  c.header('x-mas-cache', 'hit');
  c.header('x-mas-provider', model.providerId);
  c.header('x-mas-model', model.model.id);
  c.header('x-mas-cost-usd', '0.0');
  return { hit: c.json(hit.body as Record<string, unknown>) };
}
