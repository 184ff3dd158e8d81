import type { Context, MiddlewareHandler, Next } from 'hono';
import type { Principal } from '../../auth/api-keys.ts';
import { gatewayConfig } from '../../config/index.ts';
import { getSettings } from '../../env.ts';
import { tooManyRequests } from '../../errors/index.ts';
import { runInBackground } from '../../http/background.ts';
import { getRedis } from '../../redis/client.ts';
import type { UpstashRedis } from '../../redis/upstash-rest.ts';
import { withTimeout } from '../../resilience/deadline.ts';
import { HitBatcher } from './hit-batcher.ts';
import { LocalLimiter } from './local-limiter.ts';
import { type SharedLimiter, sharedSlidingWindow } from './shared-limiter.ts';

export { LocalLimiter } from './local-limiter.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Rate-limit prefixes this request has already spent a token on. */
    rateLimited: readonly string[];
  }
}

export interface RateLimitOptions {
  requests?: number;
  windowSeconds?: number;
  /** Redis key prefix; separate limits per prefix. */
  prefix?: string;
  /** Overrides RATE_LIMIT_FLUSH_MS (how often batched background hits go to Redis). */
  flushMs?: number;
}

interface Verdict {
  success: boolean;
  remaining: number;
  reset: number;
}

/** How long a shared verdict may stand in for Redis, and how far from the limit it must be. */
const FRESH_MS = 1000;
const minHeadroom = (limit: number) => Math.max(10, Math.ceil(limit * 0.1));
/**
 * Background hits of one key go to Redis together at most this often (RATE_LIMIT_FLUSH_MS,
 * default 250; 0 sends each hit at once), or sooner once they are half the headroom (so two
 * isolates' unsent hits together stay within it).
 */
const FLUSH_MS = 250;

/**
 * Limits requests per principal (run it after `auth`). Shared across isolates through Redis with
 * `@upstash/ratelimit`'s sliding window (shared-limiter.ts); when Redis is not configured or fails, a per-isolate limiter takes over
 * so requests are still served. Sets `x-ratelimit-*` headers (also under OpenAI's -requests names);
 * 429 with `Retry-After` when over.
 *
 * Far from the limit, the Redis round trip leaves the hot path (as LiteLLM's and Cloudflare's
 * limiters do): a principal whose last shared verdict is under a second old and has headroom is
 * let through at once, and its hit is recorded in Redis in the background, refreshing the verdict.
 * Those hits are batched per isolate and key (hit-batcher.ts): one command adding n hits every
 * 250 ms, not one per request (and one `waitUntil` per batch, by the request whose timer or send it
 * is). Every hit is still counted; near the limit every request waits
 * for Redis (sending this isolate's unsent hits first), so the overshoot is bounded by the
 * headroom of the isolates running at that moment.
 */
