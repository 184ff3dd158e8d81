import type { MiddlewareHandler } from 'hono';
import { withPostgres } from '../db/postgres.ts';
import { getSettings, type Settings } from '../env.ts';
import { runInBackground } from '../http/background.ts';
import type { AppEnv } from '../http/create-app.ts';
import type { Logger } from '../log/logger.ts';
import { MAIN_LOG, queuedLogs, sealPending } from './ledger.ts';
import { checkpointIfDue, sendToWitness } from './ledger-checkpoints.ts';

let sealing = false;
let again = false;

/**
 * Wakes the sealer after a write, without holding up the response: at most one sealing loop per
 * isolate, and a write that arrives while it runs makes it go round once more (a flag, not a
 * shared promise: a Worker must not await another request's I/O).
 */
export function sealSoon(settings: Settings): Promise<void> {
  if (sealing) {
    again = true;
    return Promise.resolve();
  }
  sealing = true;
  return (async () => {
    try {
      do {
        again = false;
        await withPostgres(settings, (client) => sealPending(client, MAIN_LOG));
      } while (again);
    } finally {
      sealing = false;
    }
  })();
}

/**
 * After a request that may have appended (any method but GET, or every request with `always`, for
 * routes such as the integration proxy that record reads too), seal in the background (`waitUntil`).
 */
export function sealAfterWrites(options: { always?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if ((options.always || c.req.method !== 'GET') && c.res.status < 500) {
      const settings = getSettings(c.env);
      if (settings.DATABASE_URL) runInBackground(c, sealSoon(settings));
    }
  };
}

/**
 * The scheduled handler's ledger work: seal whatever writes left queued (an isolate that went
 * away before its background seal), then sign a checkpoint if one is due and send it to the witness.
 */
export async function ledgerTick(settings: Settings, log: Logger): Promise<void> {
  await withPostgres(settings, async (client) => {
    for (const name of await queuedLogs(client)) await sealPending(client, name);
    const checkpoint = await checkpointIfDue(client, settings, MAIN_LOG);
    if (checkpoint) {
      log.info('ledger checkpoint signed', { tree_size: checkpoint.tree_size });
      const failed = await sendToWitness(settings, checkpoint.note);
      if (failed) log.warn('ledger witness failed', { error: failed, tree_size: checkpoint.tree_size });
    }
  });
}
