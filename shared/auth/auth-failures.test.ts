import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Settings } from '../env.ts';
import { recordAuthFailure, refuseIfOverFailureLimit } from './auth-failures.ts';

// The per-client limit on failed authentications, in this isolate (no Redis: free misses).
describe('auth failures', () => {
  afterEach(() => vi.useRealTimers());

  it('a client that used up its allowance just before a window boundary stays refused after it', async () => {
    vi.useFakeTimers();
    // 10 ms before a minute boundary (the counting window is a minute).
    vi.setSystemTime(Date.UTC(2026, 11, 1, 19, 5, 59, 990));
    const settings = { RATE_LIMIT_AUTH_FAILURES: 3 } as unknown as Settings;
    const client = `203.0.113.${Math.floor(Math.random() * 250)}:boundary`;
    for (let i = 0; i < 3; i++) await recordAuthFailure(settings, client, { costly: false });
    vi.setSystemTime(Date.UTC(2026, 11, 1, 19, 6, 0, 20));
    let refused: unknown;
    try {
      refuseIfOverFailureLimit(() => client);
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ status: 429, code: 'too_many_failed_authentications' });
    // ...for a window from the failure that used the allowance up, not for ever.
    vi.setSystemTime(Date.UTC(2026, 11, 1, 19, 7, 0, 0));
    expect(() => refuseIfOverFailureLimit(() => client)).not.toThrow();
  });

  it("works out the client's address only while some client is refused", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 11, 1, 20, 0, 0, 0));
    const settings = { RATE_LIMIT_AUTH_FAILURES: 2 } as unknown as Settings;
    const blocked = `198.51.100.${Math.floor(Math.random() * 250)}:blocked`;
    const other = vi.fn(() => '192.0.2.1:other');
    for (let i = 0; i < 2; i++) await recordAuthFailure(settings, blocked, { costly: false });
    expect(() => refuseIfOverFailureLimit(() => blocked)).toThrow(/retry after/);
    refuseIfOverFailureLimit(other);
    expect(other).toHaveBeenCalledTimes(1);
    // A window later nobody is refused: no address is worked out, the refused client passes.
    vi.setSystemTime(Date.UTC(2026, 11, 1, 20, 1, 0, 0));
    refuseIfOverFailureLimit(other);
    expect(other).toHaveBeenCalledTimes(1);
    expect(() => refuseIfOverFailureLimit(() => blocked)).not.toThrow();
    // ...and a new refusal is honoured again.
    for (let i = 0; i < 2; i++) await recordAuthFailure(settings, blocked, { costly: false });
    expect(() => refuseIfOverFailureLimit(() => blocked)).toThrow(/retry after/);
  });
});
