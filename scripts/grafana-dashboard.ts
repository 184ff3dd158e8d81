/**
 * Writes config/grafana/dashboards/mas-functions.json: `node scripts/grafana-dashboard.ts &&
 * npx biome format --write config/grafana/dashboards/mas-functions.json`.
 * The JSON is committed (Grafana provisions it as is); this script keeps it reviewable and puts
 * the per-model prices of config/models.yaml into the cost panel. test/node/compose.test.ts
 * checks the result: known metrics only, `instance` always aggregated away, `le` kept for
 * quantiles, prices in step with models.yaml.
 *
 * Metrics come from isolates pushing to the Pushgateway, one group per isolate (label
 * `instance`), so every query sums over isolates before anything else.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const OUT = 'config/grafana/dashboards/mas-functions.json';
const DS = { type: 'prometheus', uid: 'mas-prometheus' };
const RATE = '[$__rate_interval]';

interface Target {
  expr: string;
  legend: string;
  instant?: boolean;
}
interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'stat' | 'bargauge' | 'table';
  unit: string;
  w: number;
  h: number;
  targets: Target[];
}

interface PricedModel {
  id: string;
  provider: string;
  price?: { input: number; output: number };
}

/** Estimated USD over the dashboard range: tokens × price per million, per provider and model. */
export function costExpr(models: PricedModel[]): string {
  const terms: string[] = [];
  for (const m of models) {
    if (!m.price) continue;
    for (const [type, price] of [
      ['prompt', m.price.input],
      ['completion', m.price.output],
    ] as const) {
      if (!price) continue;
      terms.push(
        `sum by (provider, model, type) (increase(llm_tokens_total{model="${m.id}", type="${type}"}[$__range])) * ${price}`,
      );
    }
  }
  // `+` would drop a model that has only one type so far; the terms keep `type`, so `or` keeps
  // every one of them, and the outer sum adds prompt and completion up per model.
  return `sum by (provider, model) (\n  ${terms.map((t) => `(${t})`).join('\n  or ')}\n) / 1e6`;
}

