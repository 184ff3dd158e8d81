import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { type AuthOptions, auth } from '../../shared/middleware/auth/index.ts';
import { rateLimit } from '../../shared/middleware/rate-limit/index.ts';

/**
 * The chat function's one route table: routes.ts, responses.ts and completions.ts each add their
 * routes here, rather than each building a Hono of its own that routes.ts then copies in (hono's
 * `route()` clones the target app and adds every route again). Module load is a new isolate's
 * start, whatever its first request: three Hono instances and a copy of ten routes were ~20 KiB
 * of young generation there (Node), for nothing a request reads.
 */
export const chatRoutes = routeTable<AppEnv>();

/**
 * auth then rateLimit as one middleware: one route entry where two made hono (and createApp's
 * trie) register and store each path twice, and one step of hono's dispatch fewer per request.
 * Both throw to refuse and otherwise return `next()`'s promise, so chaining them is what hono's
 * compose did.
 */
export function guard(options?: AuthOptions): MiddlewareHandler<AppEnv> {
  const authenticate = auth(options);
  const limit = rateLimit();
  return function guardMiddleware(c, next) {
    return authenticate(c, () => limit(c, next) as Promise<void>) as Promise<void>;
  };
}
