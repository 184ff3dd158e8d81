import { describe, expect, inject, it, vi } from 'vitest';
import { gatewayConfig } from '../../shared/config/index.ts';
import { readyChecksTotal } from '../../shared/metrics/registry.ts';
import { call, testEnv } from '../../test/workers/helpers.ts';
import readyApp from './index.ts';

interface ReadyBody {
  status: string;
  checks: Record<string, { status: string; latency_ms?: number; error?: string; required: boolean }>;
}

describe('GET /ready', () => {
  it('is ready against the real Postgres and Redis', async () => {
    const res = await call(readyApp, '/ready');
    const body = (await res.json()) as ReadyBody;
    expect(body.checks.postgres?.status).toBe('ok');
    expect(body.checks.postgres?.latency_ms).toBeGreaterThanOrEqual(0);
    if (inject('stackInfo').redis === 'ok') expect(body.checks.redis?.status).toBe('ok');
    expect(body.checks.llm_upstream?.status).toBe('disabled');
    // pgvector is present on embedded PGlite, absent on a stock Debian PostgreSQL: either way it
    // is reported, and its absence does not make the product unready (only vector memory is off).
    expect(['ok', 'fail']).toContain(body.checks.vector_store?.status);
    expect(body.checks.vector_store).toMatchObject({ backend: 'pgvector', required: false });
    if (body.checks.vector_store?.status === 'fail')
      expect(body.checks.vector_store.error).toMatch(/pgvector/);
    expect(res.status).toBe(200);
    expect(body.status).toBe('ready');
  });

  it('says 503 with postgres fail, a short reason and no credentials, within its timeout', async () => {
    const env = await testEnv({ DATABASE_URL: 'postgres://admin:hunter2secret@127.0.0.1:1/mas' });
    const started = Date.now();
    const res = await call(readyApp, '/ready', { env });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(text).not.toContain('hunter2secret');
    const body = JSON.parse(text) as ReadyBody;
    expect(body.status).toBe('not_ready');
    expect(body.checks.postgres).toMatchObject({ status: 'fail', required: true });
    expect(body.checks.postgres?.error).toBeTruthy();
  });

  it('bounds a hung dependency by the per-check timeout and still reports the others', async () => {
    // A local listener that never answers: the Redis probe must give up at the deadline.
    const env = await testEnv({
      UPSTASH_REDIS_REST_URL: inject('blackholeUrl'),
      UPSTASH_REDIS_REST_TOKEN: 'token',
    });
    const started = Date.now();
    const res = await call(readyApp, '/ready', { env });
    const elapsed = Date.now() - started;
    const body = (await res.json()) as ReadyBody;
    expect(res.status).toBe(503);
    expect(body.checks.redis?.status).toBe('fail');
    expect(body.checks.postgres?.status).toBe('ok');
    expect(elapsed).toBeLessThan(4000);
  });

  it('reports unconfigured dependencies as disabled, and disabled is not a failure', async () => {
    const env = await testEnv({
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
      QDRANT_URL: undefined,
    });
    const body = (await (await call(readyApp, '/ready', { env })).json()) as ReadyBody;
    expect(body.checks.redis?.status).toBe('disabled');
    expect(body.checks.llm_upstream?.status).toBe('disabled');
  });
});

describe('GET /ready is cheap to call', () => {
  /** Rounds of checks this isolate has run (each /ready in between is answered from the cache). */
  const rounds = async () => (await readyChecksTotal.get()).values.reduce((n, v) => n + v.value, 0);

  it('many calls in a row, and many at once, run the checks once; the answer is the same', async () => {
    // A long cache, so a loaded machine cannot make the 30 calls outlast it.
    const env = await testEnv({ READY_CACHE_MS: '60000' });
    const before = await rounds();
    const first = await call(readyApp, '/ready', { env });
    const body = await first.text();
    for (let i = 0; i < 30; i++) {
      const res = await call(readyApp, '/ready', { env });
      expect(res.status).toBe(first.status);
      expect(await res.text()).toBe(body);
    }
    expect(await rounds()).toBe(before + 1);

    // Concurrent callers on a cold cache share the one check in flight.
    const cold = await testEnv({ READY_CACHE_MS: '60000' });
    const beforeCold = await rounds();
    const all = await Promise.all(Array.from({ length: 25 }, () => call(readyApp, '/ready', { env: cold })));
    expect(new Set(all.map((r) => r.status))).toEqual(new Set([200]));
    expect(await rounds()).toBe(beforeCold + 1);
  });

  it('caches a failing answer too (a flood while Postgres is down is no flood of connections)', async () => {
    const env = await testEnv({
      DATABASE_URL: 'postgres://admin:hunter2secret@127.0.0.1:1/mas',
      READY_CACHE_MS: '60000',
    });
    const before = await rounds();
    for (let i = 0; i < 10; i++) expect((await call(readyApp, '/ready', { env })).status).toBe(503);
    expect(await rounds()).toBe(before + 1);
  });

  it('the cached answer expires: a later call checks again (and 0 turns the cache off)', async () => {
    expect(gatewayConfig.ready.cache_ms).toBeGreaterThan(0);
    const env = await testEnv({ READY_CACHE_MS: '300' });
    const before = await rounds();
    await call(readyApp, '/ready', { env });
    expect(await rounds()).toBe(before + 1);
    // Poll until the cache has expired and a call ran a second round (never a fixed sleep).
    await vi.waitFor(
      async () => {
        await call(readyApp, '/ready', { env });
        expect(await rounds()).toBe(before + 2);
      },
      { timeout: 10_000, interval: 50 },
    );
    const off = await testEnv({ READY_CACHE_MS: '0' });
    const beforeOff = await rounds();
    for (let i = 0; i < 3; i++) await call(readyApp, '/ready', { env: off });
    expect(await rounds()).toBe(beforeOff + 3);
  });
});
