import { beforeEach, describe, expect, it } from 'vitest';
import { registry } from '../metrics/registry.ts';
import type { UpstashRedis } from '../redis/upstash-rest.ts';
import {
  type Admission,
  type BreakerPolicy,
  CircuitBreaker,
  openCircuits,
  resetLocalCircuits,
} from './circuit-breaker.ts';
import { retryBudget } from './retry-budget.ts';

const policy: BreakerPolicy = {
  window_ms: 10_000,
  buckets: 10,
  min_calls: 10,
  failure_rate: 0.5,
  open_ms: 5_000,
  max_open_ms: 20_000,
};

let clock = 1_000_000;
const breaker = () => new CircuitBreaker(policy, undefined, { now: () => clock });

async function record(cb: CircuitBreaker, key: string, outcome: 'ok' | 'fail'): Promise<Admission> {
  const admission = await cb.admit(key, 1000);
  if (admission.allowed) await (outcome === 'ok' ? admission.permit.success() : admission.permit.failure());
  return admission;
}

describe('CircuitBreaker (per isolate)', () => {
  beforeEach(() => {
    resetLocalCircuits();
    clock = 1_000_000;
  });

  it('stays closed under a low failure rate, however long it lasts', async () => {
    const cb = breaker();
    // 3 % failures, 20 calls a second, for 60 s.
    for (let i = 0; i < 1200; i++) {
      clock += 50;
      const admission = await record(cb, 'p:m', i % 33 === 0 ? 'fail' : 'ok');
      expect(admission.allowed).toBe(true);
    }
  });

  it('needs min_calls before it opens, then opens on the failure rate', async () => {
    const cb = breaker();
    for (let i = 0; i < 9; i++) expect((await record(cb, 'p:m', 'fail')).allowed).toBe(true);
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    await record(cb, 'p:m', 'fail');
    const denied = await cb.admit('p:m', 1000);
    expect(denied).toMatchObject({ allowed: false, reason: 'open', retryAfterMs: 5000 });
  });

  it('successes count: half failures minus one stays closed', async () => {
    const cb = breaker();
    for (let i = 0; i < 11; i++) await record(cb, 'p:m', 'ok');
    for (let i = 0; i < 10; i++) await record(cb, 'p:m', 'fail');
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
  });

  it('forgets calls older than the window', async () => {
    const cb = breaker();
    for (let i = 0; i < 9; i++) await record(cb, 'p:m', 'fail');
    clock += 11_000;
    await record(cb, 'p:m', 'fail');
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
  });

  it('half-open admits exactly one probe; its failure doubles the open time, its success resets it', async () => {
    const cb = breaker();
    for (let i = 0; i < 10; i++) await record(cb, 'p:m', 'fail');
    clock += 5_000;
    const admissions = await Promise.all(Array.from({ length: 20 }, () => cb.admit('p:m', 1000)));
    const probes = admissions.filter((a) => a.allowed);
    expect(probes).toHaveLength(1);
    expect(admissions.filter((a) => !a.allowed).every((a) => !a.allowed && a.retryAfterMs > 0)).toBe(true);
    const probe = probes[0]!;
    expect(probe.allowed && probe.permit.probe).toBe(true);
    if (probe.allowed) await probe.permit.failure();
    expect(await cb.admit('p:m', 1000)).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
    clock += 10_000;
    const second = await cb.admit('p:m', 1000);
    if (second.allowed) await second.permit.failure();
    expect(await cb.admit('p:m', 1000)).toMatchObject({ allowed: false, retryAfterMs: 20_000 });
    clock += 20_000;
    const third = await cb.admit('p:m', 1000);
    if (third.allowed) await third.permit.failure();
    // Capped at max_open_ms.
    expect(await cb.admit('p:m', 1000)).toMatchObject({ allowed: false, retryAfterMs: 20_000 });
    clock += 20_000;
    const recovering = await cb.admit('p:m', 1000);
    expect(recovering.allowed).toBe(true);
    if (recovering.allowed) await recovering.permit.success();
    // Closed, with a fresh window: 9 failures do not reopen it; the next opening is base length.
    for (let i = 0; i < 9; i++) await record(cb, 'p:m', 'fail');
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    await record(cb, 'p:m', 'fail');
    expect(await cb.admit('p:m', 1000)).toMatchObject({ allowed: false, retryAfterMs: 5_000 });
  });

  it('a probe that is released (caller fault, cancelled) lets the next caller probe', async () => {
    const cb = breaker();
    for (let i = 0; i < 10; i++) await record(cb, 'p:m', 'fail');
    clock += 5_000;
    const probe = await cb.admit('p:m', 1000);
    expect((await cb.admit('p:m', 1000)).allowed).toBe(false);
    if (probe.allowed) await probe.permit.release();
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
  });

  it('a lost probe frees its lease after leaseMs', async () => {
    const cb = breaker();
    for (let i = 0; i < 10; i++) await record(cb, 'p:m', 'fail');
    clock += 5_000;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    clock += 999;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(false);
    clock += 2;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
  });

  it('a 429 cool-down turns callers away until it ends, without counting as failure', async () => {
    const cb = breaker();
    await cb.coolDown('p:m', 2000);
    expect(await cb.admit('p:m', 1000)).toMatchObject({
      allowed: false,
      reason: 'cooling',
      retryAfterMs: 2000,
    });
    clock += 2000;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
  });

  it('keeps circuits apart per provider and model, and shows them in the gauge and openCircuits', async () => {
    const cb = breaker();
    for (let i = 0; i < 10; i++) await record(cb, 'a:1', 'fail');
    expect((await cb.admit('a:1', 1000)).allowed).toBe(false);
    expect((await cb.admit('a:2', 1000)).allowed).toBe(true);
    expect(openCircuits(clock)).toEqual([{ key: 'a:1', state: 'open', retryAfterMs: 5000 }]);
    const gauge = await registry.getSingleMetricAsString('llm_circuit_state');
    expect(gauge).toContain('llm_circuit_state{provider="a",model="1"} 1');
  });
});

