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
 * A function whose routes are built and added on the first request that is not the deployment's
 * own `GET /health` or `/metrics`, so that a new isolate's first `GET /health` does not pay a
 * young-generation scavenge for routes it never touches (issue #23, `bench:isolate-start
 * --young`). `load` builds the routes, or is a dynamic import of the function's routes module:
 * bundled, esbuild then evaluates that module and what only it imports on first use instead of
 * at isolate start (more room, but each module it reaches is wrapped: ~2.5 KiB gzip more in
 * mcp's bundle, which its 80 KiB target has no room for). The routes must not match `/health`
 * or `/metrics` (createApp answers those without loading them: create-app.test.ts checks each
 * deployment's).
 */
export interface LazyFunctionDef {
  load: () => FunctionDef | Promise<FunctionDef>;
}

export function lazyFunction(load: () => FunctionDef | Promise<FunctionDef>): LazyFunctionDef {
  return { load };
}

const isLazy = (fn: FunctionDef | LazyFunctionDef): fn is LazyFunctionDef => 'load' in fn;

/**
 * Builds a deployable app from one or more functions, all behind the one pipeline: correlation
 * id, context logger, access line and metrics, one `onError` rendering the OpenAI error shape,
 * and a JSON 404. Every deployment also answers `GET /health` with its own name. A function may
 * be given lazily (`lazyFunction`): its routes are added, after the eager ones', when the first
 * request that needs them arrives.
 */
export function createApp(
  deployName: string,
  defs: readonly (FunctionDef | LazyFunctionDef)[],
): Hono<AppEnv> {
  const app: Hono<AppEnv> = new HonoBase<AppEnv>({ router: new MemoRouter() });
  const functions = defs.filter((fn): fn is FunctionDef => !isLazy(fn));
  const lazyFunctions = defs.filter(isLazy);
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

  if (lazyFunctions.length) loadOnFirstUse(app, lazyFunctions, routeOwners);
  return app;
}

/**
 * Makes `app.fetch` (which `app.request` calls too) load the lazy functions' routes before it
 * dispatches any request for a path other than the app's own `/health` and `/metrics`. Their
 * routes are added after every eager function's, as createApp would have added them, and the
 * router (MemoRouter) forgets its remembered answers when a route is added.
 */
function loadOnFirstUse(
  app: Hono<AppEnv>,
  lazyFunctions: readonly LazyFunctionDef[],
  routeOwners: Map<string, string>,
): void {
  const own = new Set(['/health', '/metrics']);
  let loading: Promise<void> | undefined;
  let loaded = false;
  const load = () =>
    (loading ??= Promise.all(lazyFunctions.map(async (fn) => fn.load())).then((loadedDefs) => {
      for (const fn of loadedDefs) {
        for (const route of fn.routes.routes) {
          if (own.has(route.path) || route.path === '*' || route.path === '/*')
            throw new Error(`${fn.name}: a lazily loaded function cannot route ${route.path}`);
          if (route.method !== 'ALL' || !route.path.endsWith('*')) routeOwners.set(route.path, fn.name);
        }
        app.route('/', fn.routes);
      }
      loaded = true;
    }));
  const dispatch = app.fetch;
  app.fetch = (request, env, executionCtx) => {
    if (loaded || own.has(app.getPath(request, { env }))) return dispatch(request, env, executionCtx);
    return load().then(() => dispatch(request, env, executionCtx));
  };
}
