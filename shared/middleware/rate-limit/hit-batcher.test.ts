import { describe, expect, it } from 'vitest';
import { HitBatcher } from './hit-batcher.ts';

/** A `send` that records each batch's hit count. */
const recorder = () => {
  const sent: number[] = [];
  return { sent, send: async (hits: number) => void sent.push(hits) };
};

/**
 * A batcher whose key `k` was just flushed: a key never flushed is due at once, so its first hit
 * goes out alone (checked here) and the hits after it wait for `flushMs`.
 */
const primed = async (flushMs: number) => {
  const b = new HitBatcher();
  const r = recorder();
  await b.add('k', 100, flushMs, r.send);
  expect(r.sent).toEqual([1]);
  r.sent.length = 0;
  return { b, ...r };
};

describe('HitBatcher', () => {
  it('gathers hits into one send, held only by the caller that started the timer', async () => {
    const { b, sent, send } = await primed(30);
    const flushes = [1, 2, 3].map(() => b.add('k', 100, 30, send));
    // The opener holds the flush; joiners get nothing to hand to waitUntil.
    expect(flushes[0]).toBeInstanceOf(Promise);
    expect(flushes.slice(1)).toEqual([undefined, undefined]);
    expect(b.pending('k')).toBe(3);
    await flushes[0];
    expect(sent).toEqual([3]);
    expect(b.pending('k')).toBe(0);
  });

  it('sends at flushAt hits, from the caller that reached it, and its timer then sends nothing', async () => {
    const { b, sent, send } = await primed(20);
    const first = b.add('k', 3, 20, send);
    expect(b.add('k', 3, 20, send)).toBeUndefined();
    const third = b.add('k', 3, 20, send);
    expect(third).toBe(first);
    await third;
    expect(sent).toEqual([3]);
    // The next hit opens a new batch, sent flushMs after that send, past the first timer's
    // moment: only its own hit goes, the early-sent batch's timer sent nothing more.
    const next = b.add('k', 3, 20, send);
    expect(next).toBeInstanceOf(Promise);
    await next;
    expect(sent).toEqual([3, 1]);
  });

  it('take() hands over unsent hits, so the timer sends none of them again', async () => {
    const { b, sent, send } = await primed(10);
    const flush = b.add('k', 100, 10, send);
    b.add('k', 100, 10, send);
    expect(b.take('k')).toBe(2);
    await flush;
    expect(sent).toEqual([]);
    expect(b.take('other')).toBe(0);
  });

  it('flushMs 0 sends each hit at once, each held by its own caller', async () => {
    const b = new HitBatcher();
    const { sent, send } = recorder();
    const a = b.add('k', 100, 0, send);
    const c = b.add('k', 100, 0, send);
    expect(a).toBeInstanceOf(Promise);
    expect(c).toBeInstanceOf(Promise);
    await Promise.all([a, c]);
    expect(sent).toEqual([1, 1]);
  });
});
