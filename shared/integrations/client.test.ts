import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIntegrationsFake } from '../../test/fakes/integrations-fake.ts';
import { IntegrationClient, IntegrationError } from './client.ts';
import { MindexClient, NatureOSClient } from './typed-clients.ts';

let fake: Awaited<ReturnType<typeof startIntegrationsFake>>;
const make = (attempts = 3, timeoutMs = 2000) =>
  new IntegrationClient({
    name: 'mindex',
    baseURL: `${fake.url}/mindex`,
    headers: { authorization: 'Bearer k' },
    timeoutMs,
    retry: { attempts, base_ms: 5, max_ms: 20, deadline_ms: 10_000 },
  });

beforeAll(async () => {
  fake = await startIntegrationsFake();
});
afterAll(async () => fake.close());

describe('IntegrationClient', () => {
  it('retries 503 for idempotent methods and returns the last answer when retries run out', async () => {
    const ok = await make().request('GET', '/data/fail-2-a');
    expect(ok.response.status).toBe(200);
    expect(ok.attempts).toBe(3);
    const spent = await make(2).request('GET', '/data/fail-5-b');
    expect(spent.response.status).toBe(503);
    expect(spent.attempts).toBe(2);
  });

  it('never retries a POST without an Idempotency-Key', async () => {
    const res = await make().request('POST', '/resources/fail-1-c', { body: '{}' });
    expect(res.response.status).toBe(503);
    expect(res.attempts).toBe(1);
    const keyed = await make().request('POST', '/resources/fail-1-d', { body: '{}', idempotencyKey: 'k-d' });
    expect(keyed.attempts).toBe(2);
  });

  it('times out a stalled upstream with a typed error', async () => {
    await expect(make(1, 200).request('GET', '/data/stall')).rejects.toMatchObject({ kind: 'timeout' });
    await expect(
      new IntegrationClient({
        name: 'x',
        baseURL: 'http://127.0.0.1:1',
        timeoutMs: 500,
        retry: { attempts: 2, base_ms: 1, max_ms: 2, deadline_ms: 2000 },
      }).request('GET', '/'),
    ).rejects.toBeInstanceOf(IntegrationError);
  });

  it('typed clients parse their answers', async () => {
    const mindex = new MindexClient(make());
    expect((await mindex.getData('species')).data).toEqual([{ id: 1, name: 'species' }]);
    const natureos = new NatureOSClient(
      new IntegrationClient({
        name: 'natureos',
        baseURL: `${fake.url}/natureos`,
        timeoutMs: 2000,
        retry: { attempts: 1, base_ms: 1, max_ms: 1, deadline_ms: 2000 },
      }),
    );
    expect((await natureos.getEntities('fungi')).entities[0]).toMatchObject({ id: 'e1', kind: 'fungi' });
  });

  it('typed clients read no more than maxResponseBytes, whatever the framing', async () => {
    const bounded = new MindexClient(new IntegrationClient({ ...make().options, maxResponseBytes: 1000 }));
    expect((await bounded.getData('species')).data).toEqual([{ id: 1, name: 'species' }]);
    for (const framing of ['length', 'chunked']) {
      await expect(bounded.getData(`big-1001-json-${framing}`)).rejects.toMatchObject({
        name: 'IntegrationError',
        kind: 'too_large',
      });
    }
  });
});
