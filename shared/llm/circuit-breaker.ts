import { llmCircuitState } from '../metrics/circuit-state.ts';
import type { UpstashRedis as Redis } from '../redis/upstash-rest.ts';
import { retryBudget } from './retry-budget.ts';
import { SlidingWindow } from './sliding-window.ts';

export interface BreakerPolicy {
  /** Length of the sliding window of calls, and how many buckets it is kept in. */
  window_ms: number;
  buckets: number;
  /** Fewer calls than this in the window never open the circuit, whatever their outcome. */
  min_calls: number;
  /** Share of failed calls in the window (0..1) at which the circuit opens. */
  failure_rate: number;
  /** First open period; each failed probe doubles it, up to `max_open_ms`. */
  open_ms: number;
  max_open_ms: number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';
const GAUGE: Record<CircuitState, number> = { closed: 0, open: 1, half_open: 2 };

/** Leave to call the model once; report how the call went. */
export interface Permit {
  /** This call is the half-open probe: its outcome closes or reopens the circuit. */
  readonly probe: boolean;
  success(): Promise<void>;
  /** An upstream fault: network error, timeout, 5xx, or a 429 without Retry-After. */
  failure(): Promise<void>;
  /** Neither (the caller's 4xx, a cancelled call, a rate-limit cool-down): counts for nothing. */
  release(): Promise<void>;
}

/** Hands background work (a state read, a batch of successes) to the request that started it. */
export type Background = (work: Promise<unknown>) => void;

export type Admission =
  | { allowed: true; permit: Permit }
  | { allowed: false; reason: 'open' | 'cooling'; retryAfterMs: number };

interface Circuit {
  window: SlidingWindow;
  tripped: boolean;
  /** End of the open period; after it (still tripped) the circuit is half-open. */
  until: number;
  /** How many times it has opened without recovering in between. */
  level: number;
  /** An upstream 429 with Retry-After: the model is not tried before this. */
  coolUntil: number;
  probing: boolean;
  probeSince: number;
  /** When the last read of the shared state was sent (0: read at the next call). */
  syncedAt: number;
  /** A read of the shared state has come back (or failed) once in this isolate. */
  synced: boolean;
  /** A read of the shared state is on its way: no second one is sent meanwhile. */
  syncing: boolean;
  /** Bumped by every change this isolate makes: a read sent before one is not applied over it. */
  epoch: number;
  /** Successes not yet added to the shared counters (sent at most once per FLUSH_MS). */
  pending: number;
  flushedAt: number;
}

/** How often an isolate reads the shared state, and sends its successes. */
const SYNC_MS = 1000;
const FLUSH_MS = 1000;
/** What a caller turned away during someone else's probe is told to wait. */
const PROBE_WAIT_MS = 1000;

const circuits = new Map<string, Circuit>();

function circuitFor(key: string, policy: BreakerPolicy): Circuit {
  let c = circuits.get(key);
  if (!c) {
    c = {
      window: new SlidingWindow(policy.window_ms, policy.buckets),
      tripped: false,
      until: 0,
      level: 0,
      coolUntil: 0,
      probing: false,
      probeSince: 0,
      syncedAt: 0,
      synced: false,
      syncing: false,
      epoch: 0,
      pending: 0,
      flushedAt: 0,
    };
    circuits.set(key, c);
  }
  return c;
}

/**
 * A circuit per provider+model (`key` is `provider:model`), in the manner of resilience4j's
 * time-based sliding window: the last `window_ms` of calls, in `buckets` buckets, successes
 * counting as much as failures. It opens when at least `min_calls` calls are in the window and
 * `failure_rate` of them failed, for `open_ms`; then exactly one probe goes through (half-open):
 * its success closes the circuit and forgets the history, its failure reopens it for twice as
 * long (up to `max_open_ms`). A 429 with Retry-After is a cool-down of that model, not a failure.
 *
 * With Redis every isolate shares the window, the state, the cool-down and the probe lease
 * (`SET NX PX`): failures are sent at once (they decide), successes in batches once a second,
 * and the state is read at most once a second per isolate. That read is awaited only by a
 * circuit's first call in an isolate (which has no copy yet); after that it runs in the
 * background, started by the first call a second after the last (one at a time), and the calls
 * meanwhile decide on the copy, which is therefore never more than a second and one Redis round
 * trip old, as an awaited read made it; a read that comes back after this isolate changed the
 * circuit itself is dropped, not applied over the change. Without Redis, or when it fails, each
 * isolate keeps its own (a flag per isolate for the probe).
 */
export class CircuitBreaker {
  private readonly policy: BreakerPolicy;
  private readonly redis: Redis | undefined;
  private readonly waitUntil: Background | undefined;
  private readonly now: () => number;

  /**
   * One breaker serves every request of an isolate with the same policy and Redis (its circuits
   * are the module's anyway): each `admit` names the request's own `waitUntil`, and `waitUntil`
   * here is only the default for an `admit` that names none.
   */
  constructor(
    policy: BreakerPolicy,
    redis?: Redis,
    options: { waitUntil?: Background; now?: () => number } = {},
  ) {
    this.policy = policy;
    this.redis = redis;
    this.now = options.now ?? Date.now;
    this.waitUntil = options.waitUntil;
  }