function panels(models: PricedModel[]): Array<{ row: string; panels: PanelSpec[] }> {
  return [
    {
      row: 'HTTP: requests, errors and latency per function',
      panels: [
        {
          title: 'Requests per second by function',
          description:
            'http_requests_total summed over every isolate (instance) and deployment, per function.',
          type: 'timeseries',
          unit: 'reqps',
          w: 8,
          h: 8,
          targets: [{ expr: `sum by (function) (rate(http_requests_total${RATE}))`, legend: '{{function}}' }],
        },
        {
          title: 'Error rate (5xx share) by function',
          description:
            "Share of responses with a 5xx status, per function. 4xx (auth, validation, rate limits) are the callers' and are left out.",
          type: 'timeseries',
          unit: 'percentunit',
          w: 8,
          h: 8,
          targets: [
            {
              expr: `sum by (function) (rate(http_requests_total{status=~"5.."}${RATE}))\n/\nsum by (function) (rate(http_requests_total${RATE}))`,
              legend: '{{function}}',
            },
          ],
        },
        {
          title: 'Responses by function and status',
          description: 'Requests per second per function and HTTP status code, all isolates added up.',
          type: 'timeseries',
          unit: 'reqps',
          w: 8,
          h: 8,
          targets: [
            {
              expr: `sum by (function, status) (rate(http_requests_total${RATE}))`,
              legend: '{{function}} {{status}}',
            },
          ],
        },
        ...([0.5, 0.95, 0.99] as const).map(
          (q): PanelSpec => ({
            title: `Latency p${q * 100} by function`,
            description: `p${q * 100} of http_request_duration_seconds (until the response headers), from the buckets of every isolate summed per function and le.`,
            type: 'timeseries',
            unit: 's',
            w: 8,
            h: 8,
            targets: [
              {
                expr: `histogram_quantile(${q}, sum by (le, function) (rate(http_request_duration_seconds_bucket${RATE})))`,
                legend: '{{function}}',
              },
            ],
          }),
        ),
      ],
    },
    {
      row: 'LLM: requests, fallbacks, tokens and cost',
      panels: [
        {
          title: 'LLM calls by provider, model, role and outcome',
          description:
            'Upstream attempts per second (llm_requests_total): status is `ok`, an upstream HTTP status, an error code (upstream_timeout...) or cancelled (the caller left).',
          type: 'timeseries',
          unit: 'reqps',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (provider, model, role, status) (rate(llm_requests_total${RATE}))`,
              legend: '{{role}} {{provider}}/{{model}} {{status}}',
            },
          ],
        },
        {
          title: 'Failed attempts (retried or fell back) by provider, model and role',
          description:
            "Attempts that did not succeed and were not abandoned by the client. The router follows each one with a retry of the same model or a fallback to the next model of the role's chain (or gives up when the chain is exhausted). There is no separate fallback counter: this is the closest signal.",
          type: 'timeseries',
          unit: 'reqps',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (provider, model, role, status) (rate(llm_requests_total{status!~"ok|cancelled"}${RATE}))`,
              legend: '{{role}} {{provider}}/{{model}} {{status}}',
            },
          ],
        },
        {
          title: 'LLM latency p50 / p95 / p99 by provider, model and role',
          description:
            'Per upstream attempt (llm_request_duration_seconds), buckets summed over isolates per le.',
          type: 'timeseries',
          unit: 's',
          w: 12,
          h: 8,
          targets: ([0.5, 0.95, 0.99] as const).map((q) => ({
            expr: `histogram_quantile(${q}, sum by (le, provider, model, role) (rate(llm_request_duration_seconds_bucket${RATE})))`,
            legend: `p${q * 100} {{role}} {{provider}}/{{model}}`,
          })),
        },
        {
          title: 'Tokens per second by provider, model and type',
          description:
            'llm_tokens_total (prompt | completion) from upstream usage, chat and embeddings. The metric has no role label, so tokens cannot be split by role.',
          type: 'timeseries',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (provider, model, type) (rate(llm_tokens_total${RATE}))`,
              legend: '{{provider}}/{{model}} {{type}}',
            },
          ],
        },
        {
          title: 'Tokens over the dashboard range',
          description:
            'Total prompt and completion tokens in the selected time range, per provider and model.',
          type: 'bargauge',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: 'sum by (provider, model, type) (increase(llm_tokens_total[$__range]))',
              legend: '{{provider}}/{{model}} {{type}}',
              instant: true,
            },
          ],
        },
        {
          title: 'Estimated cost (USD) over the dashboard range',
          description:
            'Tokens × the price per million tokens in config/models.yaml (input for prompt, output for completion), per provider and model. An estimate: models without a price (role@local through LiteLLM, MAS_MODELS_YAML additions) are not counted, and there is no per-role split because llm_tokens_total has no role label. Regenerate with `node scripts/grafana-dashboard.ts` when prices change.',
          type: 'bargauge',
          unit: 'currencyUSD',
          w: 12,
          h: 8,
          targets: [{ expr: costExpr(models), legend: '{{provider}}/{{model}}', instant: true }],
        },
      ],
    },
    {
      row: 'Spend and budgets',
      panels: [
        {
          title: 'Spend (USD) by role and model over the dashboard range',
          description:
            'What the LLM calls cost, priced per request from config/models.yaml when the answer (or the end of a stream) reported its usage: llm_cost_usd_total. Cache hits cost nothing; models without a price are counted under "Unpriced calls".',
          type: 'bargauge',
          unit: 'currencyUSD',
          w: 12,
          h: 8,
          targets: [
            {
              expr: 'sum by (role, provider, model) (increase(llm_cost_usd_total[$__range]))',
              legend: '{{role}} {{provider}}/{{model}}',
              instant: true,
            },
          ],
        },
        {
          title: 'Spend rate (USD per hour) by role',
          description: 'The current burn rate per role, from llm_cost_usd_total.',
          type: 'timeseries',
          unit: 'currencyUSD',
          w: 12,
          h: 8,
          targets: [{ expr: 'sum by (role) (rate(llm_cost_usd_total[5m])) * 3600', legend: '{{role}}' }],
        },
        {
          title: 'Budget utilisation p95 / max by scope and kind',
          description:
            'How full the budgets were when they admitted calls (llm_budget_utilization_ratio: used share of the limit, this call included), by scope (principal, agent, role) and kind (daily_usd, monthly_usd, tpm, rpm). Near 1: that budget is about to refuse calls.',
          type: 'timeseries',
          unit: 'percentunit',
          w: 12,
          h: 8,
          targets: [
            {
              expr: 'histogram_quantile(0.95, sum by (le, scope, kind) (rate(llm_budget_utilization_ratio_bucket[5m])))',
              legend: 'p95 {{scope}} {{kind}}',
            },
            {
              expr: 'histogram_quantile(1, sum by (le, scope, kind) (rate(llm_budget_utilization_ratio_bucket[5m])))',
              legend: 'max {{scope}} {{kind}}',
            },
          ],
        },
        {
          title: 'Budget refusals, cache hits and unpriced calls per minute',
          description:
            'Calls refused with 429 insufficient_quota by scope and kind; answers served from the response cache; calls to models without a price (recorded with cost null).',
          type: 'timeseries',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: 'sum by (scope, kind) (rate(llm_budget_rejections_total[5m])) * 60',
              legend: 'refused: {{scope}} {{kind}}',
            },
            {
              expr: 'sum by (endpoint) (rate(llm_cache_hits_total[5m])) * 60',
              legend: 'cache hit: {{endpoint}}',
            },
            {
              expr: 'sum by (model) (rate(llm_unpriced_requests_total[5m])) * 60',
              legend: 'unpriced: {{model}}',
            },
          ],
        },
      ],
    },
    {
      row: 'Approvals and audit',
      panels: [
        {
          title: 'Approvals pending now',
          description:
            "There is no pending gauge: this is gated actions recorded as pending_approval (audit_actions_total) minus approvals that reached a terminal decision (approvals_total: approve, reject, expired). Exact while the Pushgateway keeps every isolate's group; a Pushgateway restart resets both sides. GET /v1/approvals?status=pending is the source of truth.",
          type: 'stat',
          unit: 'short',
          w: 6,
          h: 8,
          targets: [
            {
              expr: '(sum(audit_actions_total{status="pending_approval"}) or vector(0))\n-\n(sum(approvals_total) or vector(0))',
              legend: 'pending',
              instant: true,
            },
          ],
        },
        {
          title: 'Approvals decided and expired over the dashboard range',
          description:
            'approvals_total by decision: approve and reject (a terminal decision, after quorum) and expired (nobody decided in time; written by the cron).',
          type: 'stat',
          unit: 'short',
          w: 6,
          h: 8,
          targets: [
            {
              expr: 'sum by (decision) (increase(approvals_total[$__range]))',
              legend: '{{decision}}',
              instant: true,
            },
          ],
        },
        {
          title: 'Approval decisions per minute',
          description: 'approvals_total by decision (approve | reject | expired), per minute.',
          type: 'timeseries',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (decision) (rate(approvals_total${RATE})) * 60`,
              legend: '{{decision}}',
            },
          ],
        },
        {
          title: 'Audit writes per minute by category',
          description:
            'Ledger writes (audit_actions_total): new actions (recorded | pending_approval) and status updates (completed | failed | cancelled), per category.',
          type: 'timeseries',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (category) (rate(audit_actions_total${RATE})) * 60`,
              legend: '{{category}}',
            },
          ],
        },
        {
          title: 'Audit writes over the dashboard range by category and status',
          description: 'audit_actions_total increase in the selected range, per category and status.',
          type: 'table',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: 'sum by (category, status) (increase(audit_actions_total[$__range]))',
              legend: '{{category}} {{status}}',
              instant: true,
            },
          ],
        },
      ],
    },
    {
      row: 'MCP tools',
      panels: [
        {
          title: 'MCP tool calls by server, tool and outcome',
          description:
            'tools/call through the MCP gateway (mcp_tool_calls_total), per minute. Outcomes: ok, tool_error (the tool said it failed), upstream_error and timeout (the MCP server), pending / rejected / expired (the approval gate), already_executed (an approval spent), invalid (arguments broke the schema; nothing forwarded).',
          type: 'timeseries',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (server, tool, outcome) (rate(mcp_tool_calls_total${RATE})) * 60`,
              legend: '{{server}}__{{tool}} {{outcome}}',
            },
          ],
        },
        {
          title: 'MCP tool call latency p50 / p95 by server and tool',
          description:
            'mcp_tool_call_duration_seconds: the whole call through the gateway, approval wait included (a gated call can take up to wait_seconds).',
          type: 'timeseries',
          unit: 's',
          w: 12,
          h: 8,
          targets: ([0.5, 0.95] as const).map((q) => ({
            expr: `histogram_quantile(${q}, sum by (le, server, tool) (rate(mcp_tool_call_duration_seconds_bucket${RATE})))`,
            legend: `p${q * 100} {{server}}__{{tool}}`,
          })),
        },
      ],
    },
    {
      row: 'Integrations and metrics pipeline',
      panels: [
        {
          title: 'Integration calls by integration and status',
          description: 'Calls through the integration proxy (integration_requests_total), per second.',
          type: 'timeseries',
          unit: 'reqps',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (integration, method, status) (rate(integration_requests_total${RATE}))`,
              legend: '{{integration}} {{method}} {{status}}',
            },
          ],
        },
        {
          title: 'Metrics push failures by deployment',
          description:
            'metrics_push_failures_total: failed pushes to the Pushgateway, as reported by the next push that got through.',
          type: 'timeseries',
          unit: 'short',
          w: 12,
          h: 8,
          targets: [
            {
              expr: `sum by (deployment) (increase(metrics_push_failures_total${RATE}))`,
              legend: '{{deployment}}',
            },
          ],
        },
      ],
    },
  ];
}

function build(models: PricedModel[]) {
  const out: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const section of panels(models)) {
    out.push({
      id: id++,
      type: 'row',
      title: section.row,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const p of section.panels) {
      if (x + p.w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      out.push({
        id: id++,
        type: p.type,
        title: p.title,
        description: p.description,
        datasource: DS,
        gridPos: { h: p.h, w: p.w, x, y },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options:
          p.type === 'timeseries'
            ? {
                legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
                tooltip: { mode: 'multi' },
              }
            : p.type === 'table'
              ? { showHeader: true }
              : { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } },
        targets: p.targets.map((t, i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: DS,
          expr: t.expr,
          legendFormat: t.legend,
          ...(t.instant ? { instant: true, range: false } : { range: true }),
        })),
      });
      x += p.w;
      rowHeight = Math.max(rowHeight, p.h);
    }
    y += rowHeight;
  }
  return {
    uid: 'mas-functions',
    title: 'mas-functions',
    description:
      'Requests, errors and latency per function; LLM calls, failed attempts, tokens and estimated cost; approvals and audit writes. Every query sums over isolates (instance).',
    tags: ['mas', 'functions'],
    timezone: 'browser',
    editable: false,
    graphTooltip: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    schemaVersion: 39,
    version: 1,
    templating: { list: [] },
    annotations: { list: [] },
    links: [],
    panels: out,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const registry = parse(readFileSync('config/models.yaml', 'utf8')) as { models: PricedModel[] };
  writeFileSync(OUT, `${JSON.stringify(build(registry.models), null, 2)}\n`);
  console.log(`wrote ${OUT}`);
}
