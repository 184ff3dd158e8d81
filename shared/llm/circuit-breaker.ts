import type { Redis } from '@upstash/redis/cloudflare';

export interface BreakerPolicy {
  failure_threshold: number;
  window_ms: number;
  open_ms: number;
}

interface LocalState {
  failures: number[];
  openUntil: number;
  /** Set when the circuit has opened: the first call after `open_ms` is a half-open probe. */
  tripped: boolean;
  /** Last time Redis was asked, to keep the shared check off the hot path. */
  checkedAt: number;
}

const local = new Map<string, LocalState>();

function state(key: string): LocalState {
  let s = local.get(key);
  if (!s) {
    s = { failures: [], openUntil: 0, tripped: false, checkedAt: 0 };
    local.set(key, s);
  }
  return s;
}

/**
 * A circuit per provider+model: `failure_threshold` failures within `window_ms` open it for
 * `open_ms`; then one probe is let through (half-open): success closes it, failure reopens it.
 * With Redis the open state and the failure count are shared by every isolate (checked at most
 * once a second per isolate); without it, or when Redis fails, each isolate keeps its own.
 */
export class CircuitBreaker {
  private readonly policy: BreakerPolicy;
  private readonly redis: Redis | undefined;
  constructor(policy: BreakerPolicy, redis?: Redis) {
    this.policy = policy;
    this.redis = redis;
  }

  async isOpen(key: string, now = Date.now()): Promise<boolean> {
    const s = state(key);
    if (s.openUntil > now) return true;
    if (this.redis && now - s.checkedAt > 1000) {
      s.checkedAt = now;
      try {
        const ttl = await this.redis.pttl(`mas:cb:open:${key}`);
        if (ttl > 0) {
          s.openUntil = now + ttl;
          s.tripped = true;
          return true;
        }
      } catch {
        // Redis down: the local state decides.
      }
    }
    return false;
  }

  async onSuccess(key: string): Promise<void> {
    const s = state(key);
    const wasTripped = s.tripped;
    s.failures = [];
    s.tripped = false;
    if (this.redis && wasTripped) await this.redis.del(`mas:cb:fail:${key}`).catch(() => undefined);
  }

  async onFailure(key: string, now = Date.now()): Promise<void> {
    const s = state(key);
    s.failures = s.failures.filter((t) => now - t < this.policy.window_ms);
    s.failures.push(now);
    let count = s.failures.length;
    if (this.redis) {
      try {
        const pipe = this.redis.pipeline();
        pipe.incr(`mas:cb:fail:${key}`);
        pipe.pexpire(`mas:cb:fail:${key}`, this.policy.window_ms);
        const [shared] = (await pipe.exec()) as [number, number];
        count = Math.max(count, shared);
      } catch {
        // Redis down: count locally.
      }
    }
    // A failed half-open probe reopens at once.
    if (count >= this.policy.failure_threshold || s.tripped) await this.open(key, now);
  }

  private async open(key: string, now: number): Promise<void> {
    const s = state(key);
    s.openUntil = now + this.policy.open_ms;
    s.tripped = true;
    s.failures = [];
    if (this.redis) {
      await this.redis.set(`mas:cb:open:${key}`, '1', { px: this.policy.open_ms }).catch(() => undefined);
      await this.redis.del(`mas:cb:fail:${key}`).catch(() => undefined);
    }
  }
}

/** Test hook: forget every local circuit. */
export function resetLocalCircuits(): void {
  local.clear();
}
