import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Settings } from '../env.ts';
import type { LimitCheck } from '../governance/reservations.ts';
import { budgetReservations } from '../governance/spend.ts';
import { getRedis } from './client.ts';

/**
 * "No per-request timer or signal outlives its request", for Redis: every command the product's
 * clients send (the hint-grade client of getRedis and the budgets' own) runs under a deadline that
 * is cleared the moment the command settles. Answers, error replies, network failures retried,
 * and timeouts, run many times, leave no timer armed: an `AbortSignal.timeout` per command would
 * keep one (and the request it references) for the whole deadline.
 */

let n = 0;
const settings = () =>
  ({
    UPSTASH_REDIS_REST_URL: `http://redis-${++n}.test`,
    UPSTASH_REDIS_REST_TOKEN: 't',
  }) as Settings;

type Mode = 'ok' | 'error' | 'network-once' | 'hang';
let mode: Mode = 'ok';
let failedOnce = false;

/** Upstash's REST protocol, answered at once (or never, for 'hang': until the signal aborts). */
async function fakeUpstash(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const signal = init?.signal ?? undefined;
  if (mode === 'hang') {
    return new Promise((_, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  if (mode === 'network-once' && !failedOnce) {
    failedOnce = true;
    throw new TypeError('fetch failed');
  }
  if (mode === 'error') return Response.json({ error: 'ERR wrong type' }, { status: 400 });
  const body = JSON.parse(String(init?.body)) as unknown[];
  const one = (command: unknown[]) =>
    /^eval/i.test(String(command[0])) ? { result: [1, 0, 0] } : { result: 'OK' };
  return Response.json(
    String(input).endsWith('/pipeline') ? body.map((c) => one(c as unknown[])) : one(body),
  );
}

const check = (key: string): LimitCheck =>
  ({
    scope: 'principal',
    id: 'p',
    kind: 'rpm',
    key,
    limit: 10,
    amount: 1,
    resetAt: 0,
    rebuildable: false,
  }) as never;

describe('Redis commands: nothing outlives a command', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('fetch', vi.fn(fakeUpstash));
    mode = 'ok';
    failedOnce = false;
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("getRedis's commands: answers, error replies, retries and timeouts leave no timer", async () => {
    const timeoutSignal = vi.spyOn(AbortSignal, 'timeout');
    const redis = getRedis(settings())!;
    for (let i = 0; i < 50; i++) {
      mode = 'ok';
      expect(await redis.set(`k${i}`, 'v')).toBe('OK');
      expect(await redis.pipeline().incrby('a', 1).pexpire('a', 10).exec()).toEqual(['OK', 'OK']);
      mode = 'error';
      await expect(redis.get('k')).rejects.toThrow(/wrong type/);
      expect(vi.getTimerCount()).toBe(0);
      // A network failure, retried after the backoff, then an answer.
      mode = 'network-once';
      failedOnce = false;
      const retried = redis.get('k');
      await vi.advanceTimersByTimeAsync(50);
      expect(await retried).toBe('OK');
      expect(vi.getTimerCount()).toBe(0);
      // A Redis that hangs: the deadline still fires, as a TimeoutError.
      mode = 'hang';
      const hung = expect(redis.get('k')).rejects.toMatchObject({ name: 'TimeoutError' });
      await vi.advanceTimersByTimeAsync(1000);
      await hung;
    }
    expect(vi.getTimerCount()).toBe(0);
    expect(timeoutSignal).not.toHaveBeenCalled();
  });

  it('the budget commands (reserve, settle, seed) leave no timer, and time out at 5 s', async () => {
    const timeoutSignal = vi.spyOn(AbortSignal, 'timeout');
    const store = budgetReservations(settings());
    const checks = [check('mas:budget:principal:p:rpm')];
    for (let i = 0; i < 50; i++) {
      expect(await store.reserve(`r${i}`, checks, Date.now() + 60_000)).toMatchObject({ status: 'ok' });
      await store.settle(`r${i}`, checks, [1]);
      await store.seed(checks[0]!, 0);
    }
    expect(vi.getTimerCount()).toBe(0);

    mode = 'hang';
    let failed: unknown;
    const hung = store.reserve('late', checks, Date.now() + 60_000).catch((err: unknown) => {
      failed = err;
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(failed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    await hung;
    expect(failed).toMatchObject({ name: 'TimeoutError' });
    expect(vi.getTimerCount()).toBe(0);
    expect(timeoutSignal).not.toHaveBeenCalled();
  });
});
