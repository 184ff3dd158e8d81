import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/ports.ts';
import { type RedisServer, startRedisServer } from '../../local/processes.ts';
import { startUpstashBridge, type UpstashBridge } from '../../local/upstash-bridge.ts';
import { UpstashError, UpstashRedis } from './upstash-rest.ts';

// Our REST client against a real Redis (through the local Upstash bridge), with the official
// `@upstash/redis` client as the judge: what one writes the other reads the same way.
describe('UpstashRedis, the REST client of the functions', () => {
  let server: RedisServer | undefined;
  let bridge: UpstashBridge;
  let ours: UpstashRedis;
  let sdk: Redis;
  const prefix = `rest-test:${Date.now()}:`;

  beforeAll(async () => {
    server = process.env.REDIS_URL ? undefined : await startRedisServer();
    const redisUrl = process.env.REDIS_URL ?? server?.url;
    if (!redisUrl) throw new Error('redis-server is needed (apt-get install redis-server), or REDIS_URL');
    bridge = await startUpstashBridge({ redisUrl, token: 'test-token', port: 0 });
    ours = new UpstashRedis({
      url: bridge.url,
      token: 'test-token',
      retry: { retries: 1, backoff: () => 10 },
    });
    sdk = new Redis({ url: bridge.url, token: 'test-token' });
  });

  afterAll(async () => {
    const keys = await sdk.keys(`${prefix}*`);
    if (keys.length) await sdk.del(...keys);
    await bridge?.close();
    await server?.stop();
  });

  it('reads and writes values as @upstash/redis does: strings, JSON, numbers, unicode, missing', async () => {
    const values: unknown[] = [
      'héllo ✓',
      { nested: [1, 'two'] },
      42,
      '007',
      '12345678901234567890',
      'open:3',
    ];
    for (const [i, value] of values.entries()) {
      expect(await ours.set(`${prefix}v${i}`, value)).toBe('OK');
      expect(await ours.get(`${prefix}v${i}`)).toEqual(await sdk.get(`${prefix}v${i}`));
      await sdk.set(`${prefix}s${i}`, value);
      expect(await ours.get(`${prefix}s${i}`)).toEqual(await sdk.get(`${prefix}s${i}`));
    }
    expect(await ours.get(`${prefix}missing`)).toBeNull();
    expect(await ours.mget(`${prefix}v0`, `${prefix}missing`, `${prefix}v2`)).toEqual(
      await sdk.mget(`${prefix}v0`, `${prefix}missing`, `${prefix}v2`),
    );
  });

  it('SET NX / PX, DEL, KEYS, SCAN, PING', async () => {
    expect(await ours.set(`${prefix}nx`, 'a', { nx: true, px: 60_000 })).toBe('OK');
    expect(await ours.set(`${prefix}nx`, 'b', { nx: true, px: 60_000 })).toBeNull();
    expect(await ours.get(`${prefix}nx`)).toBe('a');
    expect(await sdk.pttl(`${prefix}nx`)).toBeGreaterThan(50_000);
    await ours.set(`${prefix}ex`, 'x', { ex: 100 });
    expect(await sdk.ttl(`${prefix}ex`)).toBeGreaterThan(90);
    expect((await ours.keys(`${prefix}n*`)).sort()).toEqual([`${prefix}nx`]);
    const [cursor, found] = await ours.scan(0, { match: `${prefix}nx`, count: 1000 });
    expect(typeof cursor).toBe('string');
    expect(Array.isArray(found)).toBe(true);
    expect(await ours.del(`${prefix}nx`, `${prefix}ex`, `${prefix}none`)).toBe(2);
    expect(await ours.ping()).toBe('PONG');
  });

  it('pipelines in one request; an error reply in one command throws', async () => {
    const pipe = ours.pipeline();
    pipe.incrby(`${prefix}c`, 3);
    pipe.pexpire(`${prefix}c`, 60_000);
    pipe.incrby(`${prefix}c`, 1);
    pipe.mget(`${prefix}c`, `${prefix}missing`);
    expect(await pipe.exec()).toEqual([3, 1, 4, [4, null]]);
    await sdk.set(`${prefix}text`, 'not a number');
    const bad = ours.pipeline();
    bad.incrby(`${prefix}text`, 1);
    await expect(bad.exec()).rejects.toThrow(UpstashError);
    await expect(ours.pipeline().exec()).rejects.toThrow(/empty/);
  });

  it('scripts: EVALSHA, loaded by EVAL the first time; Redis errors are UpstashErrors', async () => {
    const script = ours.createScript<number>(
      `return redis.call('INCRBY', KEYS[1], ARGV[1]) + ${Date.now() % 1000}`,
    );
    const first = await script.exec([`${prefix}lua`], ['2']);
    const second = await script.exec([`${prefix}lua`], ['2']);
    expect(second - first).toBe(2);
    await expect(ours.command(['incrby', `${prefix}text`, 1])).rejects.toThrow(UpstashError);
    await expect(ours.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/noscript/i);
  });

  it('drives @upstash/ratelimit (its sliding window scripts) like the SDK does', async () => {
    const limiter = new Ratelimit({
      redis: ours as unknown as ConstructorParameters<typeof Ratelimit>[0]['redis'],
      limiter: Ratelimit.slidingWindow(2, '60 s'),
      prefix: `${prefix}rl`,
      analytics: false,
    });
    const results: boolean[] = [];
    for (let i = 0; i < 3; i++) results.push((await limiter.limit('who')).success);
    expect(results).toEqual([true, true, false]);
  });

  it('a wrong token and a dead Redis are errors, not hangs; the signal bounds each command', async () => {
    const wrong = new UpstashRedis({ url: bridge.url, token: 'nope', retry: false });
    await expect(wrong.get('x')).rejects.toThrow(UpstashError);
    const unreachable = new UpstashRedis({
      url: `http://127.0.0.1:${await freePort()}`,
      token: 't',
      retry: { retries: 1, backoff: () => 10 },
    });
    await expect(unreachable.get('x')).rejects.toThrow();
    const timed = new UpstashRedis({
      url: bridge.url,
      token: 'test-token',
      signal: () => AbortSignal.abort(),
    });
    await expect(timed.get('x')).rejects.toThrow(/abort/i);
  });
});
