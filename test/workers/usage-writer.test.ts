import type { Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { recordUsage, type UsageRow } from '../../shared/governance/usage-writer.ts';
import { testEnv } from './helpers.ts';

/** A request's context as recordUsage sees it: its env, and a waitUntil that keeps what it is given. */
function fakeContext(env: Record<string, unknown>, held: Array<Promise<unknown>>): Context {
  return {
    env,
    executionCtx: { waitUntil: (p: Promise<unknown>) => held.push(p), passThroughOnException() {} },
    get: () => undefined,
  } as unknown as Context;
}

const row = (principal: string): UsageRow => ({
  idempotency_key: crypto.randomUUID(),
  principal,
  agent_id: null,
  role: 'fast',
  endpoint: 'chat',
  provider: 'fake',
  model: 'fast',
  prompt_tokens: 9,
  completion_tokens: 5,
  cached_tokens: 0,
  cost_usd: null,
  cache_hit: false,
  correlation_id: null,
});

describe('usage writer', () => {
  it("gathers an isolate's rows for USAGE_FLUSH_MS into one write, held by the request that opened the batch", async () => {
    const env = await testEnv({ USAGE_FLUSH_MS: '100' });
    const principal = `usage-batch-${crypto.randomUUID().slice(0, 8)}`;
    const held: Array<Array<Promise<unknown>>> = [[], [], []];
    for (const h of held) recordUsage(fakeContext(env, h), row(principal));
    // Only the opener holds the write: its timer and connection are its own request's.
    expect(held.map((h) => h.length)).toEqual([1, 0, 0]);
    await Promise.all(held[0]!);
    const count = await withPostgres(getSettings(env), async (client) => {
      const { rows } = await client.query<{ n: string }>(
        'select count(*)::text as n from governance.usage where principal = $1',
        [principal],
      );
      return Number(rows[0]!.n);
    });
    expect(count).toBe(3);
  });

  it('a batch takes at most 200 rows: the next row opens a new one, held by its own request', async () => {
    const env = await testEnv({ USAGE_FLUSH_MS: '100' });
    const principal = `usage-full-${crypto.randomUUID().slice(0, 8)}`;
    const held: Array<Array<Promise<unknown>>> = Array.from({ length: 201 }, () => []);
    for (const h of held) recordUsage(fakeContext(env, h), row(principal));
    const openers = held.flatMap((h, i) => (h.length ? [i] : []));
    expect(openers).toEqual([0, 200]);
    await Promise.all(held.flat());
    const count = await withPostgres(getSettings(env), async (client) => {
      const { rows } = await client.query<{ n: string }>(
        'select count(*)::text as n from governance.usage where principal = $1',
        [principal],
      );
      return Number(rows[0]!.n);
    });
    expect(count).toBe(201);
  });
});
