import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { freePort, waitFor } from '../../local/ports.ts';
import { findPushgateway, startPushgateway } from '../../local/pushgateway.ts';
import { startDevWorker } from './dev-worker.ts';

const binary = findPushgateway();

/** Sums a counter over every series whose labels include `match`, from the exposition text. */
function sumSeries(text: string, name: string, match: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

describe.skipIf(!binary)('metrics pushed to a real Pushgateway', () => {
  let gateway: Awaited<ReturnType<typeof startPushgateway>>;
  let gatewayUrl: string;
  const workers: Unstable_DevWorker[] = [];

  beforeAll(async () => {
    gateway = await startPushgateway(binary!);
    gatewayUrl = gateway.url;
    // Two separately started workers: two isolates, two Pushgateway groups.
    for (let i = 0; i < 2; i++) workers.push(await startDevWorker('health', { PUSHGATEWAY_URL: gatewayUrl }));
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await gateway?.stop();
  });

  it('after N requests through two workers, the summed http_requests_total is N', async () => {
    const n = 37;
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await workers[i % 2]!.fetch('/health');
        expect(res.status).toBe(200);
      }),
    );
    let text = '';
    const settled = await waitFor(async () => {
      text = await (await fetch(`${gatewayUrl}/metrics`)).text();
      return sumSeries(text, 'http_requests_total', { function: 'health', route: '/health' }) === n;
    }, 10_000);
    expect(
      sumSeries(text, 'http_requests_total', { function: 'health', route: '/health' }),
      text
        .split('\n')
        .filter((l) => l.startsWith('http_requests_total'))
        .join('\n'),
    ).toBe(n);
    expect(settled).toBe(true);
    // Each isolate has its own group, so the two never overwrite each other.
    const instances = new Set(
      [...text.matchAll(/http_requests_total\{[^}]*instance="([^"]+)"/g)].map((m) => m[1]),
    );
    expect(instances.size).toBe(2);
  });

  it('a dead Pushgateway affects no request', async () => {
    const deadPort = await freePort();
    const worker = await startDevWorker('health', { PUSHGATEWAY_URL: `http://127.0.0.1:${deadPort}` });
    try {
      for (let i = 0; i < 5; i++) expect((await worker.fetch('/health')).status).toBe(200);
    } finally {
      await worker.stop();
    }
  });
});
