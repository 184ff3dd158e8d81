import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { listenOnLoopback, readBody } from './listen.ts';

export interface FakeCall {
  tool: string;
  arguments: unknown;
  headers: Record<string, unknown>;
  transport: 'streamable_http' | 'sse';
}

/**
 * A real MCP server built with the official SDK (`McpServer`), standing in for the upstream MCP
 * servers the gateway fronts. Tools:
 *   read_file {path}            a file's text (a read)
 *   delete_file {path}          "deleted" (destructive: gated)
 *   transfer_funds {to, amount} "transferred" (financial: gated over the threshold)
 *   stall {}                    never answers (until the caller gives up)
 *   fail {}                     an error result (isError), as a tool that failed
 *   explode {}                  a JSON-RPC error from the server
 * plus a resource `file:///readme.txt` and a prompt `summarize`.
 * Endpoints:
 *   POST /mcp                   Streamable HTTP, stateless (a new McpServer per request)
 *   GET  /sse, POST /messages   the older HTTP+SSE transport
 *   POST /paged/mcp             Streamable HTTP answered only as event streams (the SDK's default,
 *                               no JSON responses), by the SDK's low-level Server: tools/list in
 *                               pages of two (nextCursor), and each tools/call sends a log
 *                               notification on the stream before its result. Tools echo, upper,
 *                               lower, reverse, length, each {text}
 *   POST /garbage/mcp           200 with a body that is not JSON-RPC
 *   GET  /__calls               every tools/call received (tool, arguments, headers)
 *   GET  /__requests            how many HTTP requests each endpoint received
 */
