import { describe, expect, inject, it } from 'vitest';
import app from '../../functions/index.ts';
import { generateApiKey, sha256Hex } from '../../shared/auth/api-keys.ts';
import { getSettings } from '../../shared/env.ts';
import { getRedis } from '../../shared/redis/client.ts';
import { adminSql, call, testEnv } from './helpers.ts';

// A principal of its own (a key in auth.api_keys), so no other test file's traffic counts here.
async function freshPrincipal(role: 'agent' | 'approver'): Promise<{ id: string; key: string }> {
  const key = generateApiKey();
  const id = `rl-${crypto.randomUUID().slice(0, 12)}`;
  await adminSql('insert into auth.api_keys (id, role, key_hash) values ($1, $2, $3)', [
    id,
    role,
    await sha256Hex(key),
  ]);
  return { id, key };
}

describe.skipIf(inject('stackInfo').redis !== 'ok')('one rate-limit token per request', () => {
  /** Hits Redis holds for this principal across the sliding window's buckets. */
  async function redisHits(role: string, id: string): Promise<number> {
    const redis = getRedis(getSettings(await testEnv()))!;
    const keys = await redis.keys(`mas:ratelimit:${role}:${id}:*`);
    let total = 0;
    for (const k of keys) total += Number(await redis.get(k));
    return total;
  }

  it.each([
    ['/v1/approvals', 'approver'], // matched by both `/v1/approvals` and `/v1/approvals/*`
    ['/v1/approvals?status=pending', 'approver'],
    ['/v1/models', 'agent'], // `/v1/models` and `/v1/models/*`
  ] as const)('%s spends one token', async (path, role) => {
    const agent = await freshPrincipal(role);
    const env = await testEnv();
    for (let i = 1; i <= 3; i++) {
      const res = await call(app, path, { headers: { authorization: `Bearer ${agent.key}` }, env });
      expect(res.status).toBe(200);
      expect(await redisHits(role, agent.id)).toBe(i);
    }
  });
});
