import { announce, escalateApprovals, expireApprovals, type Notifier } from '../../shared/approvals/index.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { type Env, getSettings } from '../../shared/env.ts';
import { createLogger } from '../../shared/log/logger.ts';

/**
 * Cron trigger (wrangler.toml): writes the `expired` ledger entry for approvals that passed their
 * expiry undecided (reads say `expired` from the clock already; this records it in history), and
 * escalates those pending past `escalate_after_seconds`, once each. Both are announced through
 * the approval webhook.
 */
export async function sweepApprovals(
  _controller: ScheduledController,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const settings = getSettings(env);
  if (!settings.DATABASE_URL) return;
  const log = createLogger({ function: 'approval' }, settings.LOG_LEVEL);
  const notifier: Notifier = {
    settings,
    log,
    background: (work) => ctx.waitUntil(work.catch(() => undefined)),
  };
  ctx.waitUntil(
    withPostgres(settings, async (client) => [
      ...(await expireApprovals(client)),
      ...(await escalateApprovals(client)),
    ])
      .then((events) => {
        for (const event of events) announce(notifier, event);
        if (events.length > 0) log.info('approvals swept', { events: events.length });
      })
      .catch((err: Error) => log.error('sweeping approvals failed', { error: err })),
  );
}