  /** Runs `work` on, its failure swallowed, held by `waitUntil` (the admitting request's) or the default. */
  private background(work: Promise<unknown>, waitUntil: Background | undefined): void {
    const quiet = work.catch(() => undefined);
    (waitUntil ?? this.waitUntil)?.(quiet);
  }

  /**
   * May `key` be called now? `leaseMs` bounds a probe that never reports back. `waitUntil`: the
   * calling request's, which holds what this call (or its permit's success) starts in the
   * background; the constructor's when absent.
   */
  async admit(key: string, leaseMs: number, waitUntil?: Background): Promise<Admission> {
    const c = circuitFor(key, this.policy);
    let now = this.now();
    if (this.redis && !c.syncing && now - c.syncedAt >= SYNC_MS) {
      c.syncedAt = now;
      if (c.synced) this.background(this.sync(key, c), waitUntil);
      else {
        await this.sync(key, c);
        now = this.now();
      }
    }
    if (c.coolUntil > now) return { allowed: false, reason: 'cooling', retryAfterMs: c.coolUntil - now };
    if (!c.tripped) return { allowed: true, permit: this.permit(key, c, false, waitUntil) };
    if (now < c.until) return { allowed: false, reason: 'open', retryAfterMs: c.until - now };
    // Half-open: one probe at a time, in this isolate and (through Redis) in all of them.
    if (c.probing && now - c.probeSince < leaseMs) {
      return { allowed: false, reason: 'open', retryAfterMs: PROBE_WAIT_MS };
    }
    c.probing = true;
    c.probeSince = now;
    setGauge(key, 'half_open');
    if (this.redis) {
      try {
        const got = await this.redis.set(keys(key).probe, String(now), { nx: true, px: leaseMs });
        if (got !== 'OK') {
          // Another isolate holds the probe: look again at the next call.
          c.probing = false;
          c.syncedAt = 0;
          return { allowed: false, reason: 'open', retryAfterMs: PROBE_WAIT_MS };
        }
      } catch {
        // Redis unreachable: this isolate's flag decides.
      }
    }
    return { allowed: true, permit: this.permit(key, c, true, waitUntil) };
  }

  /** An upstream 429 said when to come back: nobody calls `key` before then. */
  async coolDown(key: string, ms: number): Promise<void> {
    const c = circuitFor(key, this.policy);
    const until = this.now() + ms;
    if (until <= c.coolUntil) return;
    c.coolUntil = until;
    if (this.redis) {
      await this.redis.set(keys(key).cool, String(until), { px: Math.max(1, ms) }).catch(() => undefined);
    }
  }

  private permit(key: string, c: Circuit, probe: boolean, waitUntil: Background | undefined): Permit {
    let settled = false;
    const once = (fn: () => Promise<void>) => () => {
      if (settled) return Promise.resolve();
      settled = true;
      return fn();
    };
    return {
      probe,
      success: once(() => this.onSuccess(key, c, probe, waitUntil)),
      failure: once(() => this.onFailure(key, c, probe)),
      release: once(async () => {
        if (!probe) return;
        c.probing = false;
        if (this.redis) await this.redis.del(keys(key).probe).catch(() => undefined);
      }),
    };
  }

  private async onSuccess(
    key: string,
    c: Circuit,
    probe: boolean,
    waitUntil: Background | undefined,
  ): Promise<void> {
    if (probe) return this.close(key, c);
    // A call admitted before the circuit opened tells nothing about the upstream now.
    if (c.tripped) return;
    const now = this.now();
    c.window.add(now, 1, 0);
    if (!this.redis) return;
    c.pending++;
    if (now - c.flushedAt < FLUSH_MS) return;
    const count = c.pending;
    c.pending = 0;
    c.flushedAt = now;
    const k = keys(key);
    const bucket = c.window.bucketOf(now);
    const pipe = this.redis.pipeline();
    pipe.incrby(k.calls(bucket), count);
    pipe.pexpire(k.calls(bucket), this.policy.window_ms * 2);
    this.background(pipe.exec(), waitUntil);
  }

  private async onFailure(key: string, c: Circuit, probe: boolean): Promise<void> {
    const now = this.now();
    if (probe) return this.open(key, c, now, c.level + 1);
    if (c.tripped) return;
    c.window.add(now, 1, 1);
    let { a: calls, b: failures } = c.window.totals(now);
    if (this.redis) {
      const k = keys(key);
      const bucket = c.window.bucketOf(now);
      const buckets = c.window.bucketsAt(now);
      try {
        const pipe = this.redis.pipeline();
        pipe.incrby(k.calls(bucket), 1 + c.pending);
        pipe.pexpire(k.calls(bucket), this.policy.window_ms * 2);
        pipe.incrby(k.failures(bucket), 1);
        pipe.pexpire(k.failures(bucket), this.policy.window_ms * 2);
        pipe.mget(...buckets.map(k.calls), ...buckets.map(k.failures));
        const results = await pipe.exec();
        c.pending = 0;
        c.flushedAt = now;
        const counts = (results[4] as unknown[]).map((v) => Number(v ?? 0) || 0);
        calls = counts.slice(0, buckets.length).reduce((s, v) => s + v, 0);
        failures = counts.slice(buckets.length).reduce((s, v) => s + v, 0);
      } catch {
        // Redis unreachable: this isolate's window decides.
      }
    }
    if (calls >= this.policy.min_calls && failures / calls >= this.policy.failure_rate) {
      await this.open(key, c, now, 1);
    }
  }

