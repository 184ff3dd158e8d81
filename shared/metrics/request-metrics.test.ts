import Counter from 'prom-client/lib/counter.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import { describe, expect, it } from 'vitest';
import { httpRequestDuration, httpRequestsTotal, registry } from './registry.ts';
import { RequestMetrics } from './request-metrics.ts';

/** The same two metrics fed through prom-client's own inc/observe: what the exposition must be. */
function reference() {
  const own = new Registry();
  const total = new Counter({
    name: 'http_requests_total',
    help: (httpRequestsTotal as unknown as { help: string }).help,
    labelNames: ['function', 'route', 'status'] as const,
    registers: [own],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: (httpRequestDuration as unknown as { help: string }).help,
    labelNames: ['function', 'route'] as const,
    buckets: (httpRequestDuration as unknown as { upperBounds: number[] }).upperBounds,
    registers: [own],
  });
  return {
    own,
    record(fn: string, route: string, status: number, seconds: number) {
      total.inc({ function: fn, route, status: String(status) });
      duration.observe({ function: fn, route }, seconds);
    },
  };
}

async function exposition(r: { getSingleMetricAsString(name: string): Promise<string> }): Promise<string> {
  return `${await r.getSingleMetricAsString('http_requests_total')}\n${await r.getSingleMetricAsString('http_request_duration_seconds')}`;
}

// Every bucket, the edges, past the last bound, several label sets and statuses, repeated.
const REQUESTS: Array<[string, string, number, number]> = [];
for (const seconds of [0, 0.005, 0.0051, 0.03, 0.25, 0.7, 2.5, 9, 30, 60, 61, 1e4]) {
  REQUESTS.push(['chat', '/v1/chat/completions', 200, seconds]);
  REQUESTS.push(['chat', '/v1/chat/completions', 429, seconds / 2]);
  REQUESTS.push(['all', 'unmatched', 404, seconds]);
  REQUESTS.push(['embed', '/v1/embeddings', 200, seconds * 3]);
}

describe('RequestMetrics', () => {
  it('exposes exactly what prom-client inc/observe would, across buckets, label sets and statuses', async () => {
    registry.resetMetrics();
    const metrics = new RequestMetrics();
    const ref = reference();
    for (let round = 0; round < 3; round++) {
      for (const [fn, route, status, seconds] of REQUESTS) {
        metrics.record(fn, route, status, seconds);
        ref.record(fn, route, status, seconds);
      }
    }
    expect(await exposition(registry)).toBe(await exposition(ref.own));
    expect(await exposition(registry)).toContain(
      'http_requests_total{function="chat",route="/v1/chat/completions",status="429"} 3',
    );
  });

  it('updates the series in place after the first request of a label set (the fast path is taken)', () => {
    registry.resetMetrics();
    const metrics = new RequestMetrics();
    metrics.record('chat', '/v1/chat/completions', 200, 0.01);
    const map = (httpRequestsTotal as unknown as { hashMap: Record<string, { value: number }> }).hashMap;
    const series = map['function:chat,route:/v1/chat/completions,status:200,'];
    expect(series?.value).toBe(1);
    metrics.record('chat', '/v1/chat/completions', 200, 0.01);
    // The same object counted on: no new series, no second key.
    expect(map['function:chat,route:/v1/chat/completions,status:200,']).toBe(series);
    expect(series?.value).toBe(2);
  });

  it('starts over after a registry reset, as prom-client does', async () => {
    registry.resetMetrics();
    const metrics = new RequestMetrics();
    metrics.record('chat', '/v1/chat/completions', 200, 0.01);
    metrics.record('chat', '/v1/chat/completions', 200, 0.01);
    registry.resetMetrics();
    metrics.record('chat', '/v1/chat/completions', 200, 0.02);
    const ref = reference();
    ref.record('chat', '/v1/chat/completions', 200, 0.02);
    expect(await exposition(registry)).toBe(await exposition(ref.own));
  });
});