export async function startMcpFake(): Promise<{ url: string; close(): Promise<void> }> {
  const calls: FakeCall[] = [];
  const hits: Record<string, number> = {};
  const sse = new Map<string, SSEServerTransport>();

  function build(headers: Record<string, unknown>, transport: FakeCall['transport']): McpServer {
    const server = new McpServer(
      { name: 'mcp-fake', version: '1.0.0' },
      { capabilities: { tools: {}, resources: {}, prompts: {} } },
    );
    const record = (tool: string, args: unknown) => {
      // Bounded: the bench sends this fake thousands of calls.
      if (calls.length >= 20_000) calls.splice(0, 10_000);
      calls.push({ tool, arguments: args, headers, transport });
    };
    server.registerTool(
      'read_file',
      {
        description: 'Reads a file and returns its text.',
        inputSchema: { path: z.string().min(1).describe('absolute path') },
        annotations: { readOnlyHint: true },
      },
      async (args) => {
        record('read_file', args);
        return { content: [{ type: 'text', text: `contents of ${args.path}: hello from the fake` }] };
      },
    );
    server.registerTool(
      'delete_file',
      { description: 'Deletes a file.', inputSchema: { path: z.string().min(1) } },
      async (args) => {
        record('delete_file', args);
        return { content: [{ type: 'text', text: `deleted ${args.path}` }] };
      },
    );
    server.registerTool(
      'transfer_funds',
      {
        description: 'Moves money to an account.',
        inputSchema: { to: z.string().min(1), amount: z.number().positive(), memo: z.string().optional() },
      },
      async (args) => {
        record('transfer_funds', args);
        return {
          content: [{ type: 'text', text: `transferred ${args.amount} to ${args.to}` }],
          structuredContent: undefined,
        };
      },
    );
    server.registerTool('stall', { description: 'Never answers.', inputSchema: {} }, async (_args, extra) => {
      record('stall', {});
      await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
      return { content: [{ type: 'text', text: 'too late' }] };
    });
    server.registerTool('fail', { description: 'Always fails.', inputSchema: {} }, async () => {
      record('fail', {});
      return { isError: true, content: [{ type: 'text', text: 'disk on fire' }] };
    });
    server.registerTool(
      'explode',
      { description: 'Answers with a JSON-RPC error.', inputSchema: {} },
      async () => {
        record('explode', {});
        throw new Error('kaboom');
      },
    );
    server.registerResource(
      'readme',
      'file:///readme.txt',
      { description: 'The read-me', mimeType: 'text/plain' },
      async (uri) => ({ contents: [{ uri: uri.href, text: 'read me first' }] }),
    );
    server.registerPrompt(
      'summarize',
      { description: 'Summarize a text', argsSchema: { text: z.string() } },
      ({ text }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Summarize: ${text}` } }] }),
    );
    return server;
  }

  const PAGED_TOOLS = ['echo', 'upper', 'lower', 'reverse', 'length'];
  const transforms: Record<string, (text: string) => string> = {
    echo: (t) => t,
    upper: (t) => t.toUpperCase(),
    lower: (t) => t.toLowerCase(),
    reverse: (t) => [...t].reverse().join(''),
    length: (t) => String(t.length),
  };
  function buildPaged(headers: Record<string, unknown>): Server {
    const server = new Server(
      { name: 'mcp-fake-paged', version: '1.0.0' },
      { capabilities: { tools: {}, logging: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, async (request) => {
      const start = Number(request.params?.cursor ?? 0);
      const next = start + 2;
      return {
        tools: PAGED_TOOLS.slice(start, next).map((name) => ({
          name,
          description: `${name} of a text`,
          inputSchema: {
            type: 'object' as const,
            properties: { text: { type: 'string' } },
            required: ['text'],
          },
        })),
        ...(next < PAGED_TOOLS.length ? { nextCursor: String(next) } : {}),
      };
    });
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const args = request.params.arguments ?? {};
      if (calls.length >= 20_000) calls.splice(0, 10_000);
      calls.push({ tool: request.params.name, arguments: args, headers, transport: 'streamable_http' });
      // On the request's own stream, before the result: the client must read past it.
      await extra.sendNotification({
        method: 'notifications/message',
        params: { level: 'info', data: `working on ${request.params.name}` },
      });
      const transform = transforms[request.params.name];
      if (!transform) return { isError: true, content: [{ type: 'text', text: 'no such tool' }] };
      return { content: [{ type: 'text', text: transform(String(args.text ?? '')) }] };
    });
    return server;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    hits[`${req.method} ${url.pathname}`] = (hits[`${req.method} ${url.pathname}`] ?? 0) + 1;
    if (url.pathname === '/__calls') return json(res, 200, calls);
    if (url.pathname === '/__requests') return json(res, 200, hits);
    if (url.pathname === '/garbage/mcp') {
      await readBody(req);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"this is": not json-rpc');
      return;
    }
    if (url.pathname === '/paged/mcp') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      // Answers on an event stream (the SDK's default).
      return serveStateless(req, res, buildPaged(req.headers), false);
    }
    if (url.pathname === '/mcp') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      return serveStateless(req, res, build(req.headers, 'streamable_http'), true);
    }
    if (url.pathname === '/sse' && req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      sse.set(transport.sessionId, transport);
      res.on('close', () => sse.delete(transport.sessionId));
      await build(req.headers, 'sse').connect(transport);
      return;
    }
    if (url.pathname === '/messages' && req.method === 'POST') {
      const transport = sse.get(url.searchParams.get('sessionId') ?? '');
      if (!transport) return json(res, 404, { error: 'no such session' });
      const body = JSON.parse((await readBody(req)) || 'null');
      await transport.handlePostMessage(req, res, body);
      return;
    }
    json(res, 404, { error: 'not found' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  return listenOnLoopback(server);
}

/** One POST to a stateless Streamable HTTP endpoint, answered by a server built for it. */
async function serveStateless(
  req: IncomingMessage,
  res: ServerResponse,
  server: Pick<Server, 'connect' | 'close'>,
  enableJsonResponse: boolean,
): Promise<void> {
  const body = JSON.parse((await readBody(req)) || 'null');
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}

// `node test/fakes/mcp-fake.ts`: the bench's MCP upstream, in its own process.
if (import.meta.main) {
  const fake = await startMcpFake();
  process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
  process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
}
