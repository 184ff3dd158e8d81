import type { Context } from 'hono';

/**
 * Runs work after the response (`waitUntil` on Workers); where there is no execution context
 * (a plain Node server) the promise simply runs on. Never throws into the request.
 */
export function runInBackground(c: Context, promise: Promise<unknown>): void {
  const guarded = promise.catch(() => undefined);
  try {
    c.executionCtx.waitUntil(guarded);
  } catch {
    // No execution context: nothing to extend.
  }
}
