import { beforeEach, describe, expect, it } from 'vitest';
import { CircuitBreaker, resetLocalCircuits } from './circuit-breaker.ts';

const policy = { failure_threshold: 3, window_ms: 10_000, open_ms: 5_000 };

describe('CircuitBreaker (per isolate)', () => {
  beforeEach(() => resetLocalCircuits());

  it('opens after N failures in the window, half-opens after open_ms, closes on success', async () => {
    const cb = new CircuitBreaker(policy);
    const t0 = 1_000_000;
    for (let i = 0; i < 2; i++) await cb.onFailure('p:m', t0 + i);
    expect(await cb.isOpen('p:m', t0 + 10)).toBe(false);
    await cb.onFailure('p:m', t0 + 20);
    expect(await cb.isOpen('p:m', t0 + 30)).toBe(true);
    // After open_ms one probe goes through (half-open)...
    expect(await cb.isOpen('p:m', t0 + 20 + 5_001)).toBe(false);
    // ...and a failing probe reopens at once, without waiting for N failures.
    await cb.onFailure('p:m', t0 + 20 + 5_002);
    expect(await cb.isOpen('p:m', t0 + 20 + 5_003)).toBe(true);
    // A successful probe closes it: it takes N fresh failures to open again.
    const later = t0 + 20 + 5_002 + 5_001;
    expect(await cb.isOpen('p:m', later)).toBe(false);
    await cb.onSuccess('p:m');
    await cb.onFailure('p:m', later + 1);
    expect(await cb.isOpen('p:m', later + 2)).toBe(false);
  });

  it('forgets failures older than the window', async () => {
    const cb = new CircuitBreaker(policy);
    await cb.onFailure('p:x', 0);
    await cb.onFailure('p:x', 1);
    await cb.onFailure('p:x', 20_000);
    expect(await cb.isOpen('p:x', 20_001)).toBe(false);
  });

  it('keeps circuits apart per provider and model', async () => {
    const cb = new CircuitBreaker(policy);
    for (let i = 0; i < 3; i++) await cb.onFailure('a:1', i);
    expect(await cb.isOpen('a:1', 10)).toBe(true);
    expect(await cb.isOpen('a:2', 10)).toBe(false);
  });
});
