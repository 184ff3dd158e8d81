import { Hono } from 'hono';
import { gatewayConfig } from '../../shared/config/index.ts';
import { getSettings } from '../../shared/env.ts';
import { budgetEnforcement } from '../../shared/governance/budgets.ts';
import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { mcpReadyChecks } from '../../shared/mcp/ready.ts';
import { runReadyChecks } from '../../shared/ready/checks.ts';
import { redactString } from '../../shared/redact/index.ts';

const routes = new Hono<AppEnv>();

routes.get('/ready', async (c) => {
  const settings = getSettings(c.env);
  const [{ ready, checks: kernel }, mcp] = await Promise.all([
    runReadyChecks(settings, {
      timeoutMs: gatewayConfig.ready.timeout_ms,
      required: gatewayConfig.ready.required,
    }),
    // Upstream MCP servers: reported, never required.
    mcpReadyChecks(c.env, gatewayConfig.ready.timeout_ms),
  ]);
  const checks = { ...kernel, ...mcp };
  for (const check of Object.values(checks)) {
    if (check.error) check.error = redactString(check.error).value;
  }
  c.header('cache-control', 'no-store');
  const budgets = budgetEnforcement(
    Boolean(settings.UPSTASH_REDIS_REST_URL && settings.UPSTASH_REDIS_REST_TOKEN),
  );
  return c.json({ status: ready ? 'ready' : 'not_ready', checks, budgets }, ready ? 200 : 503);
});

export const readyFunction = defineFunction('ready', routes);