/**
 * The few commands the breaker sends, over a Map; each MGET (the state read) waits until the test
 * lets it answer, with what the store holds at that moment.
 */
class HeldRedis {
  readonly store = new Map<string, string>();
  readonly reads: Array<() => void> = [];
  mget(...keys: string[]): Promise<unknown[]> {
    return new Promise((resolve) => {
      this.reads.push(() => resolve(keys.map((k) => this.store.get(k) ?? null)));
    });
  }
  async set(key: string, value: string, opts: { nx?: boolean } = {}): Promise<'OK' | null> {
    if (opts.nx && this.store.has(key)) return null;
    this.store.set(key, value);
    return 'OK';
  }
  async del(...keys: string[]): Promise<number> {
    for (const k of keys) this.store.delete(k);
    return keys.length;
  }
  pipeline() {
    const results: unknown[] = [];
    const pipe = {
      incrby: (key: string, by: number) => {
        const n = Number(this.store.get(key) ?? 0) + by;
        this.store.set(key, String(n));
        results.push(n);
        return pipe;
      },
      pexpire: () => {
        results.push(1);
        return pipe;
      },
      del: (...keys: string[]) => {
        for (const k of keys) this.store.delete(k);
        results.push(keys.length);
        return pipe;
      },
      mget: (...keys: string[]) => {
        results.push(keys.map((k) => this.store.get(k) ?? null));
        return pipe;
      },
      exec: async () => results,
    };
    return pipe;
  }
  /** Answers the oldest read waiting. */
  answer(): void {
    this.reads.shift()!();
  }
}

