import type { Env } from '../shared/env.ts';
import { createApp } from '../shared/http/create-app.ts';
import { pruneMetricGroups } from '../shared/metrics/prune-groups.ts';
import { approvalFunction } from './approval/routes.ts';
import { sweepApprovals } from './approval/scheduled.ts';
import { auditFunction } from './audit/routes.ts';
import { ledgerCheckpoints } from './audit/scheduled.ts';
import { chatFunction } from './chat/routes.ts';
import { docsFunction } from './docs/routes.tsx';
import { embedFunction } from './embed/routes.ts';
import { healthFunction } from './health/routes.ts';
import { mcpFunction } from './mcp/routes.ts';
import { messagesFunction } from './messages/routes.ts';
import { proxyFunction } from './proxy/routes.ts';
import { readyFunction } from './ready/routes.ts';
import { usageFunction } from './usage/routes.ts';

/** Every function on one origin (locally :8001), each on its docs/API.md paths. */
const app = createApp('all', [
  healthFunction,
  readyFunction,
  chatFunction,
  messagesFunction,
  embedFunction,
  auditFunction,
  approvalFunction,
  proxyFunction,
  usageFunction,
  mcpFunction,
  docsFunction,
]);

/**
 * One cron, every function's periodic work: approval expiry and escalation, ledger checkpoints,
 * and deleting idle Pushgateway groups.
 */
async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  ctx.waitUntil(pruneMetricGroups(controller, env));
  await Promise.all([sweepApprovals(controller, env, ctx), ledgerCheckpoints(controller, env, ctx)]);
}

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<never>;
