import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, parseRetryAfter, retryAfterSeconds, sleep } from './backoff.ts';
import { deadline, idleTimer, withDeadline, withTimeout } from './deadline.ts';

describe('deadline', () => {
  it('aborts with a TimeoutError when the timer fires, and says so', async () => {
    const d = deadline(20);
    await new Promise((r) => d.signal.addEventListener('abort', r));
    expect(d.timedOut).toBe(true);
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('follows its parent, without calling that a timeout', () => {
    const parent = new AbortController();
    const d = deadline(10_000, parent.signal);
    parent.abort(new Error('caller left'));
    expect(d.signal.aborted).toBe(true);
    expect(d.timedOut).toBe(false);
    expect((d.signal.reason as Error).message).toBe('caller left');
    d.dispose();
  });

  it('starts aborted when the parent already is', () => {
    const parent = new AbortController();
    parent.abort();
    expect(deadline(10_000, parent.signal).signal.aborted).toBe(true);
  });

  it('stopTimer keeps the parent link; dispose drops it', async () => {
    const parent = new AbortController();
    const streaming = deadline(10, parent.signal);
    streaming.stopTimer();
    const done = deadline(10_000, parent.signal);
    done.dispose();
    await new Promise((r) => setTimeout(r, 40));
    expect(streaming.signal.aborted).toBe(false); // the timer did not fire
    parent.abort();
    expect(streaming.signal.aborted).toBe(true);
    expect(done.signal.aborted).toBe(false);
  });

  it('Infinity means no timer: only the parent or abort() end it', () => {
    const parent = new AbortController();
    const d = deadline(Number.POSITIVE_INFINITY, parent.signal);
    expect(d.signal.aborted).toBe(false);
    d.abort(new Error('quiet'));
    expect((d.signal.reason as Error).message).toBe('quiet');
    expect(d.timedOut).toBe(false);
  });

  it('several parents: the first to abort ends it, with its reason; dispose lets go of all', () => {
    const a = new AbortController();
    const b = new AbortController();
    const d = deadline(Number.POSITIVE_INFINITY, [a.signal, undefined, b.signal]);
    b.abort(new Error('b left'));
    expect((d.signal.reason as Error).message).toBe('b left');
    d.dispose();
    const removed = vi.spyOn(a.signal, 'removeEventListener');
    deadline(Number.POSITIVE_INFINITY, [a.signal]).dispose();
    expect(removed).toHaveBeenCalledTimes(1);
    expect(deadline(10, [a.signal, b.signal]).signal.aborted).toBe(true);
  });

  it('withDeadline: the timer and the link to the parent end when the work settles', async () => {
    vi.useFakeTimers();
    try {
      const parent = new AbortController();
      const removed = vi.spyOn(parent.signal, 'removeEventListener');
      await expect(withDeadline(1000, async () => 7, parent.signal)).resolves.toBe(7);
      await expect(
        withDeadline(1000, async () => Promise.reject(new Error('no')), parent.signal),
      ).rejects.toThrow('no');
      expect(vi.getTimerCount()).toBe(0);
      expect(removed).toHaveBeenCalledTimes(2);
      const late = withDeadline(
        1000,
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      );
      const timedOut = expect(late).rejects.toMatchObject({ name: 'TimeoutError' });
      await vi.advanceTimersByTimeAsync(1000);
      await timedOut;
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('withTimeout rejects with the given error, or passes the value through', async () => {
    await expect(withTimeout(new Promise(() => undefined), 10, () => new Error('idle'))).rejects.toThrow(
      'idle',
    );
    await expect(withTimeout(Promise.resolve(7), 1000, () => new Error('x'))).resolves.toBe(7);
  });
});

describe('idleTimer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once after ms of silence; each touch starts the silence again, without a new timer', async () => {
    vi.useFakeTimers();
    let fired = 0;
    const idle = idleTimer(100, () => {
      fired++;
    });
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(60);
      idle.touch();
      expect(vi.getTimerCount()).toBe(1);
    }
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fired).toBe(1);
  });

  it("watches on when told the quiet was not the upstream's, and dispose leaves no timer", async () => {
    vi.useFakeTimers();
    let asked = 0;
    const idle = idleTimer(100, () => {
      asked++;
      return false;
    });
    await vi.advanceTimersByTimeAsync(250);
    expect(asked).toBe(2);
    expect(vi.getTimerCount()).toBe(1);
    idle.dispose();
    idle.dispose();
    expect(vi.getTimerCount()).toBe(0);
    expect(idleTimer(Number.POSITIVE_INFINITY, () => undefined)).toBeDefined();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('backoff', () => {
  it('full jitter: between 0 and min(max, base * 2^retry)', () => {
    const policy = { base_ms: 100, max_ms: 1000 };
    expect(backoffDelay(policy, 0, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(policy, 2, undefined, () => 0.5)).toBe(200);
    expect(backoffDelay(policy, 10, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 3, undefined, () => 0)).toBe(0);
    for (let i = 0; i < 100; i++) {
      const wait = backoffDelay(policy, 1);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(200);
    }
  });

  it('honours Retry-After over the computed wait', () => {
    expect(backoffDelay({ base_ms: 100, max_ms: 1000 }, 0, 7000)).toBe(7000);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(retryAfterSeconds(1)).toBe('1');
    expect(retryAfterSeconds(1001)).toBe('2');
  });

  it('sleep ends early, clearing its timer, when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
