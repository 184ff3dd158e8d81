// prom-client's index also loads what no worker runs (default process metrics, which bring
// @opentelemetry/api; Summary and its t-digest; the Pushgateway client; the cluster aggregator):
// about 70 KiB of every bundle. The classes we use come from their own files (Gauge from
// circuit-state.ts, so that only bundles with a circuit breaker load it).
import Counter from 'prom-client/lib/counter.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

/**
 * One prom-client registry per isolate, holding the metrics of docs/API.md that its function
 * uses: each metric is marked pure, so a bundle leaves out (and an isolate never builds) the ones
 * its code never touches (health carries no LLM or ledger metrics). Label values
 * come from bounded sets (route patterns, provider ids, categories): never from caller input, so
 * no secret and no unbounded cardinality can reach a label.
 */
export const registry = new Registry();

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const httpRequestsTotal = /* @__PURE__ */ new Counter({
  name: 'http_requests_total',
  help: 'HTTP requests served, by function, route pattern and status code.',
  labelNames: ['function', 'route', 'status'] as const,
  registers: [registry],
});

export const httpRequestDuration = /* @__PURE__ */ new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration until the response headers, by function and route pattern.',
  labelNames: ['function', 'route'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const llmRequestsTotal = /* @__PURE__ */ new Counter({
  name: 'llm_requests_total',
  help: 'Upstream LLM calls, by provider, model, role and outcome.',
  labelNames: ['provider', 'model', 'role', 'status'] as const,
  registers: [registry],
});

export const llmRequestDuration = /* @__PURE__ */ new Histogram({
  name: 'llm_request_duration_seconds',
  help: 'Upstream LLM call duration, by provider, model and role.',
  labelNames: ['provider', 'model', 'role'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const llmTokensTotal = /* @__PURE__ */ new Counter({
  name: 'llm_tokens_total',
  help: 'Tokens reported by upstream LLMs, by provider, model and type (prompt|completion).',
  labelNames: ['provider', 'model', 'type'] as const,
  registers: [registry],
});

export const llmCostUsdTotal = /* @__PURE__ */ new Counter({
  name: 'llm_cost_usd_total',
  help: 'USD spent on upstream LLM calls, priced from the model registry, by provider, model and role.',
  labelNames: ['provider', 'model', 'role'] as const,
  registers: [registry],
});

export const llmUnpricedRequestsTotal = /* @__PURE__ */ new Counter({
  name: 'llm_unpriced_requests_total',
  help: 'LLM calls to models without a price in the registry (recorded with cost null).',
  labelNames: ['provider', 'model', 'role'] as const,
  registers: [registry],
});

export const llmBudgetRejectionsTotal = /* @__PURE__ */ new Counter({
  name: 'llm_budget_rejections_total',
  help: 'LLM calls refused (429 insufficient_quota) by a budget, by scope (principal|agent|role) and kind.',
  labelNames: ['scope', 'kind'] as const,
  registers: [registry],
});

export const llmBudgetUtilization = /* @__PURE__ */ new Histogram({
  name: 'llm_budget_utilization_ratio',
  help: 'Share of its budget a limit had used (this request reserved included) when a call was admitted, by scope and kind.',
  labelNames: ['scope', 'kind'] as const,
  buckets: [0.25, 0.5, 0.75, 0.9, 0.95, 1],
  registers: [registry],
});

export const llmCacheHitsTotal = /* @__PURE__ */ new Counter({
  name: 'llm_cache_hits_total',
  help: 'Answers served from the response cache (priced at zero), by endpoint and role.',
  labelNames: ['endpoint', 'role'] as const,
  registers: [registry],
});

export const auditActionsTotal = /* @__PURE__ */ new Counter({
  name: 'audit_actions_total',
  help: 'Agent actions recorded in the audit ledger, by category and status.',
  labelNames: ['category', 'status'] as const,
  registers: [registry],
});

export const approvalsTotal = /* @__PURE__ */ new Counter({
  name: 'approvals_total',
  help: 'Approval decisions, by decision (approve|reject|expired).',
  labelNames: ['decision'] as const,
  registers: [registry],
});

export const integrationRequestsTotal = /* @__PURE__ */ new Counter({
  name: 'integration_requests_total',
  help: 'Calls through the integration proxy, by integration, method and status.',
  labelNames: ['integration', 'method', 'status'] as const,
  registers: [registry],
});

export const integrationRequestDuration = /* @__PURE__ */ new Histogram({
  name: 'integration_request_duration_seconds',
  help: 'Integration call duration (all attempts), by integration and method.',
  labelNames: ['integration', 'method'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const mcpToolCallsTotal = /* @__PURE__ */ new Counter({
  name: 'mcp_tool_calls_total',
  help: 'MCP tools/call through the gateway, by configured server, upstream tool and outcome.',
  labelNames: ['server', 'tool', 'outcome'] as const,
  registers: [registry],
});

export const mcpToolCallDuration = /* @__PURE__ */ new Histogram({
  name: 'mcp_tool_call_duration_seconds',
  help: 'MCP tools/call duration through the gateway (approval wait included), by server and tool.',
  labelNames: ['server', 'tool'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const readyChecksTotal = /* @__PURE__ */ new Counter({
  name: 'ready_checks_total',
  help: 'Readiness checks run by this isolate (GET /ready answers from a cache in between), by outcome.',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const pushFailuresTotal = /* @__PURE__ */ new Counter({
  name: 'metrics_push_failures_total',
  help: 'Failed pushes to the Pushgateway from this isolate.',
  registers: [registry],
});
