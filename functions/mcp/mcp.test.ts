import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { withPostgres } from '../../shared/db/postgres.ts';
import type { Env } from '../../shared/env.ts';
import { getSettings } from '../../shared/env.ts';
import { bearer, call, KEYS, testEnv } from '../../test/workers/helpers.ts';
import approvalApp from '../approval/index.ts';
import auditApp from '../audit/index.ts';
import all from '../index.ts';
import readyApp from '../ready/index.ts';
import mcpApp from './index.ts';

const fake = inject('mcpFakeUrl');
const blackhole = inject('blackholeUrl');
const sink = inject('webhookSinkUrl');
const TOKEN = 'files-upstream-token-7Hq2Zx9Lm4Rt8Wp1';

const MCP_YAML = (waitSeconds: number) => `
wait_seconds: ${waitSeconds}
tools_cache_seconds: 60
servers:
  files:
    url: ${fake}/mcp
    credential: { env: FILES_MCP_TOKEN, header: authorization, scheme: Bearer }
    timeout_ms: 3000
    allow: [read_file, delete_file, stall, fail, explode]
    tools:
      read_file: { category: read }
      delete_file: { category: destructive, risk: Deletes the file for good. }
      stall: { category: read }
      fail: { category: read }
      explode: { category: read }
  bank:
    url: ${fake}/mcp
    allow: [transfer_funds]
    tools:
      # config/actions.yaml registers mcp:bank/transfer_funds as financial: the registry wins.
      transfer_funds: { category: read }
  legacy:
    url: ${fake}/sse
    transport: sse
    allow: [read_file]
    tools:
      read_file: { category: read }
  slow:
    url: ${blackhole}/mcp
    timeout_ms: 800
  down:
    url: http://127.0.0.1:9/mcp
    timeout_ms: 800
  garbage:
    url: ${fake}/garbage/mcp
    timeout_ms: 800
`;

let hookPath = '';
const env = (overrides: Record<string, string> = {}) =>
  testEnv({
    MAS_MCP_YAML: MCP_YAML(1),
    FILES_MCP_TOKEN: TOKEN,
    APPROVAL_WEBHOOK_URL: `${sink}${hookPath}`,
    APPROVAL_WEBHOOK_SECRET: 'hook-secret-0123456789',
    ...overrides,
  });

/** The official SDK client, unchanged, speaking Streamable HTTP to our /mcp inside workerd. */
async function connect(
  path = '/mcp',
  options: { role?: keyof typeof KEYS; env?: Env; app?: { fetch: typeof mcpApp.fetch } } = {},
) {
  const bindings = options.env ?? (await env());
  const app = options.app ?? mcpApp;
  const pending: Promise<void>[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(`http://mas.test${path}`), {
    requestInit: { headers: bearer(options.role ?? 'agent') },
    fetch: async (url, init) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(url, init), bindings, ctx);
      pending.push(waitOnExecutionContext(ctx));
      return res;
    },
  });
  const client = new Client({ name: 'mcp-test-agent', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    call: (name: string, args: Record<string, unknown>) =>
      client.callTool({ name, arguments: args }) as Promise<CallToolResult>,
    settle: () => Promise.all(pending),
    close: () => client.close(),
  };
}

type FakeCall = {
  tool: string;
  arguments: Record<string, unknown>;
  headers: Record<string, string>;
  transport: string;
};
const fakeCalls = async () => (await (await fetch(`${fake}/__calls`)).json()) as FakeCall[];
const callsOf = async (tool: string, match: (args: Record<string, unknown>) => boolean) =>
  (await fakeCalls()).filter((c) => c.tool === tool && match(c.arguments));
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
const mas = (r: CallToolResult) => (r.structuredContent as { mas: Record<string, string> }).mas;
const unique = () => crypto.randomUUID().slice(0, 8);

