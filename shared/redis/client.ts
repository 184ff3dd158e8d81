import type { Settings } from '../env.ts';
import { UpstashRedis as Redis } from './upstash-rest.ts';

const clients = new Map<string, { redis: Redis; health: RedisHealth }>();
/** Longest wait for one Redis command; the rate limiter's own deadline is the same. */
const REDIS_COMMAND_TIMEOUT_MS = 1000;
/** Consecutive failed commands after which this isolate treats Redis as down. */
const DOWN_AFTER_FAILURES = 3;
/** How long Redis counts as down before one command may try it again. */
const DOWN_FOR_MS = 5000;

/**
 * A short-lived "Redis is down" breaker per isolate: after a few failed commands in a row (a
 * Redis that hangs costs a full timeout each), callers get `undefined` from getRedis for a few
 * seconds and use their per-isolate fallbacks at once; then the next command tries Redis again
 * and one success closes it.
 */
export class RedisHealth {
  private failures = 0;
  private downUntil = 0;
  private readonly now: () => number;
  readonly downAfter: number;
  readonly downForMs: number;
  constructor(now: () => number = Date.now, downAfter = DOWN_AFTER_FAILURES, downForMs = DOWN_FOR_MS) {
    this.now = now;
    this.downAfter = downAfter;
    this.downForMs = downForMs;
  }
  get down(): boolean {
    // Closed (the usual case) needs no clock.
    return this.downUntil !== 0 && this.now() < this.downUntil;
  }
  ok(): void {
    this.failures = 0;
    this.downUntil = 0;
  }
  failed(): void {
    this.failures += 1;
    if (this.failures >= this.downAfter) {
      this.downUntil = this.now() + this.downForMs;
      // The probe after the pause counts alone: one more failure re-opens at once.
      this.failures = this.downAfter - 1;
    }
  }
}

/**
 * The Upstash REST client (plain fetch, so it works on Workers and Deno), one per isolate. Locally
 * `npm start` runs a bridge that speaks the same protocol to a real Redis. `undefined` when Redis
 * is not configured, or while this isolate's breaker says it is down: callers then degrade to
 * per-isolate state.
 */
export function getRedis(settings: Settings): Redis | undefined {
  // Settings are one object per env, and an isolate has one env: the last answer stands (the
  // rate limiter and the router's breaker each ask on every request).
  if (settings !== lastSettings) {
    lastEntry = clientFor(settings);
    lastSettings = settings;
  }
  return lastEntry && !lastEntry.health.down ? lastEntry.redis : undefined;
}

let lastSettings: Settings | undefined;
let lastEntry: { redis: Redis; health: RedisHealth } | undefined;

function clientFor(settings: Settings): { redis: Redis; health: RedisHealth } | undefined {
  const url = settings.UPSTASH_REDIS_REST_URL;
  const token = settings.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) return undefined;
  let entry = clients.get(url);
  if (!entry) {
    const health = new RedisHealth();
    // One quick retry only, and a deadline on every command: a Redis that hangs must not hang
    // the request (circuit checks, long-poll wake-ups); callers fall back to per-isolate state.
    // The client clears each deadline when its command settles: nothing outlives the command.
    const redis = new Redis({
      url,
      token,
      retry: { retries: 1, backoff: () => 50 },
      timeoutMs: REDIS_COMMAND_TIMEOUT_MS,
    });
    entry = { redis: watched(redis, health), health };
    clients.set(url, entry);
  }
  return entry;
}

/** Whether this isolate currently treats the Redis at `settings` as down (for /ready and tests). */
export function redisIsDown(settings: Settings): boolean {
  const url = settings.UPSTASH_REDIS_REST_URL;
  return Boolean(url && clients.get(url)?.health.down);
}

/**
 * The client with every command's outcome reported to `health`. A command is any method that
 * returns a promise (pipelines and multi report through their `exec`); an answer from Redis,
 * even an error reply, is a success: only a transport failure or timeout counts against it.
 */
function watched(redis: Redis, health: RedisHealth): Redis {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const out = value.apply(obj, args);
          if (out instanceof Promise) {
            out.then(
              () => health.ok(),
              (err: unknown) => (isTransportFailure(err) ? health.failed() : health.ok()),
            );
            return out;
          }
          // pipeline() / multi(): watch their exec too.
          return out && typeof out === 'object' && typeof (out as { exec?: unknown }).exec === 'function'
            ? wrap(out as object)
            : out;
        };
      },
    });
  return wrap(redis);
}

function isTransportFailure(err: unknown): boolean {
  const e = err as { name?: string; message?: string } | null;
  if (!e) return false;
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.name === 'TypeError') return true;
  return /abort|timed? ?out|fetch failed|network|ECONNREFUSED|connect/i.test(e.message ?? '');
}
