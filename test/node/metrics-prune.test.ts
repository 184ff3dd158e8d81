import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unstable_dev } from 'wrangler';
import { waitFor } from '../../local/ports.ts';
import { findPushgateway, startPushgateway } from '../../local/pushgateway.ts';
import { groupPath, pruneMetricGroups } from '../../shared/metrics/prune-groups.ts';

// The cron's Pushgateway clean-up against the real binary (Debian's prometheus-pushgateway;
// .ci/run installs it): idle per-isolate groups go, live ones and other jobs' groups stay.

const binary = findPushgateway();

interface Group {
  labels: Record<string, string>;
  push_time_seconds: { metrics: Array<{ value: string }> };
}

describe('deleting idle Pushgateway groups', () => {
  let gateway: Awaited<ReturnType<typeof startPushgateway>>;

  beforeAll(async () => {
    expect(binary, 'prometheus-pushgateway is needed (apt-get install prometheus-pushgateway)').toBeTruthy();
    gateway = await startPushgateway(binary!);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
  });

  const push = async (labels: Record<string, string>) => {
    const res = await fetch(`${gateway.url}/metrics${groupPath(labels)}`, {
      method: 'PUT',
      body: 'http_requests_total{function="health",route="/health",status="200"} 3\n',
    });
    expect(res.status, await res.text()).toBe(200);
  };
  const groups = async (): Promise<Group[]> =>
    ((await (await fetch(`${gateway.url}/api/v1/metrics`)).json()) as { data: Group[] }).data;
  const pushedAt = async (instance: string) =>
    Number((await groups()).find((g) => g.labels.instance === instance)!.push_time_seconds.metrics[0]!.value);

  it('two idle groups and one live one: only the live one (and other jobs) remain', async () => {
    // Two isolates that went quiet (one under a deployment name the URL must base64-encode), and
    // another job's group just as old, which is not ours to delete.
    await push({ job: 'mas', deployment: 'all', instance: 'idle-isolate-1' });
    await push({ job: 'mas', deployment: 'chat/eu', instance: 'idle-isolate-2' });
    await push({ job: 'other_job', instance: 'someone-else' });
    const lastIdle = Math.max(await pushedAt('idle-isolate-1'), await pushedAt('idle-isolate-2'));
    // Let the clock move past the idle pushes before the live one (polled, not slept).
    await waitFor(async () => Date.now() / 1000 > lastIdle + 0.05, 5000);
    await push({ job: 'mas', deployment: 'all', instance: 'live-isolate' });
    const live = await pushedAt('live-isolate');
    expect(live).toBeGreaterThan(lastIdle);
    expect(await groups()).toHaveLength(4);

    // The cron runs with the default idle time (600 s), at the moment when the idle groups are
    // just over it and the live one is not.
    const idleSeconds = 600;
    const scheduledTime = ((lastIdle + live) / 2 + idleSeconds) * 1000;
    const lines: string[] = [];
    const log = {
      info: (msg: string, fields?: unknown) => lines.push(`${msg} ${JSON.stringify(fields)}`),
      warn: (msg: string, fields?: unknown) => lines.push(`WARN ${msg} ${JSON.stringify(fields)}`),
    } as unknown as Parameters<typeof pruneMetricGroups>[2];
    await pruneMetricGroups(
      { scheduledTime, cron: '* * * * *', noRetry() {} } as ScheduledController,
      { PUSHGATEWAY_URL: gateway.url },
      log,
    );
    const left = (await groups()).map((g) => g.labels.instance).sort();
    expect(left).toEqual(['live-isolate', 'someone-else']);
    expect(lines).toEqual(['idle metric groups deleted {"deleted":2,"kept":1}']);

    // Run again: nothing more is idle, nothing is deleted, and the live group's series are whole.
    await pruneMetricGroups({ scheduledTime, cron: '* * * * *', noRetry() {} } as ScheduledController, {
      PUSHGATEWAY_URL: gateway.url,
    });
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{[^}]*instance="live-isolate"[^}]*\} 3/);
    expect(text).not.toContain('idle-isolate');
  });

  it('the deployed cron does it: the combined Worker under wrangler dev, fired at a chosen time', async () => {
    const worker = await unstable_dev('functions/index.ts', {
      config: 'wrangler.toml',
      vars: { PUSHGATEWAY_URL: gateway.url, LOG_LEVEL: 'warn' },
      ip: '127.0.0.1',
      port: 0,
      logLevel: 'error',
      persist: false,
      experimental: {
        disableExperimentalWarning: true,
        disableDevRegistry: true,
        showInteractiveDevSession: false,
        testScheduled: true,
      },
    });
    try {
      await push({ job: 'mas', deployment: 'all', instance: 'cron-idle-1' });
      await push({ job: 'mas', deployment: 'embed', instance: 'cron-idle-2' });
      await push({ job: 'other_job', instance: 'cron-other-job' });
      const lastIdle = Math.max(await pushedAt('cron-idle-1'), await pushedAt('cron-idle-2'));
      await waitFor(async () => Date.now() / 1000 > lastIdle + 0.05, 5000);
      await push({ job: 'mas', deployment: 'all', instance: 'cron-live' });
      const live = await pushedAt('cron-live');
      const time = Math.round(((lastIdle + live) / 2 + 600) * 1000);
      // Miniflare's trigger route takes the scheduled time (wrangler's /__scheduled does not).
      const res = await worker.fetch(`/cdn-cgi/local/scheduled?cron=*+*+*+*+*&time=${time}`);
      expect(res.status, await res.text()).toBe(200);
      // The clean-up runs in the cron's waitUntil: poll for it.
      let left: string[] = [];
      const done = await waitFor(async () => {
        left = (await groups()).map((g) => g.labels.instance!);
        return !left.includes('cron-idle-1') && !left.includes('cron-idle-2');
      }, 10_000);
      expect(done, left.join(',')).toBe(true);
      expect(left).toContain('cron-live');
      expect(left).toContain('cron-other-job');
    } finally {
      await worker.stop();
    }
  }, 120_000);

  it('a Pushgateway that is down makes the cron warn, never throw, and names no address', async () => {
    const lines: string[] = [];
    const log = {
      info: () => undefined,
      warn: (msg: string, fields?: unknown) => lines.push(`${msg} ${JSON.stringify(fields)}`),
    } as unknown as Parameters<typeof pruneMetricGroups>[2];
    await pruneMetricGroups(
      { scheduledTime: Date.now(), cron: '* * * * *', noRetry() {} } as ScheduledController,
      { PUSHGATEWAY_URL: 'http://metrics-user:s3cret-pass@127.0.0.1:1' },
      log,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('pruning idle metric groups failed');
    expect(lines[0]).not.toContain('s3cret-pass');
  });
});

describe('groupPath', () => {
  it('orders labels after the job and base64-encodes values with a slash or empty ones', () => {
    expect(groupPath({ instance: 'i-1', job: 'mas', deployment: 'all' })).toBe(
      '/job/mas/deployment/all/instance/i-1',
    );
    expect(groupPath({ job: 'mas', deployment: 'a/b', instance: '' })).toBe(
      '/job/mas/deployment@base64/YS9i/instance@base64/=',
    );
  });
});