async function decide(approvalId: string, decision: 'approve' | 'reject', reason?: string) {
  const res = await call(approvalApp, `/v1/approvals/${approvalId}/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer('approver') },
    body: JSON.stringify({ decision, ...(reason ? { reason } : {}) }),
    env: await env(),
  });
  expect(res.status).toBe(200);
}

/** Polls the approvers' queue until the approval of a matching call shows up. */
async function pendingApproval(match: (args: Record<string, unknown>) => boolean): Promise<string> {
  let found: string | undefined;
  await vi.waitFor(
    async () => {
      const res = await call(approvalApp, '/v1/approvals?status=pending', {
        headers: bearer('approver'),
        env: await env(),
      });
      const { data } = (await res.json()) as {
        data: Array<{ id: string; inputs?: { arguments?: Record<string, unknown> } }>;
      };
      found = data.find((a) => a.inputs?.arguments && match(a.inputs.arguments))?.id;
      expect(found).toBeDefined();
    },
    { timeout: 15_000, interval: 200 },
  );
  return found!;
}

async function ledger(actionId: string) {
  const res = await call(auditApp, `/v1/audit/actions/${actionId}`, {
    headers: bearer('admin'),
    env: await env(),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    status: string;
    principal: string;
    agent_id: string;
    category: string;
    tool_name: string;
    entries: Array<{
      status: string;
      inputs: unknown;
      outputs: unknown;
      error: string | null;
      principal: string;
    }>;
  };
}

afterEach(() => vi.restoreAllMocks());

describe('tools/list', () => {
  it('aggregates the servers as <server>__<tool>, keeps schemas, applies allow-lists, skips servers that fail', async () => {
    const agent = await connect();
    const { tools } = await agent.client.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual([
      'bank__transfer_funds',
      'files__delete_file',
      'files__explode',
      'files__fail',
      'files__read_file',
      'files__stall',
      'legacy__read_file',
    ]);
    const read = tools.find((t) => t.name === 'files__read_file')!;
    expect(read.description).toBe('Reads a file and returns its text.');
    expect(read.inputSchema.required).toEqual(['path']);
    expect(read.annotations?.readOnlyHint).toBe(true);
    await agent.close();
  });

  it('/mcp/{server} serves one server under its own tool names; an unknown server is 404', async () => {
    const agent = await connect('/mcp/bank');
    expect((await agent.client.listTools()).tools.map((t) => t.name)).toEqual(['transfer_funds']);
    await agent.close();
    const res = await call(mcpApp, '/mcp/nope', {
      method: 'POST',
      headers: {
        ...bearer('agent'),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      env: await env(),
    });
    expect(res.status).toBe(404);
  });

  it('authenticates with our API keys: none is 401, an approver key is 403; GET and DELETE are 405', async () => {
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      env: await env(),
    };
    expect((await call(mcpApp, '/mcp', init)).status).toBe(401);
    expect(
      (await call(mcpApp, '/mcp', { ...init, headers: { ...init.headers, ...bearer('approver') } })).status,
    ).toBe(403);
    const get = await call(mcpApp, '/mcp', { headers: bearer('agent'), env: await env() });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(
      (await call(mcpApp, '/mcp', { method: 'DELETE', headers: bearer('agent'), env: await env() })).status,
    ).toBe(405);
  });

  it('malformed JSON-RPC, a wrong content type and a body over the limit are clean 4xx, never 500', async () => {
    const post = async (body: string, headers: Record<string, string> = {}) =>
      call(mcpApp, '/mcp', {
        method: 'POST',
        headers: {
          ...bearer('agent'),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body,
        env: await env(),
      });
    const broken = await post('{"jsonrpc":"2.0","id":1,"method":');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: number } }).error.code).toBe(-32700);
    expect((await post('{"not":"json-rpc"}')).status).toBe(400);
    expect(
      (await post('{"jsonrpc":"2.0","id":1,"method":"tools/list"}', { 'content-type': 'text/plain' })).status,
    ).toBe(415);
    const huge = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { pad: 'x'.repeat(1_100_000) },
    });
    expect((await post(huge)).status).toBe(413);
  });

  it('is rate-limited per principal like every route (429 with Retry-After)', async () => {
    const limited = await env({ RATE_LIMIT_REQUESTS: '1' });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await call(mcpApp, '/mcp', {
        method: 'POST',
        headers: {
          ...bearer('agent2'),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }),
        env: limited,
      });
      statuses.push(last.status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('is served by the combined deployment too, and resources and prompts pass through read-only', async () => {
    const agent = await connect('/mcp/files', { app: all });
    const { resources } = await agent.client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['file:///readme.txt']);
    const read = await agent.client.readResource({ uri: 'file:///readme.txt' });
    expect(read.contents[0]).toMatchObject({ text: 'read me first' });
    const { prompts } = await agent.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['summarize']);
    const prompt = await agent.client.getPrompt({ name: 'summarize', arguments: { text: 'abc' } });
    expect(prompt.messages[0]?.content).toMatchObject({ text: 'Summarize: abc' });
    await agent.close();
    const aggregated = await connect('/mcp');
    expect((await aggregated.client.listPrompts()).prompts.map((p) => p.name)).toContain('files__summarize');
    await aggregated.close();
  });
});

describe('tools/call', () => {
  it('a read tool goes straight through, with the credential injected upstream, and is in the ledger', async () => {
    const id = unique();
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    const agent = await connect();
    const result = await agent.call('files__read_file', { path: `/tmp/${id}.txt` });
    await agent.settle();
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe(`contents of /tmp/${id}.txt: hello from the fake`);
    const seen = await callsOf('read_file', (a) => a.path === `/tmp/${id}.txt`);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen[0]!.headers.traceparent).toMatch(/^00-/);
    // The agent's key never goes upstream; the upstream's token never comes back.
    expect(JSON.stringify(seen[0]!.headers)).not.toContain(KEYS.agent);
    expect(JSON.stringify(result)).not.toContain(TOKEN);

    const list = await call(auditApp, '/v1/audit/actions?limit=20', {
      headers: bearer('admin'),
      env: await env(),
    });
    const rows = ((await list.json()) as { data: Array<{ action_id: string; tool_name: string }> }).data;
    const row = rows.find((r) => r.tool_name === 'mcp:files/read_file')!;
    const history = await ledger(row.action_id);
    expect(history).toMatchObject({
      status: 'completed',
      principal: 'agent-1',
      agent_id: 'agent-1',
      category: 'read',
    });
    expect(history.entries[0]!.inputs).toMatchObject({
      server: 'files',
      tool: 'read_file',
      arguments: { path: `/tmp/${id}.txt` },
    });
    expect(history.entries[1]!.outputs).toMatchObject({ outcome: 'ok', duration_ms: expect.any(Number) });
    expect(JSON.stringify(history)).not.toContain(TOKEN);
    expect(lines.join('\n')).not.toContain(TOKEN);
    await agent.close();
  });

  it('the action registry classifies the tool: a small transfer runs, a large one is gated (amount at arguments.amount)', async () => {
    const id = unique();
    const agent = await connect();
    const small = await agent.call('bank__transfer_funds', { to: `small-${id}`, amount: 50 });
    expect(text(small)).toBe(`transferred 50 to small-${id}`);
    const large = await agent.call('bank__transfer_funds', { to: `large-${id}`, amount: 5000 });
    expect(mas(large).status).toBe('pending_approval');
    expect(await callsOf('transfer_funds', (a) => a.to === `large-${id}`)).toHaveLength(0);
    const history = await ledger(mas(large).action_id!);
    expect(history).toMatchObject({ category: 'financial', tool_name: 'mcp:bank/transfer_funds' });
    await agent.close();
  });

  it('reaches an upstream over the older HTTP+SSE transport', async () => {
    const id = unique();
    const agent = await connect();
    const result = await agent.call('legacy__read_file', { path: `/sse/${id}` });
    expect(text(result)).toContain(`/sse/${id}`);
    expect((await callsOf('read_file', (a) => a.path === `/sse/${id}`))[0]?.transport).toBe('sse');
    await agent.close();
  });

  it('rejects arguments that break the input schema with a JSON-RPC error naming the field; nothing forwarded', async () => {
    const agent = await connect();
    const before = (await fakeCalls()).length;
    await expect(agent.call('bank__transfer_funds', { to: 'acct-1', amount: 'lots' })).rejects.toThrow(
      /amount/,
    );
    await expect(agent.call('files__read_file', {})).rejects.toThrow(/path/);
    await expect(agent.call('files__nope', {})).rejects.toThrow(/Unknown tool/);
    // Not exposed by the allow-list, though the upstream has it.
    await expect(agent.call('bank__read_file', { path: '/x' })).rejects.toThrow(/Unknown tool/);
    expect((await fakeCalls()).length).toBe(before);
    await agent.close();
  });

  it('a gated call is pending, then approved: the same call executes exactly once; changed arguments need a new approval', async () => {
    const id = unique();
    hookPath = `/hook/mcp-${id}`;
    const agent = await connect();
    const first = await agent.call('files__delete_file', { path: `/data/${id}` });
    expect(first.isError).toBe(true);
    const pending = mas(first);
    expect(pending.status).toBe('pending_approval');
    expect(text(first)).toContain(pending.approval_id!);
    expect(text(first)).toMatch(/Retry exactly the same call/);
    // Retrying while pending waits on the same approval: no second one.
    const again = await agent.call('files__delete_file', { path: `/data/${id}` });
    expect(mas(again).approval_id).toBe(pending.approval_id);
    expect(await callsOf('delete_file', (a) => a.path === `/data/${id}`)).toHaveLength(0);
    await agent.settle();
    const hooks = (await (await fetch(`${sink}${hookPath}`)).json()) as Array<{
      body: string;
      headers: Record<string, string>;
    }>;
    expect(hooks.map((h) => JSON.parse(h.body).approval.id)).toContain(pending.approval_id);
    expect(hooks[0]!.headers['x-mas-signature']).toMatch(/^sha256=/);

    await decide(pending.approval_id!, 'approve', 'ok to delete');
    const executed = await agent.call('files__delete_file', { path: `/data/${id}` });
    expect(executed.isError).toBeFalsy();
    expect(text(executed)).toBe(`deleted /data/${id}`);
    expect(await callsOf('delete_file', (a) => a.path === `/data/${id}`)).toHaveLength(1);

    // Different arguments: a new approval, nothing executed.
    const other = await agent.call('files__delete_file', { path: `/data/${id}-other` });
    expect(mas(other).status).toBe('pending_approval');
    expect(mas(other).approval_id).not.toBe(pending.approval_id);
    expect(await callsOf('delete_file', (a) => a.path === `/data/${id}-other`)).toHaveLength(0);
    // The executed call again, at once: already executed, not run again.
    const replay = await agent.call('files__delete_file', { path: `/data/${id}` });
    expect(mas(replay)).toMatchObject({ status: 'already_executed', approval_id: pending.approval_id });
    // Later (the replay window passed): the same call is a new one, with a new approval.
    await withPostgres(getSettings(await env()), (client) =>
      client.query("update audit.approvals set receipt_used_at = now() - interval '1 hour' where id = $1", [
        pending.approval_id,
      ]),
    );
    const repeat = await agent.call('files__delete_file', { path: `/data/${id}` });
    expect(mas(repeat).status).toBe('pending_approval');
    expect(mas(repeat).approval_id).not.toBe(pending.approval_id);
    expect(await callsOf('delete_file', (a) => a.path === `/data/${id}`)).toHaveLength(1);

    await agent.settle();
    const history = await ledger(pending.action_id!);
    expect(history.status).toBe('completed');
    expect(history.entries.map((e) => e.status)).toEqual(['pending_approval', 'approved', 'completed']);
    await agent.close();
  });

  it('an approval decided while the call waits executes it in the same call', async () => {
    const id = unique();
    const agent = await connect('/mcp', { env: await env({ MAS_MCP_YAML: MCP_YAML(20) }) });
    const inFlight = agent.call('bank__transfer_funds', { to: `acct-${id}`, amount: 5000 });
    const approvalId = await pendingApproval((args) => args.to === `acct-${id}`);
    await decide(approvalId, 'approve');
    const result = await inFlight;
    expect(text(result)).toBe(`transferred 5000 to acct-${id}`);
    expect(await callsOf('transfer_funds', (a) => a.to === `acct-${id}`)).toHaveLength(1);
    await agent.close();
  });

  it('a rejection reaches the agent with the reason; an expired approval says so', async () => {
    const id = unique();
    const agent = await connect();
    const first = await agent.call('bank__transfer_funds', { to: `acct-${id}`, amount: 900 });
    await decide(mas(first).approval_id!, 'reject', 'not this vendor, use the usual one');
    const rejected = await agent.call('bank__transfer_funds', { to: `acct-${id}`, amount: 900 });
    expect(rejected.isError).toBe(true);
    expect(mas(rejected).status).toBe('rejected');
    expect(text(rejected)).toContain('not this vendor, use the usual one');

    const late = await agent.call('files__delete_file', { path: `/expire/${id}` });
    const approvalId = mas(late).approval_id!;
    // Time passing: the approval's deadline moved into the past.
    await withPostgres(getSettings(await env()), (client) =>
      client.query("update audit.approvals set expires_at = now() - interval '1 second' where id = $1", [
        approvalId,
      ]),
    );
    const expired = await agent.call('files__delete_file', { path: `/expire/${id}` });
    // The retry found the old approval expired and asked for a new one...
    expect(mas(expired).approval_id).not.toBe(approvalId);
    // ...while a call still waiting when its approval expires is told so.
    const waiting = await connect('/mcp', { env: await env({ MAS_MCP_YAML: MCP_YAML(8) }) });
    const inFlight = waiting.call('files__delete_file', { path: `/expire2/${id}` });
    const pendingId = await pendingApproval((args) => args.path === `/expire2/${id}`);
    await withPostgres(getSettings(await env()), (client) =>
      client.query("update audit.approvals set expires_at = now() - interval '1 second' where id = $1", [
        pendingId,
      ]),
    );
    const result = await inFlight;
    expect(mas(result).status).toBe('expired');
    expect(text(result)).toMatch(/expired/);
    expect(await callsOf('delete_file', (a) => String(a.path).startsWith('/expire'))).toHaveLength(0);
    await agent.close();
    await waiting.close();
  });

  it('50 concurrent retries of one approved call execute it once', async () => {
    const id = unique();
    const agent = await connect();
    const first = await agent.call('files__delete_file', { path: `/race/${id}` });
    await decide(mas(first).approval_id!, 'approve');
    const results = await Promise.all(
      Array.from({ length: 50 }, () => agent.call('files__delete_file', { path: `/race/${id}` })),
    );
    expect(await callsOf('delete_file', (a) => a.path === `/race/${id}`)).toHaveLength(1);
    expect(results.filter((r) => !r.isError)).toHaveLength(1);
    for (const r of results.filter((r) => r.isError)) expect(mas(r).status).toBe('already_executed');
    await agent.close();
  });
});

describe('failing upstreams', () => {
  it('a stalled tool times out cleanly as a tool error, recorded as failed', async () => {
    const agent = await connect();
    const started = Date.now();
    const result = await agent.call('files__stall', {});
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.isError).toBe(true);
    expect(mas(result).status).toBe('timeout');
    expect(text(result)).toMatch(/did not answer within 3000 ms/);
    await agent.settle();
    const history = await ledger(mas(result).action_id!);
    expect(history.status).toBe('failed');
    expect(history.entries.at(-1)!.error).toMatch(/did not answer/);
    await agent.close();
  });

  it('an upstream tool error and an upstream JSON-RPC error come back as errors, not 500s', async () => {
    const agent = await connect();
    const failed = await agent.call('files__fail', {});
    expect(failed.isError).toBe(true);
    expect(text(failed)).toBe('disk on fire');
    const exploded = await agent.call('files__explode', {});
    // McpServer turns a throwing tool into an error result.
    expect(exploded.isError).toBe(true);
    await agent.close();
  });

  it.each(['slow', 'down', 'garbage'])(
    'a %s upstream: a clean JSON-RPC error from /mcp/{server}, never a hang',
    async (name) => {
      const agent = await connect(`/mcp/${name}`);
      const started = Date.now();
      await expect(agent.client.listTools()).rejects.toThrow(new RegExp(`MCP server '${name}'`));
      expect(Date.now() - started).toBeLessThan(15_000);
      await agent.close();
    },
  );
});

describe('/ready', () => {
  it('reports each MCP server, and a failing one never makes the gateway unready', async () => {
    const res = await call(readyApp, '/ready', { env: await env() });
    const body = (await res.json()) as {
      status: string;
      checks: Record<string, { status: string; required: boolean; error?: string }>;
    };
    expect(body.status).toBe('ready');
    expect(body.checks['mcp:files']).toMatchObject({ status: 'ok', required: false });
    expect(body.checks['mcp:legacy']).toMatchObject({ status: 'ok', required: false });
    expect(body.checks['mcp:down']).toMatchObject({ status: 'fail', required: false });
    expect(body.checks['mcp:slow']).toMatchObject({ status: 'fail', required: false });
    expect(body.checks['mcp:garbage']?.status).toBe('fail');
    expect(JSON.stringify(body)).not.toContain(TOKEN);
    expect(JSON.stringify(body)).not.toContain('127.0.0.1');
    const bad = await call(readyApp, '/ready', {
      env: await env({ MAS_MCP_YAML: 'servers: { files: {} }' }),
    });
    expect(((await bad.json()) as { checks: Record<string, { error?: string }> }).checks.mcp?.error).toMatch(
      /MAS_MCP_YAML: servers.files.url/,
    );
  });
});
