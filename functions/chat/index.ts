import { createApp, lazyFunction } from '../../shared/http/create-app.ts';

// Its routes (and the modules only they reach: providers, router, governance, schemas) are loaded
// on the first request that is not GET /health or /metrics (lazyFunction over a dynamic import,
// which esbuild evaluates then, not at isolate start).
export default createApp('chat', [lazyFunction(async () => (await import('./routes.ts')).chatFunction)]);
