import { type AppEnv, defineFunction } from '../../shared/http/create-app.ts';
import { routeTable } from '../../shared/http/route-table.ts';
import { VERSION } from '../../shared/version.ts';

const routes = routeTable<AppEnv>();

// Liveness only: touches no dependency, so it answers even when all of them are down.
routes.get('/health', (c) => c.json({ status: 'ok', service: 'mas', function: 'health', version: VERSION }));

export const healthFunction = defineFunction('health', routes);