  private async open(key: string, c: Circuit, now: number, level: number): Promise<void> {
    const ms = Math.min(this.policy.max_open_ms, this.policy.open_ms * 2 ** (level - 1));
    c.epoch++;
    c.tripped = true;
    c.until = now + ms;
    c.level = level;
    c.probing = false;
    c.window.clear();
    setGauge(key, 'open');
    if (!this.redis) return;
    const k = keys(key);
    try {
      // From closed, the first isolate to open decides (another may have opened, even reopened
      // it for longer, already); a failed probe's holder reopens as it sees fit.
      const state = `${c.until}:${level}`;
      const px = ms + this.policy.max_open_ms;
      const set =
        level === 1
          ? await this.redis.set(k.state, state, { nx: true, px })
          : await this.redis.set(k.state, state, { px });
      if (set !== 'OK') {
        c.syncedAt = 0;
        return;
      }
      const pipe = this.redis.pipeline();
      pipe.del(k.probe, ...this.windowKeys(k, c, now));
      await pipe.exec();
    } catch {
      // Redis unreachable: open in this isolate only.
    }
  }

  private async close(key: string, c: Circuit): Promise<void> {
    c.epoch++;
    c.tripped = false;
    c.until = 0;
    c.level = 0;
    c.probing = false;
    c.window.clear();
    c.pending = 0;
    setGauge(key, 'closed');
    if (!this.redis) return;
    const k = keys(key);
    await this.redis.del(k.state, k.probe, ...this.windowKeys(k, c, this.now())).catch(() => undefined);
  }

  private windowKeys(k: ReturnType<typeof keys>, c: Circuit, now: number): string[] {
    const buckets = c.window.bucketsAt(now);
    return [...buckets.map(k.calls), ...buckets.map(k.failures)];
  }

  /**
   * Reads the shared state into this isolate's copy; Redis down leaves the copy as it is, and so
   * does a change this isolate made while the read was on its way (the next read brings it).
   */
  private async sync(key: string, c: Circuit): Promise<void> {
    const k = keys(key);
    const epoch = c.epoch;
    let values: unknown[];
    c.syncing = true;
    try {
      values = await this.redis!.mget(k.state, k.cool);
    } catch {
      return;
    } finally {
      c.syncing = false;
      // Answered or not: the next reads are the background's.
      c.synced = true;
    }
    if (c.epoch !== epoch) return;
    const now = this.now();
    const [state, cool] = values.map((v) => (v === null || v === undefined ? undefined : String(v)));
    if (state) {
      const [until, level] = state.split(':').map(Number);
      c.tripped = true;
      c.until = until ?? now;
      c.level = level ?? 1;
      if (!c.probing) setGauge(key, now < c.until ? 'open' : 'half_open');
    } else if (c.tripped) {
      // Closed by another isolate's probe.
      c.tripped = false;
      c.until = 0;
      c.level = 0;
      c.probing = false;
      c.window.clear();
      setGauge(key, 'closed');
    }
    const coolUntil = Number(cool ?? 0);
    if (coolUntil > c.coolUntil) c.coolUntil = coolUntil;
  }
}

function keys(key: string) {
  const prefix = `mas:cb:${key}`;
  return {
    state: `${prefix}:state`,
    probe: `${prefix}:probe`,
    cool: `${prefix}:cool`,
    calls: (bucket: number) => `${prefix}:n:${bucket}`,
    failures: (bucket: number) => `${prefix}:f:${bucket}`,
  };
}

function setGauge(key: string, state: CircuitState): void {
  const at = key.indexOf(':');
  llmCircuitState.set({ provider: key.slice(0, at), model: key.slice(at + 1) }, GAUGE[state]);
}

/** Circuits this isolate knows to be open or half-open, for /ready. */
export function openCircuits(
  now = Date.now(),
): Array<{ key: string; state: CircuitState; retryAfterMs: number }> {
  const out: Array<{ key: string; state: CircuitState; retryAfterMs: number }> = [];
  for (const [key, c] of circuits) {
    if (!c.tripped) continue;
    out.push({ key, state: now < c.until ? 'open' : 'half_open', retryAfterMs: Math.max(0, c.until - now) });
  }
  return out;
}

/** Test hook: forget every local circuit, and the retry budgets. */
export function resetLocalCircuits(): void {
  circuits.clear();
  retryBudget.reset();
}
