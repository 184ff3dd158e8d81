import { createApp, lazyFunction } from '../../shared/http/create-app.ts';

// Loaded on the first request that is not GET /health or /metrics (createApp's lazyFunction).
export default createApp('proxy', [lazyFunction(async () => (await import('./routes.ts')).proxyFunction)]);
