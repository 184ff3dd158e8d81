import { env as baseEnv, createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import type { Hono } from 'hono';
import { inject } from 'vitest';
import { overridesAsJson } from '../../local/config-overrides.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { withPostgres } from '../../shared/db/postgres.ts';
import { type Env, getSettings } from '../../shared/env.ts';
import type { AppEnv } from '../../shared/http/create-app.ts';

export const KEYS = {
  agent: 'mas_test_agent_key_0123456789abcdef',
  agent2: 'mas_test_agent2_key_0123456789abcdef',
  approver: 'mas_test_approver_key_0123456789abcdef',
  approver2: 'mas_test_approver2_key_0123456789abcdef',
  admin: 'mas_test_admin_key_0123456789abcdef',
  /** The approvers config/policies.yaml names for rotate_credentials (escalation). */
  securityLead: 'mas_test_security_lead_key_0123456789abcdef',
  securityDeputy: 'mas_test_security_deputy_key_0123456789abcdef',
} as const;

/** Agent ids the agent-1 key may record actions as (besides agent-1); agent-2 has none. */
export const AGENT_1_BINDINGS = ['agent-planner', 'agent-ops', 'bad-input-bot', 'faults-bot', 'xss-bot', 'a'];

/** MAS_API_KEYS for the test principals: agent-1 (bound to AGENT_1_BINDINGS), agent-2, approvers, admin. */
export async function testKeysSecret(): Promise<string> {
  return [
    `agent-1:agent:${await sha256Hex(KEYS.agent)}:${AGENT_1_BINDINGS.join('|')}`,
    `agent-2:agent:${await sha256Hex(KEYS.agent2)}`,
    `approver-1:approver:${await sha256Hex(KEYS.approver)}`,
    `approver-2:approver:${await sha256Hex(KEYS.approver2)}`,
    `admin-1:admin:${await sha256Hex(KEYS.admin)}`,
    `security-lead:approver:${await sha256Hex(KEYS.securityLead)}`,
    `security-deputy:approver:${await sha256Hex(KEYS.securityDeputy)}`,
  ].join(',');
}

/**
 * The real stack's bindings (Postgres, Redis) plus the test keys, with `overrides` on top. Tests
 * write MAS_MODELS_YAML / MAS_MCP_YAML as YAML; they reach the worker as JSON, as npm start hands
 * them over (local/config-overrides.ts). `rawEnv` skips that, for the worker's own answer to YAML.
 */
export async function testEnv(overrides: Record<string, string | undefined> = {}): Promise<Env> {
  return {
    ...(baseEnv as unknown as Env),
    MAS_API_KEYS: await testKeysSecret(),
    APPROVAL_SECRET: 'test-approval-secret-0123456789',
    // The webhook sink listens on 127.0.0.1: allowed explicitly, as for local development.
    APPROVAL_WEBHOOK_ALLOW_PRIVATE: 'true',
    // Test files share principals and (in CI) one Redis: only the rate-limit tests, which set
    // their own limits and prefixes, should ever see a 429.
    RATE_LIMIT_REQUESTS: '1000000',
    ...overridesAsJson(overrides),
  };
}

/** testEnv without the YAML-to-JSON conversion: the values reach the worker as written. */
export async function rawEnv(overrides: Record<string, string | undefined> = {}): Promise<Env> {
  return { ...(await testEnv()), ...overrides };
}

/**
 * A streamed body as the pieces the worker handed the runtime (`call` returns the worker's own
 * stream, so each read is one `enqueue`), and the SSE event names in each piece.
 */
export async function bodyPieces(res: Response): Promise<Array<{ text: string; events: string[] }>> {
  const pieces: Array<{ text: string; events: string[] }> = [];
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    const text = decoder.decode(next.value, { stream: true });
    pieces.push({ text, events: [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]!) });
  }
  return pieces;
}

/** Calls an app inside workerd and waits for its `waitUntil` work, as the runtime would. */
export async function call(
  app: { fetch: Hono<AppEnv>['fetch'] },
  path: string,
  init: RequestInit & { env?: Env } = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://mas.test${path}`, init),
    init.env ?? (await testEnv()),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

export const bearer = (role: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[role]}` });

/**
 * A query as the migrations' owner, not as the application role the functions run as: for
 * fixtures (keys in auth.api_keys) and for tampering the app itself could never do.
 */
export async function adminSql<T>(text: string, params: unknown[] = []): Promise<T[]> {
  const settings = getSettings(await testEnv({ DATABASE_URL: inject('adminDatabaseUrl') }));
  return withPostgres(settings, async (client) => (await client.query(text, params)).rows as T[]);
}
