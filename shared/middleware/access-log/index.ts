import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { gatewayConfig } from '../../config/index.ts';
import { getSettings } from '../../env.ts';
import { runInBackground } from '../../http/background.ts';
import { createLogger, type Logger, type LogLevel, logsAt } from '../../log/logger.ts';
import { schedulePush } from '../../metrics/push.ts';
import { RequestMetrics } from '../../metrics/request-metrics.ts';

declare module 'hono' {
  interface ContextVariableMap {
    log: Logger;
    /** performance.now() when the request reached the app: the base of Server-Timing. */
    startedAt: number;
  }
}

export interface AccessLogOptions {
  /** The deployment's name, used for requests that match no function's route. */
  deployName: string;
  /** Route pattern → owning function, so one combined deployment still labels per function. */
  routeOwners: ReadonlyMap<string, string>;
}

/**
 * Gives each request a context logger, then after the response: one access line, the `http_*`
 * metrics, and a Pushgateway push in the background (`waitUntil`) that never delays or fails
 * the response. Runs after `correlation`.
 */
export function accessLog(options: AccessLogOptions): MiddlewareHandler {
  const metrics = new RequestMetrics();
  return async function accessLogMiddleware(c, next) {
    const started = performance.now();
    const trace = c.get('trace');
    let level: LogLevel = 'info';
    try {
      level = getSettings(c.env).LOG_LEVEL;
    } catch {
      // A bad setting is reported by the handler's error; keep logging at info meanwhile.
    }
    const log = createLogger(
      { function: options.deployName, correlation_id: trace.correlationId, trace_id: trace.traceId },
      level,
    );
    c.set('log', log);
    c.set('startedAt', started);
    await next();

    const { route, fn } = resolveRoute(c, options);
    const status = c.res.status;
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    metrics.record(fn, route, status, durationMs / 1000);
    // The line's fields are built only when it is written: info is off on a busy deployment.
    if (logsAt(level, 'info')) {
      const principal = c.get('principal');
      c.get('log').info('request', {
        function: fn,
        principal: principal?.id ?? null,
        method: c.req.method,
        route,
        status,
        duration_ms: durationMs,
      });
    }
    startPush(c, options.deployName, log);
  };
}

function resolveRoute(
  c: Parameters<MiddlewareHandler>[0],
  options: AccessLogOptions,
): { route: string; fn: string } {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const path = routes[i]!.path;
    const fn = options.routeOwners.get(path);
    if (fn) return { route: path, fn };
  }
  return { route: 'unmatched', fn: options.deployName };
}

function startPush(c: Parameters<MiddlewareHandler>[0], deployment: string, log: Logger): void {
  let pushgatewayUrl: string | undefined;
  try {
    pushgatewayUrl = getSettings(c.env).PUSHGATEWAY_URL;
  } catch {
    return;
  }
  if (!pushgatewayUrl) return;
  const pending = schedulePush({
    pushgatewayUrl,
    job: gatewayConfig.metrics.job,
    deployment,
    timeoutMs: gatewayConfig.metrics.push_timeout_ms,
    warnIntervalSeconds: gatewayConfig.metrics.warn_interval_seconds,
    logger: log,
  });
  if (pending) runInBackground(c, pending);
}