describe('CircuitBreaker with Redis: the state read off the request path', () => {
  let redis: HeldRedis;
  let work: Promise<unknown>[];
  const shared = () =>
    new CircuitBreaker(policy, redis as unknown as UpstashRedis, {
      now: () => clock,
      waitUntil: (w) => work.push(w),
    });
  /** Resolves once `p` has settled, or says it has not after the microtasks in between ran. */
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 20 && !done; i++) await Promise.resolve();
    return done;
  };
  const openElsewhere = (until: number) => redis.store.set('mas:cb:p:m:state', `${until}:1`);

  beforeEach(() => {
    resetLocalCircuits();
    clock = 1_000_000;
    redis = new HeldRedis();
    work = [];
  });

  it("a circuit's first call in an isolate waits for the read: it learns of a circuit open elsewhere before calling", async () => {
    openElsewhere(clock + 5000);
    const admission = shared().admit('p:m', 1000);
    expect(await settled(admission)).toBe(false);
    expect(redis.reads).toHaveLength(1);
    redis.answer();
    expect(await admission).toMatchObject({ allowed: false, reason: 'open', retryAfterMs: 5000 });
  });

  it('later reads run in the background: the call that starts one is not held by it, and what it brings decides the calls after', async () => {
    const cb = shared();
    const first = cb.admit('p:m', 1000);
    redis.answer();
    expect((await first).allowed).toBe(true);
    openElsewhere(clock + 60_000);
    // Within the second: no read.
    clock += 999;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    expect(redis.reads).toHaveLength(0);
    // A second on: a read is sent, and the call that sent it answers from the copy without it.
    clock += 1;
    const starter = cb.admit('p:m', 1000);
    expect(await settled(starter)).toBe(true);
    expect((await starter).allowed).toBe(true);
    expect(redis.reads).toHaveLength(1);
    expect(work).toHaveLength(1);
    // One read at a time, however late it is.
    clock += 5000;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    expect(redis.reads).toHaveLength(1);
    redis.answer();
    await Promise.all(work);
    expect(await cb.admit('p:m', 1000)).toMatchObject({
      allowed: false,
      reason: 'open',
      retryAfterMs: 54_000,
    });
    expect(openCircuits(clock)).toEqual([{ key: 'p:m', state: 'open', retryAfterMs: 54_000 }]);
  });

  it('a read sent before this isolate opened the circuit does not close it when it comes back', async () => {
    const cb = shared();
    const first = cb.admit('p:m', 1000);
    redis.answer();
    await first;
    clock += 1000;
    // The read goes out (nothing open in Redis yet) ...
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    expect(redis.reads).toHaveLength(1);
    // ... and, while it is away, this isolate's failures open the circuit.
    for (let i = 0; i < 10; i++) await record(cb, 'p:m', 'fail');
    expect(await cb.admit('p:m', 1000)).toMatchObject({ allowed: false, reason: 'open' });
    // The stale read ("closed") comes back: dropped. Redis has the state this isolate wrote.
    redis.store.delete('mas:cb:p:m:state');
    redis.answer();
    await Promise.all(work);
    expect(await cb.admit('p:m', 1000)).toMatchObject({ allowed: false, reason: 'open' });
  });

  it("an admit's own waitUntil holds what it starts (the state read, its permit's batch of successes), not the constructor's", async () => {
    const cb = shared();
    const own: Promise<unknown>[] = [];
    const mine = (w: Promise<unknown>) => {
      own.push(w);
    };
    const first = cb.admit('p:m', 1000, mine);
    redis.answer();
    const admitted = await first;
    if (!admitted.allowed) throw new Error('expected a permit');
    // The first success of the isolate is sent at once, in the admitting request's background.
    await admitted.permit.success();
    expect(own).toHaveLength(1);
    await Promise.all(own);
    expect(redis.store.get(`mas:cb:p:m:n:${Math.floor(clock / 1000)}`)).toBe('1');
    // A second on, the background read goes to the request that starts it.
    clock += 1000;
    expect((await cb.admit('p:m', 1000, mine)).allowed).toBe(true);
    expect(own).toHaveLength(2);
    expect(work).toHaveLength(0);
    redis.answer();
    await Promise.all(own);
    // Without one, the constructor's default holds it.
    clock += 1000;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    expect(work).toHaveLength(1);
    expect(own).toHaveLength(2);
    redis.answer();
    await Promise.all(work);
  });

  it('a recovery seen by another isolate (its probe closed the circuit) reaches this one through the background read', async () => {
    const cb = shared();
    openElsewhere(clock + 5000);
    const first = cb.admit('p:m', 1000);
    redis.answer();
    expect((await first).allowed).toBe(false);
    redis.store.delete('mas:cb:p:m:state');
    clock += 1000;
    expect((await cb.admit('p:m', 1000)).allowed).toBe(false);
    redis.answer();
    await Promise.all(work);
    expect((await cb.admit('p:m', 1000)).allowed).toBe(true);
    expect(openCircuits(clock)).toEqual([]);
  });
});

describe('retry budget', () => {
  beforeEach(() => retryBudget.reset());
  const budget = { ratio: 0.2, min_retries: 3, window_ms: 10_000 };

  it('allows min_retries plus ratio x requests in the window, per model and overall', () => {
    const now = 5_000_000;
    for (let i = 0; i < 10; i++) retryBudget.request('p:a', budget, now);
    let allowed = 0;
    while (retryBudget.tryRetry('p:a', budget, now)) allowed++;
    expect(allowed).toBe(5); // 3 + 0.2 x 10
    // Overall: the 5 retries already taken count against every model.
    retryBudget.request('p:b', budget, now);
    let other = 0;
    while (retryBudget.tryRetry('p:b', budget, now)) other++;
    expect(other).toBe(0); // overall: 3 + 0.2 x 11 = 5.2, already 5 taken
    // A new window brings the budget back.
    expect(retryBudget.tryRetry('p:a', budget, now + 11_000)).toBe(true);
  });
});
