import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, inject, it } from 'vitest';
import { bearer, call, testEnv } from '../../test/workers/helpers.ts';
import mcpApp from './index.ts';

/**
 * The wire behaviour of our own MCP implementation (shared/mcp), judged by the official SDK where
 * it can be (its Client against /mcp, its servers as upstreams) and by plain requests where the
 * SDK never goes (batches, refusals, version negotiation). mcp.test.ts covers the gateway's
 * policy, approvals and the JSON-answering upstreams.
 */
const fake = inject('mcpFakeUrl');

// The paged upstream answers only as event streams, lists its tools two at a time, and sends a
// log notification on each call's stream before the result.
const MCP_YAML = `
wait_seconds: 0
servers:
  paged:
    url: ${fake}/paged/mcp
    timeout_ms: 3000
    tools:
      echo: { category: read }
      upper: { category: read }
      lower: { category: read }
      reverse: { category: read }
      length: { category: read }
  files:
    url: ${fake}/mcp
    allow: [read_file]
    tools:
      read_file: { category: read }
`;
const env = () => testEnv({ MAS_MCP_YAML: MCP_YAML });

/** The SDK client on /mcp; `accept` replaces the Accept header it sends (SSE-only answers). */
async function connect(accept?: string) {
  const bindings = await env();
  const pending: Promise<void>[] = [];
  const transport = new StreamableHTTPClientTransport(new URL('http://mas.test/mcp'), {
    requestInit: { headers: bearer('agent') },
    fetch: async (url, init) => {
      const headers = new Headers(init?.headers);
      if (accept && init?.method === 'POST') headers.set('accept', accept);
      const ctx = createExecutionContext();
      const res = await mcpApp.fetch(new Request(url, { ...init, headers }), bindings, ctx);
      pending.push(waitOnExecutionContext(ctx));
      return res;
    },
  });
  const client = new Client({ name: 'protocol-test-agent', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    close: async () => {
      await client.close();
      await Promise.all(pending);
    },
  };
}

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

/** A raw POST to /mcp, as an agent would send it. */
async function post(body: unknown, headers: Record<string, string> = {}) {
  return call(mcpApp, '/mcp', {
    method: 'POST',
    headers: {
      ...bearer('agent'),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    env: await env(),
  });
}

describe('our MCP client against an SDK upstream that answers in event streams', () => {
  it('lists every page of tools, and a call reads past the notification to its result', async () => {
    const agent = await connect();
    const { tools } = await agent.client.listTools();
    const paged = tools.filter((t) => t.name.startsWith('paged__')).map((t) => t.name);
    // Three pages upstream (2 + 2 + 1): all five only if every nextCursor was followed.
    expect(paged.sort()).toEqual([
      'paged__echo',
      'paged__length',
      'paged__lower',
      'paged__reverse',
      'paged__upper',
    ]);
    const id = crypto.randomUUID().slice(0, 8);
    const result = (await agent.client.callTool({
      name: 'paged__reverse',
      arguments: { text: `abc-${id}` },
    })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe([...`abc-${id}`].reverse().join(''));
    const calls = (await (await fetch(`${fake}/__calls`)).json()) as Array<{
      tool: string;
      arguments: unknown;
    }>;
    expect(
      calls.filter((c) => c.tool === 'reverse' && JSON.stringify(c.arguments).includes(id)),
    ).toHaveLength(1);
    // The upstream's input schema is enforced before anything is forwarded.
    await expect(agent.client.callTool({ name: 'paged__upper', arguments: { text: 5 } })).rejects.toThrow(
      /text/,
    );
    await agent.close();
  });
});

describe('our MCP server, judged by the SDK client', () => {
  it('answers in an event stream when the client accepts only text/event-stream', async () => {
    const agent = await connect('text/event-stream');
    const { tools } = await agent.client.listTools();
    expect(tools.map((t) => t.name)).toContain('files__read_file');
    const result = (await agent.client.callTool({
      name: 'files__read_file',
      arguments: { path: '/sse-answer' },
    })) as CallToolResult;
    expect(text(result)).toBe('contents of /sse-answer: hello from the fake');
    expect(await agent.client.ping()).toEqual({});
    await agent.close();
  });

  it('the raw event stream: one message event per answer, then the end', async () => {
    const res = await post({ jsonrpc: '2.0', id: 'p1', method: 'ping' }, { accept: 'text/event-stream' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe('event: message\ndata: {"jsonrpc":"2.0","id":"p1","result":{}}\n\n');
  });
});

describe('JSON-RPC framing and MCP lifecycle on /mcp', () => {
  it('initialize answers the client revision when we speak it, else our newest', async () => {
    const init = (protocolVersion: string) =>
      post({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      }).then(
        (r) => r.json() as Promise<{ result: { protocolVersion: string; serverInfo: { name: string } } }>,
      );
    expect((await init('2025-06-18')).result.protocolVersion).toBe('2025-06-18');
    expect((await init('2024-11-05')).result.protocolVersion).toBe('2024-11-05');
    const future = await init('2099-01-01');
    expect(future.result).toMatchObject({
      protocolVersion: '2025-11-25',
      serverInfo: { name: 'mas-gateway' },
    });
    // Initialize without its required params is the caller's invalid params.
    const bare = await post({ jsonrpc: '2.0', id: 2, method: 'initialize', params: {} });
    expect(((await bare.json()) as { error: { code: number } }).error.code).toBe(-32602);
  });

  it('a request under a protocol revision we do not speak is refused with 400', async () => {
    const res = await post(
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-protocol-version': '1999-01-01' },
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { id: null; error: { code: number; message: string } };
    expect(body).toMatchObject({ id: null, error: { code: -32000 } });
    expect(body.error.message).toMatch(/Unsupported protocol version: 1999-01-01/);
    const ok = await post(
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { 'mcp-protocol-version': '2025-06-18' },
    );
    expect(await ok.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
  });

  it('a batch is answered as an array: results, errors per message, nothing for notifications', async () => {
    const res = await post([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'b', method: 'no/such/method' },
      { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { arguments: {} } },
      1,
    ]);
    expect(res.status).toBe(200);
    const answers = (await res.json()) as Array<{ id: unknown; result?: unknown; error?: { code: number } }>;
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(answers).toHaveLength(4);
    expect(byId.get('a')).toEqual({ jsonrpc: '2.0', id: 'a', result: {} });
    expect(byId.get('b')?.error?.code).toBe(-32601);
    expect(byId.get('c')?.error?.code).toBe(-32602);
    expect(byId.get(null)?.error?.code).toBe(-32600);
  });

  it('notifications alone are accepted with 202 and no body', async () => {
    const res = await post([
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
    ]);
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
  });

  it.each([
    ['an empty batch', '[]', 400, -32600],
    [
      'initialize inside a batch',
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'initialize' },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      ]),
      400,
      -32600,
    ],
    ['a null id', '{"jsonrpc":"2.0","id":null,"method":"ping"}', 400, -32600],
    ['jsonrpc 1.0', '{"jsonrpc":"1.0","id":1,"method":"ping"}', 400, -32600],
    ['params as a list', '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', 400, -32600],
  ])('%s', async (_, body, status, code) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ id: null, error: { code } });
  });

  it('Accept without JSON or an event stream is 406; */* is answered as JSON', async () => {
    const refused = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { accept: 'text/html' });
    expect(refused.status).toBe(406);
    expect(((await refused.json()) as { error: { code: number } }).error.code).toBe(-32000);
    const any = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { accept: '*/*' });
    expect(await any.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
  });

  it('unknown methods, even inherited names, are -32601', async () => {
    for (const method of ['resources/subscribe', 'constructor', '__proto__', 'toString']) {
      const res = await post({ jsonrpc: '2.0', id: 9, method });
      expect(((await res.json()) as { error: { code: number } }).error.code, method).toBe(-32601);
    }
  });
});
