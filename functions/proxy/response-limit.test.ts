import { describe, expect, inject, it } from 'vitest';
import { integrationNamed } from '../../shared/integrations/registry.ts';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import proxyApp from './index.ts';

const fake = inject('integrationsFakeUrl');
const max = integrationNamed('mindex')!.max_response_bytes;

/** GET through the proxy to the fake's `big-<n>-<kind>-<framing>` route (exactly n bytes). */
async function big(size: number, kind: 'json' | 'text', framing: 'length' | 'chunked', method = 'GET') {
  return call(proxyApp, `/v1/integrations/mindex/data/big-${size}-${kind}-${framing}`, {
    method,
    headers: bearer('agent'),
    env: await testEnv({ MINDEX_API_URL: `${fake}/mindex`, MINDEX_API_KEY: 'mindex-key-0000000000000000' }),
  });
}

async function expectTooLarge(res: Response) {
  expect(res.status).toBe(502);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as { error: { code: string; type: string; message: string } };
  expect(body.error).toMatchObject({ code: 'integration_response_too_large', type: 'upstream_error' });
  expect(body.error.message).toContain(String(max));
}

describe('answers over max_response_bytes', () => {
  it('with a Content-Length over the limit: a clean 502 in our error shape, before any byte', async () => {
    await expectTooLarge(await big(max + 1, 'json', 'length'));
    await expectTooLarge(await big(max + 1, 'text', 'length'));
  });

  it('JSON of unknown length: buffered up to the limit, then a 502; at the limit it passes whole', async () => {
    await expectTooLarge(await big(max + 1, 'json', 'chunked'));
    const res = await big(max, 'json', 'chunked');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.length).toBe(max);
    expect(JSON.parse(text).data).toHaveLength(max - '{"data":""}'.length);
  });

  it('a HEAD whose Content-Length is over the limit is answered: no body comes', async () => {
    const res = await big(max + 1, 'json', 'length', 'HEAD');
    expect(res.status).toBe(200);
  });

  it('a small JSON answer of unknown length comes through as sent', async () => {
    const res = await big(1000, 'json', 'chunked');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect((await res.text()).length).toBe(1000);
  });

  it('another type of unknown length: streamed, and past the limit the body ends in an error, never a clean end', async () => {
    const res = await big(max + 1, 'text', 'chunked');
    expect(res.status).toBe(200);
    // The cap is announced with the headers, so a client can tell why the stream broke.
    expect(res.headers.get('x-mas-max-response-bytes')).toBe(String(max));
    const reader = res.body!.getReader();
    let received = 0;
    const outcome = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'clean end';
        received += value.byteLength;
      }
    })().catch((err: Error) => err.message);
    expect(outcome).toMatch(/max_response_bytes/);
    expect(received).toBeLessThanOrEqual(max);
  });
});
