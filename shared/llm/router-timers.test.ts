import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { CircuitBreaker, resetLocalCircuits } from './circuit-breaker.ts';
import { modelsConfigSchema } from './models-schema.ts';
import { ProviderError } from './provider-error.ts';
import type { ResolvedModel } from './registry.ts';
import { type RouteContext, routeCall } from './router.ts';

/**
 * "No per-request timer or signal outlives its request": every way an attempt can end (an
 * answer, a retried failure, a caller's 4xx, a timeout, the caller leaving, a stream and its
 * end), run many times, leaves no timer armed and no listener on the caller's signal.
 */

const config = modelsConfigSchema.parse({
  providers: {
    fake: { type: 'openai_compatible', base_url: 'http://fake.test/v1', api_key_env: 'FAKE_KEY' },
  },
  models: [{ id: 'm', provider: 'fake', upstream: 'm', capabilities: ['chat'], context_window: 8192 }],
  roles: { r: ['m'] },
  policy: { retries: 1, retry_budget: { ratio: 1, min_retries: 1_000_000, window_ms: 10_000 } },
});
const model: ResolvedModel = {
  model: config.models[0]!,
  providerId: 'fake',
  provider: { ...config.providers.fake!, timeout_ms: 1000 },
  baseURL: 'http://fake.test/v1',
  apiKey: 'k',
};

/** A caller's signal that counts the listeners on it. */
function countedSignal() {
  const controller = new AbortController();
  const signal = controller.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const live = new Set<unknown>();
  signal.addEventListener = ((type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
    if (type === 'abort' && !live.has(fn)) {
      live.add(fn);
      listeners++;
    }
    add(type, fn, o as never);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListenerOrEventListenerObject, o?: unknown) => {
    if (type === 'abort' && live.delete(fn)) listeners--;
    remove(type, fn, o as never);
  }) as typeof signal.removeEventListener;
  return { controller, signal, listeners: () => listeners };
}

function context(signal: AbortSignal, streaming = false): RouteContext {
  return {
    target: { role: 'r', chain: [model] },
    policy: config.policy,
    breaker: new CircuitBreaker(config.policy.circuit_breaker),
    log: createLogger({}, 'silent'),
    signal,
    headers: () => ({}),
    sleep: async () => undefined,
    streaming,
  };
}

/** Resolves when the attempt's signal aborts (the per-attempt timer, or the caller leaving). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

describe('router: nothing outlives a request', () => {
  beforeEach(() => {
    resetLocalCircuits();
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('answers, retries, 4xx, timeouts and cancels leave no timer and no listener', async () => {
    // The pattern that kept a minute of requests on the heap: timers the fake clock cannot see.
    const timeoutSignal = vi.spyOn(AbortSignal, 'timeout');
    const anySignal = vi.spyOn(AbortSignal, 'any');
    const caller = countedSignal();
    for (let i = 0; i < 50; i++) {
      // An answer.
      await routeCall(context(caller.signal), async () => 'ok');
      // A 500, retried, then an answer.
      let calls = 0;
      await routeCall(context(caller.signal), async () => {
        if (calls++ === 0) throw new ProviderError('fake', '500', { status: 500 });
        return 'ok';
      });
      // A caller's 400: returned at once.
      await expect(
        routeCall(context(caller.signal), async () => {
          throw new ProviderError('fake', 'bad', { status: 400 });
        }),
      ).rejects.toMatchObject({ status: 400 });
      // Both attempts time out (the per-attempt timer fires).
      const timedOut = routeCall(context(caller.signal), (_m, signal) => untilAborted(signal));
      const settled = expect(timedOut).rejects.toMatchObject({ status: 504 });
      await vi.advanceTimersByTimeAsync(1000);
      await vi.advanceTimersByTimeAsync(1000);
      await settled;
      resetLocalCircuits();
    }
    expect(vi.getTimerCount()).toBe(0);
    expect(caller.listeners()).toBe(0);

    // The caller leaves mid-attempt: cancelled, and nothing left behind either.
    const leaving = countedSignal();
    const cancelled = routeCall(context(leaving.signal), (_m, signal) => untilAborted(signal));
    const rejected = expect(cancelled).rejects.toMatchObject({ status: 499 });
    await vi.advanceTimersByTimeAsync(10);
    leaving.controller.abort(new Error('caller left'));
    await rejected;
    expect(vi.getTimerCount()).toBe(0);
    expect(leaving.listeners()).toBe(0);
    expect(timeoutSignal).not.toHaveBeenCalled();
    expect(anySignal).not.toHaveBeenCalled();
  });

  it('a stream keeps only its link to the caller, until its writer disposes it', async () => {
    const caller = countedSignal();
    const streams = [];
    for (let i = 0; i < 20; i++) {
      streams.push(await routeCall(context(caller.signal, true), async () => 'opened'));
    }
    // Open streams: the per-attempt timer stopped at the first chunk; the caller's abort still
    // reaches each upstream.
    expect(vi.getTimerCount()).toBe(0);
    expect(caller.listeners()).toBe(20);
    for (const routed of streams) {
      routed.dispose();
      routed.dispose();
    }
    expect(caller.listeners()).toBe(0);
  });
});
