import type { Context } from 'hono';
import { getSettings } from '../env.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import { outgoingTraceHeaders } from '../middleware/correlation/index.ts';
import { getRedis } from '../redis/client.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { effectiveRegistry, type ResolvedTarget } from './registry.ts';
import type { RouteContext } from './router.ts';

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
    breaker: new CircuitBreaker(registry.policy.circuit_breaker, getRedis(getSettings(c.env)), {
      waitUntil: (work) => runInBackground(c, work),
    }),
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
