import { gatewayConfig } from '../config/index.ts';
import type { Settings } from '../env.ts';
import { AppError } from '../errors/index.ts';
import { lazy } from '../http/lazy.ts';
import { boundedCache } from '../http/lru.ts';
import type { Logger } from '../log/logger.ts';
import { LocalLimiter } from '../middleware/rate-limit/local-limiter.ts';
import { type SharedLimiter, sharedSlidingWindow } from '../middleware/rate-limit/shared-limiter.ts';
import { getRedis } from '../redis/client.ts';
import { withTimeout } from '../resilience/deadline.ts';

/**
 * The per-client limit in front of auth: failed authentications (no key, a malformed key, an
 * unknown or revoked one) are counted per client address (shared/auth/client-address.ts), and a
 * client over `rate_limit.auth_failures_per_client` in the window is refused with 429 before its
 * key is even looked at, until the window slides. Keys that authenticate never spend from it,
 * so agents behind one egress address only share each other's failures, not their traffic.
 *
 * A failure that cost nothing (malformed, or answered from memory) is counted in this isolate
 * only: refusing it must stay free of I/O. A failure that cost a Postgres look-up is also
 * counted in Redis (when configured), so every isolate's misses add up; an isolate learns that
 * a client is over from its own next Redis-counted failure, and then refuses it from memory.
 */
const PREFIX = 'mas:authfail';
const blockedUntil = lazy(() => boundedCache<string, number>(10_000));
/**
 * The latest refusal end of any client (ms; 0: none): past it nobody is refused, so the check
 * costs one comparison on the hot path (quick-lru's `size`, read per request before, walks its
 * older generation and was ~0.5 % of the isolate's time per chat request on workerd).
 */
let anyBlockedUntil = 0;
function block(client: string, until: number): void {
  blockedUntil().set(client, until);
  if (until > anyBlockedUntil) anyBlockedUntil = until;
}
const locals = new Map<number, LocalLimiter>();
const shared = new WeakMap<object, Map<number, SharedLimiter>>();

function limitOf(settings: Settings): number {
  return settings.RATE_LIMIT_AUTH_FAILURES ?? gatewayConfig.rate_limit.auth_failures_per_client;
}
const windowMs = () => gatewayConfig.rate_limit.window_seconds * 1000;

/**
 * Throws 429 (with Retry-After) when the client is over its failure limit; touches no I/O.
 * `clientOf` is called only while some client is refused in this isolate: working out the address
 * (on workerd, `request.cf`, a parsed object per access) is then skipped on the hot path.
 */
export function refuseIfOverFailureLimit(clientOf: () => string, now = Date.now()): void {
  if (now >= anyBlockedUntil) {
    // Every refusal has ended: forget them all at once.
    if (anyBlockedUntil !== 0) {
      blockedUntil().clear();
      anyBlockedUntil = 0;
    }
    return;
  }
  const blocked = blockedUntil();
  const client = clientOf();
  // No `blocked.size` first: quick-lru's getter walks its older generation (up to 5,000 entries)
  // once the newer one holds anything, which made every request pay for a spray of refusals.
  const until = blocked.get(client);
  if (until === undefined) return;
  if (until <= now) {
    blocked.delete(client);
    return;
  }
  const retryAfter = Math.max(1, Math.ceil((until - now) / 1000));
  throw new AppError(
    429,
    'too_many_failed_authentications',
    `Too many requests without a valid API key from this client; retry after ${retryAfter}s.`,
    { headers: { 'retry-after': String(retryAfter) } },
  );
}

/**
 * Counts one failed authentication of `client`: in this isolate always, in Redis as well when
 * `costly` (it took a Postgres query). Never throws: a Redis failure leaves the local count.
 */
export async function recordAuthFailure(
  settings: Settings,
  client: string,
  options: { costly: boolean; log?: Logger },
): Promise<void> {
  const limit = limitOf(settings);
  let local = locals.get(limit);
  if (!local) {
    local = new LocalLimiter(limit, windowMs());
    locals.set(limit, local);
  }
  // The failure that uses up the allowance is answered as usual; the next request is refused,
  // for a whole window from now: the counting window's own end can be a millisecond away (a
  // failure at :59.99 of a minute window), which would unblock the client at once.
  const now = Date.now();
  const verdict = local.take(client, now);
  if (!verdict.success || verdict.remaining <= 0) block(client, now + windowMs());
  const redis = options.costly ? getRedis(settings) : undefined;
  if (!redis) return;
  let byLimit = shared.get(redis);
  if (!byLimit) {
    byLimit = new Map();
    shared.set(redis, byLimit);
  }
  let limiter = byLimit.get(limit);
  if (!limiter) {
    limiter = sharedSlidingWindow(redis, { tokens: limit, windowMs: windowMs(), prefix: PREFIX });
    byLimit.set(limit, limiter);
  }
  try {
    const result = await withTimeout(limiter.limit(client), 1000, () => new Error('Redis did not answer'));
    if (!result.success || result.remaining <= 0) {
      block(client, Math.max(result.reset, now + windowMs(), blockedUntil().get(client) ?? 0));
    }
  } catch (err) {
    options.log?.warn('auth failure limit: Redis unavailable, counting per isolate', { error: err as Error });
  }
}
