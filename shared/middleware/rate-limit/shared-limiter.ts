import type { UpstashRedis } from '../../redis/upstash-rest.ts';

/**
 * A sliding-window limit shared by every isolate through Redis: the algorithm, Lua script and key
 * layout of `@upstash/ratelimit`'s single-region `slidingWindow` (keys `<prefix>:<id>:<window>`,
 * plain counters; a window's count plus the previous window's, weighted by how much of it still
 * overlaps, against the limit), so counters written by either read the same. Like it, an
 * identifier found over the limit is refused from memory until its window resets. The package
 * itself (with its analytics, deny lists and multi-region code) is ~37 KiB of every bundle.
 */
export interface SharedVerdict {
  success: boolean;
  remaining: number;
  /** When the current window ends (ms since the epoch). */
  reset: number;
}

export interface SharedLimiter {
  /**
   * Spends `rate` tokens at once (`@upstash/ratelimit`'s `rate` option): refused, counting
   * nothing, when the window was already full; otherwise all are counted and `success` says
   * whether the count is still within the limit.
   */
  limit(identifier: string, rate?: number): Promise<SharedVerdict>;
}

const SLIDING_WINDOW = `
local currentKey  = KEYS[1]
local previousKey = KEYS[2]
local tokens      = tonumber(ARGV[1])
local now         = ARGV[2]
local window      = ARGV[3]
local incrementBy = tonumber(ARGV[4])
local current = redis.call("GET", currentKey)
if current == false then current = 0 end
local previous = redis.call("GET", previousKey)
if previous == false then previous = 0 end
local percentageInCurrent = ( now % window ) / window
previous = math.floor(( 1 - percentageInCurrent ) * previous)
if incrementBy > 0 and previous + current >= tokens then
  return -1
end
local newValue = redis.call("INCRBY", currentKey, incrementBy)
if newValue == incrementBy then
  redis.call("PEXPIRE", currentKey, window * 2 + 1000)
end
return tokens - ( newValue + previous )
`;

export function sharedSlidingWindow(
  redis: UpstashRedis,
  { tokens, windowMs, prefix }: { tokens: number; windowMs: number; prefix: string },
): SharedLimiter {
  const script = redis.createScript<number>(SLIDING_WINDOW);
  // identifier → end of the window it was refused in.
  const blocked = new Map<string, number>();
  return {
    async limit(identifier, rate = 1) {
      const now = Date.now();
      const until = blocked.get(identifier);
      if (until !== undefined) {
        if (until >= now) return { success: false, remaining: 0, reset: until };
        blocked.delete(identifier);
      }
      const window = Math.floor(now / windowMs);
      const key = `${prefix}:${identifier}`;
      const remaining = Number(
        await script.exec([`${key}:${window}`, `${key}:${window - 1}`], [tokens, now, windowMs, rate]),
      );
      const reset = (window + 1) * windowMs;
      const success = remaining >= 0;
      if (!success) {
        // Bounded like any per-isolate cache: many refused clients must not grow it without end.
        if (blocked.size >= 10_000) blocked.clear();
        blocked.set(identifier, reset);
      }
      return { success, remaining: Math.max(0, remaining), reset };
    },
  };
}
