// Its own module: prom-client's files are CommonJS, which a bundler cannot tree-shake, so
// importing Gauge in registry.ts put gauge.js into every bundle, the ones without a gauge too.
import Gauge from 'prom-client/lib/gauge.js';
import { registry } from './registry.ts';

/** docs/API.md's `llm_circuit_state`, set by shared/llm/circuit-breaker.ts. */
export const llmCircuitState = /* @__PURE__ */ new Gauge({
  name: 'llm_circuit_state',
  help: 'Circuit breaker state per provider and model, as this isolate sees it: 0 closed, 1 open, 2 half-open.',
  labelNames: ['provider', 'model'] as const,
  registers: [registry],
});
