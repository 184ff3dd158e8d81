import { createApp, lazyFunction } from '../../shared/http/create-app.ts';
import { mcpRoutes } from './routes.ts';

// Its routes are built on the first request that is not GET /health or /metrics (lazyFunction).
export default createApp('mcp', [lazyFunction(mcpRoutes)]);
