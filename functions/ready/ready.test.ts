import { describe, expect, inject, it } from 'vitest';
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
