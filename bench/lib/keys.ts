/**
 * The bench's principals and the settings the function under test gets. Keys are fixed strings
 * (loopback only, throwaway databases); MAS_API_KEYS holds only their SHA-256, as in production.
 */
import { createHash } from 'node:crypto';

export const BENCH_KEYS = {
  agent: { id: 'bench-agent', role: 'agent', key: 'mas_bench_agent_key_0123456789abcdef' },
  approver: { id: 'bench-approver', role: 'approver', key: 'mas_bench_approver_key_0123456789abcdef' },
  admin: { id: 'bench-admin', role: 'admin', key: 'mas_bench_admin_key_0123456789abcdef' },
  /** An agent with budgets set (never reached): the chat path with reservation and settlement. */
  budgeted: { id: 'bench-budgeted', role: 'agent', key: 'mas_bench_budgeted_key_0123456789abcdef' },
} as const;

export const bearer = (who: keyof typeof BENCH_KEYS) => `Bearer ${BENCH_KEYS[who].key}`;

export function benchKeysSecret(): string {
  return Object.values(BENCH_KEYS)
    .map((k) => `${k.id}:${k.role}:${createHash('sha256').update(k.key).digest('hex')}`)
    .join(',');
}

export interface FunctionVarsOptions {
  stackSettings: Record<string, string>;
  upstreamUrl: string;
  /** The fake MCP server (test/fakes/mcp-fake.ts), fronted as MCP server `bench`. */
  mcpUrl: string;
  /** Keep Redis (rate limits through the Upstash bridge) or leave it out (per-isolate limiter). */
  redis: boolean;
  logLevel: string;
}

/** Vars for the combined function: the stack, the fake upstream for every role, bench keys. */
export function functionVars(o: FunctionVarsOptions): Record<string, string> {
  const vars: Record<string, string> = { ...o.stackSettings };
  if (!o.redis) {
    delete vars.UPSTASH_REDIS_REST_URL;
    delete vars.UPSTASH_REDIS_REST_TOKEN;
  }
  return {
    ...vars,
    LLM_BASE_URL: `${o.upstreamUrl}/v1`,
    LLM_DEFAULT_PROVIDER: 'openai_compatible',
    // The openai provider on the same fake, so the Responses API is measured native as well as
    // translated (registry id gpt-4.1-nano keeps its provider: its base URL was set on purpose).
    OPENAI_BASE_URL: `${o.upstreamUrl}/v1`,
    OPENAI_API_KEY: 'sk-bench-0000000000000000000000000000',
    MAS_API_KEYS: benchKeysSecret(),
    APPROVAL_SECRET: 'bench-approval-secret-0123456789abcdef',
    // The limiter still runs (its cost is part of every request) but never says no.
    RATE_LIMIT_REQUESTS: '1000000000',
    LOG_LEVEL: o.logLevel,
    // JSON, the form Workers read (shared/config/override.ts).
    MAS_MCP_YAML: JSON.stringify({
      servers: { bench: { url: `${o.mcpUrl}/mcp`, tools: { read_file: { category: 'read' } } } },
    }),
  };
}
