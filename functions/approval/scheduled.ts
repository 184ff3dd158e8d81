import { logExpiredApprovals } from '../../shared/approvals/approvals.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { type Env, getSettings } from '../../shared/env.ts';
import { createLogger } from '../../shared/log/logger.ts';

/**
 * Cron trigger (wrangler.toml): writes the `expired` ledger entry for approvals that passed their
 * expiry undecided. Reads say `expired` from the clock already; this records it in history.
 */
export async function expireApprovals(
  _controller: ScheduledController,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const settings = getSettings(env);
  if (!settings.DATABASE_URL) return;
  const log = createLogger({ function: 'approval' }, settings.LOG_LEVEL);
  ctx.waitUntil(
    withPostgres(settings, (client) => logExpiredApprovals(client))
      .then((n) => n > 0 && log.info('expired approvals logged', { count: n }))
      .catch((err: Error) => log.error('expiring approvals failed', { error: err })),
  );
}
