import { gatewayConfig } from '../../shared/config/index.ts';
import { type Env, getSettings } from '../../shared/env.ts';
import { budgetEnforcement } from '../../shared/governance/budgets.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { mcpReadyChecks } from '../../shared/mcp/ready.ts';
import { readyChecksTotal } from '../../shared/metrics/registry.ts';
import { cachedCheck } from '../../shared/ready/cache.ts';
import { runReadyChecks } from '../../shared/ready/checks.ts';
import { redactString } from '../../shared/redact/index.ts';

const routes = routeTable<AppEnv>();

routes.get('/ready', async (c) => {
  const ttl = getSettings(c.env).READY_CACHE_MS ?? gatewayConfig.ready.cache_ms;
  const { status, body } = await cachedCheck(c.env, ttl, () => readiness(c.env));
  c.header('cache-control', 'no-store');
  return c.json(body, status);
});

/** One round of checks: the kernel's dependencies and the MCP servers, in parallel. */
async function readiness(env: Env) {
  const settings = getSettings(env);
  const [{ ready, checks: kernel }, mcp] = await Promise.all([
    runReadyChecks(settings, {
      timeoutMs: gatewayConfig.ready.timeout_ms,
      required: gatewayConfig.ready.required,
    }),
    // Upstream MCP servers: reported, never required.
    mcpReadyChecks(env, gatewayConfig.ready.timeout_ms),
  ]);
  readyChecksTotal.inc({ outcome: ready ? 'ready' : 'not_ready' });
  const checks = { ...kernel, ...mcp };
  for (const check of Object.values(checks)) {
    if (check.error) check.error = redactString(check.error).value;
  }
  const budgets = budgetEnforcement(
    Boolean(settings.UPSTASH_REDIS_REST_URL && settings.UPSTASH_REDIS_REST_TOKEN),
  );
  return {
    status: ready ? (200 as const) : (503 as const),
    body: { status: ready ? 'ready' : 'not_ready', checks, budgets },
  };
}

export const readyFunction = defineFunction('ready', routes);
