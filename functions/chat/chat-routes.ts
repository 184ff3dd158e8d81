import type { AppEnv } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';

/**
 * The chat function's one route table: routes.ts, responses.ts and completions.ts each add their
 * routes here, rather than each building a Hono of its own that routes.ts then copies in (hono's
 * `route()` clones the target app and adds every route again). Module load is a new isolate's
 * start, whatever its first request: three Hono instances and a copy of ten routes were ~20 KiB
 * of young generation there (Node), for nothing a request reads.
 */
export const chatRoutes = routeTable<AppEnv>();
