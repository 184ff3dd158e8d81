import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';
import { BodyTooLarge, listenOnLoopback, readBody, sendJson } from './http.ts';

/**
 * The demo MCP server `npm start` fronts as server `demo` when config/mcp.yaml has none, so the
 * README's gated tool call works on a fresh clone. Built with the official SDK (Streamable HTTP,
 * stateless: a new McpServer per request); its tools touch nothing and keep nothing:
 *   read_file {path}             a canned text (a read)
 *   delete_file {path}           "deleted <path>" (destructive: gated)
 *   transfer_funds {to, amount}  "transferred <amount> to <to>" (financial: gated over the threshold)
 */
export const DEMO_MCP_TOOLS = {
  read_file: 'read',
  delete_file: 'destructive',
  transfer_funds: 'financial',
} as const;

const MAX_BODY_BYTES = 1024 * 1024;

function build(): McpServer {
  const server = new McpServer(
    { name: 'mas-functions-demo', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  server.registerTool(
    'read_file',
    {
      description: 'Reads a file and returns its text (demo: canned text, no file is read).',
      inputSchema: { path: z.string().min(1).describe('absolute path') },
      annotations: { readOnlyHint: true },
    },
    async ({ path }) => ({
      content: [{ type: 'text', text: `contents of ${path} (demo server: canned text)` }],
    }),
  );
  server.registerTool(
    'delete_file',
    { description: 'Deletes a file (demo: nothing is deleted).', inputSchema: { path: z.string().min(1) } },
    async ({ path }) => ({ content: [{ type: 'text', text: `deleted ${path}` }] }),
  );
  server.registerTool(
    'transfer_funds',
    {
      description: 'Moves money to an account (demo: no money moves).',
      inputSchema: { to: z.string().min(1), amount: z.number().positive(), memo: z.string().optional() },
    },
    async ({ to, amount }) => ({ content: [{ type: 'text', text: `transferred ${amount} to ${to}` }] }),
  );
  return server;
}

export async function startDemoMcpServer(): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof BodyTooLarge) return sendJson(res, 413, rpcError(-32600, 'request body too large'));
      sendJson(res, 400, rpcError(-32700, 'parse error'));
    });
  });
  return listenOnLoopback(http);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (new URL(req.url ?? '/', 'http://demo').pathname !== '/mcp')
    return sendJson(res, 404, { error: 'not found' });
  if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
  const body = JSON.parse((await readBody(req, MAX_BODY_BYTES)) || 'null');
  const server = build();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', id: null, error: { code, message } };
}
