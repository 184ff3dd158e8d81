import { ledgerTick } from '../../shared/audit/ledger-seal.ts';
import { type Env, getSettings } from '../../shared/env.ts';
import { createLogger } from '../../shared/log/logger.ts';

/**
 * Cron trigger (wrangler.toml): seals entries a write left queued, then signs a checkpoint when
 * the log grew and LEDGER_CHECKPOINT_INTERVAL_SECONDS have passed, and sends it to the witness.
 */
export async function ledgerCheckpoints(
  _controller: ScheduledController,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const settings = getSettings(env);
  if (!settings.DATABASE_URL) return;
  const log = createLogger({ function: 'audit' }, settings.LOG_LEVEL);
  ctx.waitUntil(
    ledgerTick(settings, log).catch((err: Error) => log.error('ledger tick failed', { error: err })),
  );
}
