/**
 * The first request bench:isolate-start sends a new isolate (`--first`):
 *   health  GET /health, which every deployment answers without I/O: what the isolate's start-up
 *           leaves the first request, nothing more
 *   real    the deployment's main route doing its real work against the bench stack (its Postgres,
 *           Redis behind the Upstash bridge, the fake upstream and the fake MCP server): auth with
 *           a bench key, the rate limiter, the upstream call, the usage row or the ledger append.
 *           What a schema, driver or built-in deferred to first use costs shows here, and not
 *           under `health`.
 * Every real request is the same on every sample (same body, same key, an answer of the same
 * size), so --young's bisection over pads sees the same allocation each time: usage reads the
 * `budgeted` key's usage, which no request of this bench adds to; approval decides an approval
 * made for the sample (`seed`), whose id is the only thing that changes.
 */
import { BENCH_KEYS, bearer } from './keys.ts';

export const FIRST_KINDS = ['health', 'real'] as const;
export type FirstKind = (typeof FIRST_KINDS)[number];

/** A request, origin-relative, with what its answer must show for the sample to count. */
export interface FirstRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  status: number;
  /** Text the answer must contain (the fake's answer, a JSON-RPC result). */
  includes?: string;
  /** Text it must not (an MCP tool error comes as a 200). */
  excludes?: string;
}

/** `--first health,real`, checked. */
export function firstKinds(value: string): FirstKind[] {
  const kinds = value.split(',');
  for (const k of kinds) {
    if (!FIRST_KINDS.includes(k as FirstKind))
      throw new Error(`--first: ${FIRST_KINDS.join(', ')}, not ${k}`);
  }
  return kinds as FirstKind[];
}

const json = { 'content-type': 'application/json' };
const agent = { ...json, authorization: bearer('agent') };
const FAKE_ANSWER = 'Hello from the bench upstream.';
const chat: FirstRequest = {
  method: 'POST',
  path: '/v1/chat/completions',
  headers: agent,
  body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'Say hello.' }] }),
  status: 200,
  includes: FAKE_ANSWER,
};

export const HEALTH: FirstRequest = { method: 'GET', path: '/health', headers: {}, status: 200 };

/** The pending approval a sample of approval's real request decides (made by `seed`). */
export const SEED_ACTION = JSON.stringify({
  agent_id: BENCH_KEYS.agent.id,
  agent_name: 'Bench',
  action_type: 'bench.delete_bucket',
  category: 'destructive',
  inputs: { bucket: 'logs' },
});

/** Whether the deployment's real request needs an approval made first (`seed`). */
export const needsSeed = (deployment: string, kind: FirstKind) =>
  kind === 'real' && deployment === 'approval';

/**
 * The first request of `deployment` (a wrangler.toml deployment, or the empty Worker's `health`).
 * `approvalId`: the pending approval approval's real request decides.
 */
export function firstRequest(deployment: string, kind: FirstKind, approvalId?: string): FirstRequest {
  if (kind === 'health') return HEALTH;
  switch (deployment) {
    case 'health':
      return HEALTH;
    case 'all':
    case 'chat':
      return chat;
    case 'ready':
      return { method: 'GET', path: '/ready', headers: {}, status: 200 };
    case 'messages':
      return {
        method: 'POST',
        path: '/v1/messages',
        headers: { ...json, 'x-api-key': BENCH_KEYS.agent.key, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({
          model: 'fast',
          max_tokens: 64,
          messages: [{ role: 'user', content: 'Say hello.' }],
        }),
        status: 200,
        includes: FAKE_ANSWER,
      };
    case 'embed':
      return {
        method: 'POST',
        path: '/v1/embeddings',
        headers: agent,
        body: JSON.stringify({ model: 'embedding', input: 'The quick brown fox.' }),
        status: 200,
        includes: '"embedding":[',
      };
    case 'usage':
      return {
        method: 'GET',
        path: '/v1/usage',
        headers: { authorization: bearer('budgeted') },
        status: 200,
      };
    case 'audit':
      return {
        method: 'POST',
        path: '/v1/audit/actions',
        headers: agent,
        body: JSON.stringify({
          agent_id: BENCH_KEYS.agent.id,
          agent_name: 'Bench',
          action_type: 'bench.lookup',
          category: 'read',
          inputs: { query: 'status of order 42' },
        }),
        status: 201,
      };
    case 'approval':
      if (!approvalId) throw new Error("approval's real request needs a pending approval (seed)");
      return {
        method: 'POST',
        path: `/v1/approvals/${approvalId}/decision`,
        headers: { ...json, authorization: bearer('approver') },
        body: JSON.stringify({ decision: 'approve', reason: 'bench' }),
        status: 200,
      };
    case 'proxy':
      // A read through the mindex integration (MINDEX_API_URL is the fake upstream): auth, the
      // limiter, the path guard, the upstream call and its metrics; reads are not audited.
      return {
        method: 'GET',
        path: '/v1/integrations/mindex/health',
        headers: { authorization: bearer('agent') },
        status: 200,
        includes: '{"status":"ok"}',
      };
    case 'mcp':
      // A tools/call of a read tool on the fake MCP server: stateless, audited, not gated.
      return {
        method: 'POST',
        path: '/mcp',
        headers: { ...agent, accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'bench__read_file', arguments: { path: '/bench/readme.txt' } },
        }),
        status: 200,
        includes: '"result"',
        excludes: '"isError":true',
      };
    default:
      throw new Error(`no real first request for deployment ${deployment}`);
  }
}

/** Why `text` (answered with `status`) is not what `spec` expects, or undefined. */
export function answerProblem(spec: FirstRequest, status: number, text: string): string | undefined {
  if (status !== spec.status) return `answered ${status}, not ${spec.status}: ${text.slice(0, 300)}`;
  if (spec.includes && !text.includes(spec.includes))
    return `answered without ${JSON.stringify(spec.includes)}: ${text.slice(0, 300)}`;
  if (spec.excludes && text.includes(spec.excludes))
    return `answered with ${JSON.stringify(spec.excludes)}: ${text.slice(0, 300)}`;
  return undefined;
}

/** Sends `spec` to `origin` and checks the answer; throws naming `who` when it is not right. */
export async function sendFirst(origin: string, spec: FirstRequest, who: string): Promise<void> {
  const res = await fetch(origin + spec.path, {
    method: spec.method,
    headers: spec.headers,
    ...(spec.body ? { body: spec.body } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const problem = answerProblem(spec, res.status, await res.text());
  if (problem) throw new Error(`${who}: ${spec.method} ${spec.path} ${problem}`);
}

/** A pending approval made through `origin` (a server of the `all` function on the same stack). */
export async function seed(origin: string): Promise<string> {
  const res = await fetch(`${origin}/v1/audit/actions`, {
    method: 'POST',
    headers: agent,
    body: SEED_ACTION,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const id = res.ok ? (JSON.parse(text) as { approval?: { id?: string } }).approval?.id : undefined;
  if (!id) throw new Error(`seeding a pending approval answered ${res.status}: ${text.slice(0, 300)}`);
  return id;
}
