import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './ports.ts';
import { type RedisServer, startRedisServer } from './processes.ts';
import { startUpstashBridge, type UpstashBridge } from './upstash-bridge.ts';

describe('Upstash REST bridge to a real Redis', () => {
  let server: RedisServer | undefined;
  let bridge: UpstashBridge;
  let redis: Redis;
  const prefix = `bridge-test:${Date.now()}:`;

  beforeAll(async () => {
    server = process.env.REDIS_URL ? undefined : await startRedisServer();
    const redisUrl = process.env.REDIS_URL ?? server?.url;
    if (!redisUrl) throw new Error('redis-server is needed (apt-get install redis-server), or REDIS_URL');
    bridge = await startUpstashBridge({ redisUrl, token: 'test-token', port: 0 });
    redis = new Redis({ url: bridge.url, token: 'test-token' });
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await bridge?.close();
    await server?.stop();
  });

  it('round-trips strings through the base64 reply encoding, unicode and JSON included', async () => {
    await redis.set(`${prefix}a`, 'héllo wörld ✓');
    expect(await redis.get(`${prefix}a`)).toBe('héllo wörld ✓');
    await redis.set(`${prefix}j`, { nested: [1, 'two'] });
    expect(await redis.get(`${prefix}j`)).toEqual({ nested: [1, 'two'] });
    expect(await redis.incr(`${prefix}n`)).toBe(1);
    expect(await redis.get(`${prefix}missing`)).toBeNull();
  });

  it('hashes, lists, expiry', async () => {
    await redis.hset(`${prefix}h`, { a: 'x', b: '2' });
    expect(await redis.hgetall(`${prefix}h`)).toEqual({ a: 'x', b: 2 });
    await redis.rpush(`${prefix}l`, 'one', 'two');
    expect(await redis.lrange(`${prefix}l`, 0, -1)).toEqual(['one', 'two']);
    await redis.expire(`${prefix}l`, 100);
    expect(await redis.ttl(`${prefix}l`)).toBeGreaterThan(90);
  });

  it('pipeline and multi-exec', async () => {
    const p = redis.pipeline();
    p.set(`${prefix}p1`, 'v1');
    p.get(`${prefix}p1`);
    p.incr(`${prefix}p2`);
    expect(await p.exec()).toEqual(['OK', 'v1', 1]);
    const m = redis.multi();
    m.incr(`${prefix}m`);
    m.incr(`${prefix}m`);
    expect(await m.exec()).toEqual([1, 2]);
  });

  it('scripts with Upstash-only shebang flags work through EVAL and EVALSHA', async () => {
    const script = `#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    expect(await redis.eval(script, [`${prefix}s`], ['5'])).toBe(5);
    const sha = await redis.scriptLoad(script);
    expect(await redis.evalsha(sha, [`${prefix}s`], ['1'])).toBe(6);
  });

  it('a Redis error surfaces as an error naming it', async () => {
    await redis.set(`${prefix}str`, 'text');
    await expect(redis.incr(`${prefix}str`)).rejects.toThrow(/not an integer/);
    await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it('refuses a wrong token', async () => {
    const wrong = new Redis({ url: bridge.url, token: 'nope' });
    await expect(wrong.get('x')).rejects.toThrow(/Unauthorized/);
  });

  it('@upstash/ratelimit works through it', async () => {
    const limiter = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(2, '60 s'),
      prefix: `${prefix}rl`,
    });
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await limiter.limit('who')).success);
    expect(results).toEqual([true, true, false]);
  });

  it('answers fast, with an error, when its Redis is gone', async () => {
    const dead = await startUpstashBridge({
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      token: 't',
      port: 0,
    });
    try {
      const client = new Redis({ url: dead.url, token: 't', retry: false });
      const started = Date.now();
      await expect(client.get('x')).rejects.toThrow(/unreachable/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await dead.close();
    }
  });
});
