import { beforeEach, describe, expect, it } from 'vitest';
import { registry } from '../metrics/registry.ts';
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
