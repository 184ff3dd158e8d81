import type { Context } from 'hono';
import { getSettings } from '../env.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import { outgoingTraceHeaders } from '../middleware/correlation/index.ts';
import { getRedis } from '../redis/client.ts';
import type { UpstashRedis } from '../redis/upstash-rest.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import type { ModelsConfig } from './models-schema.ts';
import { effectiveRegistry, type ResolvedTarget } from './registry.ts';
import type { RouteContext } from './router.ts';

/**
 * One breaker per policy (one per registry: an isolate has one, or one per env in tests) and
 * Redis client, not one per request: its circuits are per isolate already, and each request's
 * `waitUntil` reaches it through `admit` (RouteContext.background), not its constructor.
 */
const breakers = new WeakMap<
  ModelsConfig['policy'],
  { redis: UpstashRedis | undefined; breaker: CircuitBreaker }
>();
function breakerFor(policy: ModelsConfig['policy'], redis: UpstashRedis | undefined): CircuitBreaker {
  let entry = breakers.get(policy);
  if (!entry || entry.redis !== redis) {
    entry = { redis, breaker: new CircuitBreaker(policy.circuit_breaker, redis) };
    breakers.set(policy, entry);
  }
  return entry.breaker;
}

/** What the router needs from a request: policy, shared circuits, logger, abort and trace headers. */
export function createRouteContext(
  c: Context<AppEnv>,
  target: ResolvedTarget,
  streaming = false,
): RouteContext {
  const registry = effectiveRegistry(c.env);
  const trace = c.get('trace');
  return {
    target,
    policy: registry.policy,
    breaker: breakerFor(registry.policy, getRedis(getSettings(c.env))),
    background: (work) => runInBackground(c, work),
    log: c.get('log'),
    signal: c.req.raw.signal,
    headers: () => outgoingTraceHeaders(trace),
    streaming,
  };
}

/**
 * `x-mas-provider`, `x-mas-model`, `x-mas-attempts`, and `Server-Timing` so every caller sees what
 * the gateway added to the call: `gateway` is everything but the upstream (auth, parsing, routing,
 * backoff waits), `upstream` the time spent waiting on providers (a stream: until its first chunk).
 * On workerd the clock only advances across I/O, so pure CPU work shows as ~0 there.
 */
export function setRouteHeaders(
  c: Context<AppEnv>,
  routed: { model: { providerId: string; model: { id: string } }; attempts: number; upstreamMs: number },
): void {
  c.header('x-mas-provider', routed.model.providerId);
  c.header('x-mas-model', routed.model.model.id);
  c.header('x-mas-attempts', String(routed.attempts));
  const total = performance.now() - (c.get('startedAt') ?? performance.now());
  const gateway = Math.max(0, total - routed.upstreamMs);
  const attempts = routed.attempts === 1 ? '1 attempt' : `${routed.attempts} attempts`;
  c.header(
    'server-timing',
    `gateway;dur=${gateway.toFixed(2)};desc="mas gateway", upstream;dur=${routed.upstreamMs.toFixed(2)};desc="${attempts}"`,
  );
}
