import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { getIsolateId, pushMetrics, schedulePush } from './push.ts';
import { httpRequestsTotal } from './registry.ts';

function fakeGateway(status = 200, delayMs = 0) {
  const calls: Array<{ url: string; method: string; body: string }> = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? 'GET', body: String(init.body) });
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    if (status === 0) throw new TypeError('fetch failed');
    return new Response('', { status });
  }) as unknown as typeof globalThis.fetch;
  return { calls, fetch };
}

const warnings: string[] = [];
const logger = createLogger({}, 'warn', (line) => warnings.push(line));
const base = { pushgatewayUrl: 'http://gw.test/', job: 'mas', deployment: 'chat', timeoutMs: 500, logger };

describe('pushMetrics', () => {
  it('PUTs the registry to its own group: job / deployment / isolate instance', async () => {
    httpRequestsTotal.inc({ function: 'chat', route: '/v1/chat/completions', status: '200' });
    const gw = fakeGateway();
    expect(await pushMetrics({ ...base, warnIntervalSeconds: 60, fetch: gw.fetch })).toBe(true);
    expect(gw.calls[0]!.method).toBe('PUT');
    expect(gw.calls[0]!.url).toBe(
      `http://gw.test/metrics/job/mas/deployment/chat/instance/${getIsolateId()}`,
    );
    expect(gw.calls[0]!.body).toContain(
      'http_requests_total{function="chat",route="/v1/chat/completions",status="200"}',
    );
  });

  it('never throws, and warns once per interval, not per push', async () => {
    warnings.length = 0;
    const down = fakeGateway(0);
    for (let i = 0; i < 5; i++)
      expect(await pushMetrics({ ...base, warnIntervalSeconds: 60, fetch: down.fetch })).toBe(false);
    const bad = fakeGateway(500);
    expect(await pushMetrics({ ...base, warnIntervalSeconds: 60, fetch: bad.fetch })).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!).msg).toBe('metrics push failed');
  });
});

describe('schedulePush', () => {
  it('keeps one push in flight and pushes once more for requests that finished meanwhile', async () => {
    const gw = fakeGateway(200, 20);
    const options = { ...base, warnIntervalSeconds: 60, fetch: gw.fetch };
    const first = schedulePush(options);
    expect(first).toBeInstanceOf(Promise);
    // Ten more requests finish while the first push is in flight: they only mark it dirty.
    for (let i = 0; i < 10; i++) expect(schedulePush(options)).toBeUndefined();
    await first;
    expect(gw.calls).toHaveLength(2);
  });
});
