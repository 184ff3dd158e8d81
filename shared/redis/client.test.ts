import { describe, expect, it } from 'vitest';
import { RedisHealth } from './client.ts';

describe('the "Redis is down" breaker', () => {
  it('opens after consecutive failures, lets one command try after the pause, closes on success', () => {
    let now = 1_000;
    const health = new RedisHealth(() => now, 3, 5000);
    health.failed();
    health.failed();
    expect(health.down).toBe(false);
    health.ok(); // a success in between starts the count again
    health.failed();
    health.failed();
    expect(health.down).toBe(false);
    health.failed();
    expect(health.down).toBe(true);
    now += 4999;
    expect(health.down).toBe(true);
    now += 1;
    expect(health.down).toBe(false); // one command may try
    health.failed(); // and one failure re-opens at once
    expect(health.down).toBe(true);
    now += 5000;
    health.ok();
    expect(health.down).toBe(false);
    health.failed();
    expect(health.down).toBe(false); // closed: three in a row needed again
  });
});
