import type { Hono } from 'hono';
import { HonoBase } from 'hono/hono-base';
import type { Env } from '../env.ts';
import { getSettings } from '../env.ts';
import { anthropicErrorBody, errorBody, notFound, toAppError } from '../errors/index.ts';
import { describeError } from '../log/logger.ts';
import { registry } from '../metrics/registry.ts';
import { accessLog } from '../middleware/access-log/index.ts';
import { correlation } from '../middleware/correlation/index.ts';
import { cors } from '../middleware/cors/index.ts';
import { VERSION } from '../version.ts';
import { MemoRouter } from './memo-router.ts';

export type AppEnv = { Bindings: Env };

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by routes that speak another API's error shape (the Messages API: `anthropic`). */
    errorShape: 'anthropic';
  }
}
export type FunctionRoutes = Hono<AppEnv>;

/** A capability: its name (metric/log label) and its routes, without any pipeline of its own. */
export interface FunctionDef {
  name: string;
  routes: FunctionRoutes;
}

export function defineFunction(name: string, routes: FunctionRoutes): FunctionDef {
  return { name, routes };
}

/**
 * Builds a deployable app from one or more functions, all behind the one pipeline: correlation
 * id, context logger, access line and metrics, one `onError` rendering the OpenAI error shape,
 * and a JSON 404. Every deployment also answers `GET /health` with its own name.
 */
export function createApp(deployName: string, functions: readonly FunctionDef[]): Hono<AppEnv> {
  const app: Hono<AppEnv> = new HonoBase<AppEnv>({ router: new MemoRouter() });
  const routeOwners = new Map<string, string>();
  for (const fn of functions) {
    for (const route of fn.routes.routes) {
      if (route.method !== 'ALL' || !route.path.endsWith('*')) routeOwners.set(route.path, fn.name);
    }
  }

  app.use(correlation());
  app.use(accessLog({ deployName, routeOwners }));
  // Before every route, so a preflight is answered without auth.
  app.use(cors());

  if (!functions.some((fn) => fn.routes.routes.some((r) => r.path === '/health'))) {
    app.get('/health', (c) =>
      c.json({ status: 'ok', service: 'mas', function: deployName, version: VERSION }),
    );
    routeOwners.set('/health', deployName);
  }
  // Scrape endpoint for local runs (`npm start` sets EXPOSE_METRICS); deployed isolates push.
  app.get('/metrics', async (c) => {
    if (!getSettings(c.env).EXPOSE_METRICS)
      throw notFound('Metrics are pushed, not served, here.', 'route_not_found');
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
  routeOwners.set('/metrics', deployName);
  for (const fn of functions) app.route('/', fn.routes);

  app.notFound((c) => {
    const err = notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}.`, 'route_not_found');
    return c.json(errorBody(err), 404);
  });

  app.onError((thrown, c) => {
    const trace = c.get('trace');
    const err = toAppError(thrown, trace?.correlationId ?? 'unknown');
    const log = c.get('log');
    // Logged once, here: 5xx at error level with the cause chain, 4xx at debug.
    if (err.status >= 500) {
      log?.error('request failed', { error: describeError(err), status: err.status });
    } else {
      log?.debug('request rejected', { code: err.code, status: err.status, param: err.param });
    }
    for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
    if (c.get('errorShape') === 'anthropic') {
      const requestId = trace?.correlationId ?? 'unknown';
      const { status, body } = anthropicErrorBody(err, requestId);
      c.header('request-id', requestId);
      return c.json(body, status as 400);
    }
    return c.json(errorBody(err), err.status as 400);
  });

  return app;
}
