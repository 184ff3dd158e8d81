import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../../local/processes.ts';
import { startUpstashBridge, type UpstashBridge } from '../../../local/upstash-bridge.ts';
import { UpstashRedis } from '../../redis/upstash-rest.ts';
import { sharedSlidingWindow } from './shared-limiter.ts';

// Our shared limiter against a real Redis, with @upstash/ratelimit's sliding window (whose
// algorithm and keys it keeps) as the judge: both count the same hits. Hour-long windows, so a
// run does not straddle a window boundary.
describe('sharedSlidingWindow', () => {
  let server: RedisServer | undefined;
  let bridge: UpstashBridge;
  let ours: UpstashRedis;
  let sdk: Redis;
  const prefix = `limiter-test:${Date.now()}`;

  beforeAll(async () => {
    server = process.env.REDIS_URL ? undefined : await startRedisServer();
    const redisUrl = process.env.REDIS_URL ?? server?.url;
    if (!redisUrl) throw new Error('redis-server is needed (apt-get install redis-server), or REDIS_URL');
    bridge = await startUpstashBridge({ redisUrl, token: 't', port: 0 });
    ours = new UpstashRedis({ url: bridge.url, token: 't' });
    sdk = new Redis({ url: bridge.url, token: 't' });
  });

  afterAll(async () => {
    const keys = await sdk.keys(`${prefix}*`);
    if (keys.length) await sdk.del(...keys);
    await bridge?.close();
    await server?.stop();
  });

  it('lets the limit through, refuses the next until the window ends, and counts in plain keys', async () => {
    const limiter = sharedSlidingWindow(ours, { tokens: 3, windowMs: 3_600_000, prefix: `${prefix}:a` });
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await limiter.limit('who'));
    expect(verdicts.map((v) => v.success)).toEqual([true, true, true, false, false]);
    expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0, 0, 0]);
    const windowEnd = (Math.floor(Date.now() / 3_600_000) + 1) * 3_600_000;
    expect(verdicts[3]!.reset).toBe(windowEnd);
    const keys = await sdk.keys(`${prefix}:a:who:*`);
    expect(keys).toHaveLength(1);
    expect(Number(await sdk.get(keys[0]!))).toBe(3);
    // Another identifier has its own count.
    expect((await limiter.limit('other')).success).toBe(true);
  });

  it('shares its counters with @upstash/ratelimit: what one spends, the other sees', async () => {
    const p = `${prefix}:b`;
    const mine = sharedSlidingWindow(ours, { tokens: 3, windowMs: 3_600_000, prefix: p });
    const theirs = new Ratelimit({
      redis: sdk,
      limiter: Ratelimit.slidingWindow(3, '1 h'),
      prefix: p,
      analytics: false,
      ephemeralCache: false,
    });
    expect((await mine.limit('who')).success).toBe(true);
    expect((await mine.limit('who')).success).toBe(true);
    const third = await theirs.limit('who');
    expect(third).toMatchObject({ success: true, remaining: 0 });
    expect((await mine.limit('who')).success).toBe(false);
    expect((await theirs.limit('who')).success).toBe(false);
  });

  it('spends several tokens at once, as @upstash/ratelimit does with `rate`', async () => {
    const p = `${prefix}:c`;
    const mine = sharedSlidingWindow(ours, { tokens: 5, windowMs: 3_600_000, prefix: p });
    const theirs = new Ratelimit({
      redis: sdk,
      limiter: Ratelimit.slidingWindow(5, '1 h'),
      prefix: p,
      analytics: false,
      ephemeralCache: false,
    });
    expect(await mine.limit('who', 3)).toMatchObject({ success: true, remaining: 2 });
    expect(await theirs.limit('who', { rate: 1 })).toMatchObject({ success: true, remaining: 1 });
    // Past the limit: all three counted, and the verdict says over.
    expect((await mine.limit('who', 3)).success).toBe(false);
    const keys = await sdk.keys(`${p}:who:*`);
    expect(Number(await sdk.get(keys[0]!))).toBe(7);
  });
});
