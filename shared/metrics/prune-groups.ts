import * as z from 'zod/mini';
import { gatewayConfig } from '../config/index.ts';
import { base64urlEncode } from '../crypto/base64url.ts';
import { type Env, getSettings } from '../env.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { redactString } from '../redact/index.ts';
import { withDeadline } from '../resilience/deadline.ts';

/**
 * Every isolate pushes to a group of its own (`instance/<isolate uuid>`, shared/metrics/push.ts),
 * and the Pushgateway keeps a group until it is deleted, so without this a busy deployment would
 * leave one group per isolate that ever ran and an ever-growing scrape. The cron deletes the
 * groups of our job that were not pushed to for `metrics.group_idle_seconds` (default 600).
 *
 * An isolate pushes after every request, so a group idle that long belongs to an isolate that is
 * gone or has served nothing since: its counters have been flat for the whole idle time, and
 * removing flat series changes no `rate()` or `increase()` over any window. Should the isolate
 * serve again, its next push recreates the group with its cumulative totals, and Prometheus sees
 * the same series continue.
 */

// Only what is used: each group's grouping labels and its push time (Unix seconds, as text).
const groupsSchema = z.object({
  data: z.array(
    z.object({
      labels: z.record(z.string(), z.string()),
      push_time_seconds: z.nullish(
        z.object({ metrics: z.nullish(z.array(z.object({ value: z.string() }))) }),
      ),
    }),
  ),
});

export interface PruneOptions {
  pushgatewayUrl: string;
  job: string;
  idleSeconds: number;
  /** The clock (ms): the cron passes its scheduled time. */
  now: number;
  timeoutMs: number;
  /** Deletes per run at most (each is a subrequest); the rest wait for the next run. */
  maxDeletes?: number;
  fetch?: typeof fetch;
}

/** Deletes our job's per-isolate groups idle for longer than `idleSeconds`; says how many. */
export async function pruneIdleGroups(options: PruneOptions): Promise<{ deleted: number; kept: number }> {
  const doFetch = options.fetch ?? fetch;
  const base = options.pushgatewayUrl.replace(/\/+$/, '');
  const { data } = await withDeadline(options.timeoutMs, async (signal) => {
    const res = await doFetch(`${base}/api/v1/metrics`, { signal });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`pushgateway answered HTTP ${res.status} listing groups`);
    }
    return groupsSchema.parse(await res.json());
  });
  const cutoff = options.now / 1000 - options.idleSeconds;
  const ours = data.filter((g) => g.labels.job === options.job && g.labels.instance);
  const idle = ours.filter((g) => {
    const pushed = Number(g.push_time_seconds?.metrics?.[0]?.value);
    return Number.isFinite(pushed) && pushed < cutoff;
  });
  const batch = idle.slice(0, options.maxDeletes ?? 500);
  let deleted = 0;
  // A few at a time: the Pushgateway serialises changes anyway.
  for (let i = 0; i < batch.length; i += 8) {
    const results = await Promise.all(
      batch.slice(i, i + 8).map((g) =>
        withDeadline(options.timeoutMs, async (signal) => {
          const del = await doFetch(`${base}/metrics${groupPath(g.labels)}`, { method: 'DELETE', signal });
          await del.body?.cancel();
          return del.ok;
        }),
      ),
    );
    deleted += results.filter(Boolean).length;
  }
  return { deleted, kept: ours.length - deleted };
}

/**
 * `/job/<job>/<label>/<value>...`, the group's URL. A value with a `/` (or an empty one) goes as
 * `<label>@base64/<base64url>`, as the Pushgateway's API defines.
 */
export function groupPath(labels: Record<string, string>): string {
  const segment = (name: string, value: string) =>
    value === ''
      ? `/${name}@base64/=`
      : value.includes('/')
        ? `/${name}@base64/${base64urlEncode(value)}`
        : `/${name}/${encodeURIComponent(value)}`;
  const { job = '', ...rest } = labels;
  return (
    segment('job', job) +
    Object.keys(rest)
      .sort()
      .map((name) => segment(name, rest[name]!))
      .join('')
  );
}

/** The cron's part: prune idle groups when a Pushgateway is configured. Never throws. */
export async function pruneMetricGroups(
  controller: ScheduledController,
  env: Env,
  log: Logger = createLogger({ function: 'metrics' }, getSettings(env).LOG_LEVEL),
): Promise<void> {
  const settings = getSettings(env);
  if (!settings.PUSHGATEWAY_URL) return;
  try {
    const { deleted, kept } = await pruneIdleGroups({
      pushgatewayUrl: settings.PUSHGATEWAY_URL,
      job: gatewayConfig.metrics.job,
      idleSeconds: settings.METRICS_GROUP_IDLE_SECONDS ?? gatewayConfig.metrics.group_idle_seconds,
      now: controller.scheduledTime,
      timeoutMs: gatewayConfig.metrics.push_timeout_ms,
    });
    if (deleted > 0) log.info('idle metric groups deleted', { deleted, kept });
  } catch (err) {
    // PUSHGATEWAY_URL may carry credentials, and fetch errors can quote it: redacted here, not
    // only by whichever logger is passed.
    log.warn('pruning idle metric groups failed', {
      error: redactString(err instanceof Error ? err.message : String(err)).value,
    });
  }
}
