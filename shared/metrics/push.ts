import type { Logger } from '../log/logger.ts';
import { withDeadline } from '../resilience/deadline.ts';
import { pushFailuresTotal, registry } from './registry.ts';

export interface PushOptions {
  pushgatewayUrl: string;
  job: string;
  /**
   * The deployment (one function, or `all` when served together): a grouping label named
   * `deployment`, not `function`, because the pushed series carry their own `function` label and
   * the Pushgateway rejects a grouping label that contradicts a series label.
   */
  deployment: string;
  timeoutMs: number;
  warnIntervalSeconds: number;
  logger: Logger;
  fetch?: typeof fetch;
}

// Random values are not allowed at global scope in Workers, so the isolate id is made lazily.
let isolateId: string | undefined;
let lastWarnAt = 0;
let inflight: Promise<void> | undefined;
let dirty = false;

/** The `instance` grouping label: one Pushgateway group per isolate. */
export function getIsolateId(): string {
  isolateId ??= crypto.randomUUID();
  return isolateId;
}

/**
 * Pushes after a request, coalesced: at most one push per isolate is in flight, and a request that
 * finishes meanwhile only marks the registry dirty, so the in-flight loop pushes once more. The
 * last push to land is therefore always the newest snapshot (out-of-order PUTs could otherwise
 * leave an older, smaller total behind). Returns a promise only to the request that started the
 * loop, for its `waitUntil`; the others return at once.
 */
export function schedulePush(options: PushOptions): Promise<void> | undefined {
  if (inflight) {
    dirty = true;
    return undefined;
  }
  inflight = (async () => {
    do {
      dirty = false;
      await pushMetrics(options);
    } while (dirty);
  })().finally(() => {
    inflight = undefined;
  });
  return inflight;
}

/**
 * PUTs this isolate's whole registry to its own Pushgateway group
 * (`job/<job>/deployment/<name>/instance/<isolate>`). Counters are cumulative per isolate, so the
 * group always holds that isolate's totals and `sum without(instance)` adds isolates up exactly,
 * however many start and stop. Never throws: a push failure must not affect any request.
 */
export async function pushMetrics(options: PushOptions): Promise<boolean> {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.pushgatewayUrl.replace(/\/+$/, '')}/metrics/job/${encodeURIComponent(options.job)}/deployment/${encodeURIComponent(options.deployment)}/instance/${getIsolateId()}`;
  try {
    const body = await registry.metrics();
    const res = await withDeadline(options.timeoutMs, async (signal) => {
      const res = await doFetch(url, {
        method: 'PUT',
        headers: { 'content-type': registry.contentType },
        body,
        signal,
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res;
    });
    if (!res.ok) throw new Error(`pushgateway answered HTTP ${res.status}`);
    return true;
  } catch (err) {
    pushFailuresTotal.inc();
    const now = Date.now();
    if (now - lastWarnAt >= options.warnIntervalSeconds * 1000) {
      lastWarnAt = now;
      options.logger.warn('metrics push failed', {
        error: err instanceof Error ? err : String(err),
        pushgateway: options.pushgatewayUrl,
      });
    }
    return false;
  }
}
