import { describe, expect, it } from 'vitest';
import { LocalLimiter } from './local-limiter.ts';

describe('LocalLimiter', () => {
  it('allows `limit` requests per window per key, then refuses until the window slides', () => {
    const limiter = new LocalLimiter(3, 1000);
    const t0 = 10_000;
    expect([1, 2, 3, 4].map(() => limiter.take('a', t0).success)).toEqual([true, true, true, false]);
    expect(limiter.take('b', t0).success).toBe(true);
    // Half-way into the next window, half of the previous window's 3 (floored: 1) still counts.
    expect([1, 2, 3].map(() => limiter.take('a', t0 + 1500).success)).toEqual([true, true, false]);
    // Two windows later, the full budget is back.
    expect(limiter.take('a', t0 + 3000).remaining).toBe(2);
  });

  it('reports when the window resets', () => {
    const limiter = new LocalLimiter(1, 60_000);
    const result = limiter.take('k', 125_000);
    expect(result.reset).toBe(180_000);
  });
});
