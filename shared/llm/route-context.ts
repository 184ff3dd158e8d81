import type { Context } from 'hono';
import { getSettings } from '../env.ts';
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
    breaker: new CircuitBreaker(registry.policy.circuit_breaker, getRedis(getSettings(c.env))),
    log: c.get('log'),
    signal: c.req.raw.signal,
    headers: () => outgoingTraceHeaders(trace),
    streaming,
  };
}

/** `x-mas-provider`, `x-mas-model`, `x-mas-attempts` on the response. */
export function setRouteHeaders(
  c: Context<AppEnv>,
  routed: { model: { providerId: string; model: { id: string } }; attempts: number },
): void {
  c.header('x-mas-provider', routed.model.providerId);
  c.header('x-mas-model', routed.model.model.id);
  c.header('x-mas-attempts', String(routed.attempts));
}
