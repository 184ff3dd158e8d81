import type { Env } from '../../shared/env.ts';
import { createApp } from '../../shared/http/create-app.ts';
import { pruneMetricGroups } from '../../shared/metrics/prune-groups.ts';
import { approvalFunction } from './routes.ts';
import { sweepApprovals } from './scheduled.ts';

const app = createApp('approval', [approvalFunction]);

/**
 * Deployed one Worker per function, mas-approval's cron also deletes idle Pushgateway groups
 * (every function's: they share one job).
 */
async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
  ctx.waitUntil(pruneMetricGroups(controller, env));
  await sweepApprovals(controller, env, ctx);
}

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<never>;