export function rateLimit(options: RateLimitOptions = {}): MiddlewareHandler {
  const windowSeconds = options.windowSeconds ?? gatewayConfig.rate_limit.window_seconds;
  const prefix = options.prefix ?? 'mas:ratelimit';
  const locals = new Map<number, LocalLimiter>();
  const shared = new WeakMap<object, Map<number, SharedLimiter>>();
  const verdicts = new Map<string, Verdict & { at: number }>();
  const batcher = new HitBatcher();

  /** Per principal: its limiter key and, for the last limit seen, its verdict key. */
  const keysOf = new WeakMap<object, { key: string; requests: number; verdictKey: string }>();
  const keysFor = (principal: Principal | undefined, requests: number) => {
    if (!principal) return { key: 'anonymous', verdictKey: `${requests}|anonymous` };
    let keys = keysOf.get(principal);
    if (!keys || keys.requests !== requests) {
      const key = `${principal.role}:${principal.id}`;
      keys = { key, requests, verdictKey: `${requests}|${key}` };
      keysOf.set(principal, keys);
    }
    return keys;
  };

  // Not async: far from the limit (a fresh shared verdict, or no Redis) nothing is awaited here,
  // so the request makes no promise of its own in this middleware and returns next()'s.
  return function rateLimitMiddleware(c, next) {
    // Hono's `/x/*` also matches `/x`, so routes registering both would count a request twice:
    // one token per request and prefix, whichever registration runs first.
    const spent = c.get('rateLimited');
    if (spent?.includes(prefix)) return next();
    c.set('rateLimited', spent ? [...spent, prefix] : [prefix]);
    const settings = getSettings(c.env);
    const requests = options.requests ?? settings.RATE_LIMIT_REQUESTS ?? gatewayConfig.rate_limit.requests;
    const { key, verdictKey } = keysFor(c.get('principal'), requests);
    const redis = getRedis(settings);
    if (redis) {
      const cached = verdicts.get(verdictKey);
      if (cached?.success && Date.now() - cached.at < FRESH_MS && cached.remaining > minHeadroom(requests)) {
        cached.remaining -= 1;
        const flushMs = options.flushMs ?? settings.RATE_LIMIT_FLUSH_MS ?? FLUSH_MS;
        const flush = batcher.add(verdictKey, Math.ceil(minHeadroom(requests) / 2), flushMs, (hits) =>
          record(redis, requests, key, verdictKey, hits).then(
            () => undefined,
            () => {
              verdicts.delete(verdictKey);
            },
          ),
        );
        if (flush) runInBackground(c, flush);
        return admit(c, next, requests, { success: true, remaining: cached.remaining, reset: cached.reset });
      }
      return judgeThenNext(c, next, redis, requests, key, verdictKey);
    }
    return admit(c, next, requests, localFor(requests).take(key));
  };

  function localFor(requests: number): LocalLimiter {
    let local = locals.get(requests);
    if (!local) {
      local = new LocalLimiter(requests, windowSeconds * 1000);
      locals.set(requests, local);
    }
    return local;
  }

  /** Sends `hits` of `key` to Redis and keeps the verdict it gives for the next requests. */
  function record(redis: UpstashRedis, requests: number, key: string, verdictKey: string, hits: number) {
    let byLimit = shared.get(redis);
    if (!byLimit) {
      byLimit = new Map();
      shared.set(redis, byLimit);
    }
    let limiter = byLimit.get(requests);
    if (!limiter) {
      limiter = sharedSlidingWindow(redis, {
        tokens: requests,
        windowMs: windowSeconds * 1000,
        prefix,
      });
      byLimit.set(requests, limiter);
    }
    return withTimeout(
      limiter.limit(key, hits),
      1000,
      () => new Error('Redis did not answer within 1000 ms'),
    ).then((v): Verdict => {
      // Bounded like any per-isolate cache: many principals must not grow it without end.
      if (verdicts.size >= 10_000) verdicts.clear();
      verdicts.set(verdictKey, {
        success: v.success,
        // Hits let through since this command left are not in Redis's count yet.
        remaining: v.remaining - batcher.pending(verdictKey),
        reset: v.reset,
        at: Date.now(),
      });
      return v;
    });
  }

  /** Near the limit, or with no fresh verdict: this request waits for Redis's count. */
  async function judgeThenNext(
    c: Context,
    next: Next,
    redis: UpstashRedis,
    requests: number,
    key: string,
    verdictKey: string,
  ): Promise<void> {
    let result: Verdict | undefined;
    try {
      // This isolate's unsent hits first, so the count this request is judged by has them.
      const unsent = batcher.take(verdictKey);
      if (unsent) await record(redis, requests, key, verdictKey, unsent);
      result = await record(redis, requests, key, verdictKey, 1);
    } catch (err) {
      verdicts.delete(verdictKey);
      c.get('log').warn('rate limit: Redis unavailable, using per-isolate limit', {
        error: err as Error,
      });
    }
    await admit(c, next, requests, result ?? localFor(requests).take(key));
  }
}

/** The `x-ratelimit-*` headers of a verdict, then 429 when it says no, else on to the route. */
function admit(c: Context, next: Next, requests: number, result: Verdict): Promise<void> {
  const retryAfter = Math.max(1, Math.ceil((result.reset - Date.now()) / 1000));
  const remaining = String(Math.max(0, result.remaining));
  const limit = String(requests);
  c.header('x-ratelimit-limit', limit);
  c.header('x-ratelimit-remaining', remaining);
  c.header('x-ratelimit-reset', String(retryAfter));
  // OpenAI's names (its reset is a duration such as "1s" or "6m0s"). This limit counts requests
  // only; the -tokens headers belong to a token budget, which this middleware does not keep.
  c.header('x-ratelimit-limit-requests', limit);
  c.header('x-ratelimit-remaining-requests', remaining);
  c.header('x-ratelimit-reset-requests', openaiDuration(Math.max(0, result.reset - Date.now())));
  if (!result.success) throw tooManyRequests(retryAfter);
  return next();
}

/** A duration as OpenAI writes it in x-ratelimit-reset-*: `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`. */
export function openaiDuration(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const total = Math.ceil(ms / 100) / 10;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = Math.round((total % 60) * 10) / 10;
  if (hours) return `${hours}h${minutes}m${seconds}s`;
  if (minutes) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
