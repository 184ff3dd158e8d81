import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { call, testEnv } from '../../test/workers/helpers.ts';
import healthApp from './index.ts';

describe('GET /health', () => {
  it('answers 200 with the contract body and touches no dependency', async () => {
    // Unreachable dependencies prove /health does not touch them.
    const env = await testEnv({
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
      UPSTASH_REDIS_REST_TOKEN: 'x',
    });
    const res = await call(healthApp, '/health', { env });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      service: 'mas',
      function: 'health',
      version: pkg.version,
    });
    expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('needs no key', async () => {
    const res = await call(healthApp, '/health', { env: await testEnv({ MAS_API_KEYS: undefined }) });
    expect(res.status).toBe(200);
  });
});
