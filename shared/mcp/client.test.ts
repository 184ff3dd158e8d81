import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES } from './client-transport.ts';
import type { ResolvedServer } from './config.ts';
import { resultSchemas } from './protocol.ts';
import { UpstreamError, withUpstream } from './upstream.ts';

/**
 * What our MCP client does that the SDK-built fakes never ask of it, from a bare node:http server
 * that checks every request: a server that picks an older revision and issues a session, a
 * server that asks the client something (ping) on the answer's stream, and redirects.
 */
interface Seen {
  path: string;
  method: string | undefined;
  session: string | undefined;
  version: string | undefined;
  authorization: string | undefined;
  body: { id?: unknown; method?: string; result?: unknown; params?: { name?: string } };
}
const seen: Seen[] = [];
/** Resolves the tools/call waiting for the client's answer to the server's ping. */
let ponged: () => void = () => undefined;
let server: Server;
let base = '';
let other = '';

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => resolve(text));
  });

/** Waits until a response can take more, or its client is gone. */
const drained = (res: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = JSON.parse((await read(req)) || '{}');
    const path = req.url ?? '';
    seen.push({
      path,
      method: body.method,
      session: req.headers['mcp-session-id'] as string | undefined,
      version: req.headers['mcp-protocol-version'] as string | undefined,
      authorization: req.headers.authorization,
      body,
    });
    if (path === '/moved') {
      res.writeHead(307, { location: '/mcp' }).end();
      return;
    }
    if (path === '/elsewhere') {
      res.writeHead(307, { location: `${other}/mcp` }).end();
      return;
    }
    if (body.id === undefined || body.method === undefined) {
      // A notification or our answer to the server's request.
      if (body.id === 'srv-1') ponged();
      res.writeHead(202).end();
      return;
    }
    const stateless = path === '/stateless' || path.startsWith('/huge');
    if (body.method === 'initialize') {
      const session = stateless ? {} : { 'mcp-session-id': 's-1' };
      res.writeHead(200, { 'content-type': 'application/json', ...session }).end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: body.id,
          result: {
            protocolVersion: '2025-06-18',
            capabilities: { tools: {} },
            serverInfo: { name: 'bare' },
          },
        }),
      );
      return;
    }
    if (path.startsWith('/huge')) {
      // An answer past the client's bound, of unknown length (chunked): one JSON body, or one
      // event that never ends. Written until the client stops reading.
      const sse = path === '/huge-sse';
      res.on('error', () => undefined);
      res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'application/json' });
      res.write(
        sse
          ? 'event: message\ndata: {"jsonrpc":"2.0","id":2,"result":"'
          : '{"jsonrpc":"2.0","id":2,"result":"',
      );
      const chunk = 'x'.repeat(64 * 1024);
      for (let sent = 0; sent <= MAX_MESSAGE_BYTES + chunk.length && !res.destroyed; sent += chunk.length) {
        if (!res.write(chunk)) await drained(res);
      }
      res.end(sse ? '"}\n\n' : '"}');
      return;
    }
    if (stateless) {
      if (body.params?.name === 'boom') {
        res.writeHead(500).end();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { content: [] } }));
      return;
    }
    // tools/call: the server pings the client on the stream, and answers once the pong is in.
    const pong = new Promise<void>((resolve) => {
      ponged = resolve;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 'srv-1', method: 'ping' })}\n\n`);
    await pong;
    res.end(
      `event: message\ndata: ${JSON.stringify({
        jsonrpc: '2.0',
        id: body.id,
        result: { content: [{ type: 'text', text: 'done' }] },
      })}\n\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  // The same server under another origin (another host name for the same port).
  other = `http://localhost:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const at = (path: string): ResolvedServer => ({
  name: 'bare',
  url: new URL(`${base}${path}`),
  headers: { authorization: 'Bearer upstream-secret' },
  config: {
    transport: 'streamable_http',
    timeout_ms: 2000,
    tools: {},
    ready_check: true,
  } as ResolvedServer['config'],
});

const callDone = (path: string, name = 'x') =>
  withUpstream(at(path), (client) =>
    client.request('tools/call', { name, arguments: {} }, resultSchemas().callTool),
  );

describe('the MCP client, against a bare server', () => {
  it('sends back the session and the negotiated revision, and answers a ping sent mid-answer', async () => {
    seen.length = 0;
    const result = await callDone('/mcp');
    expect(result.content).toEqual([{ type: 'text', text: 'done' }]);
    const [init, initialized, call, pong] = seen;
    // initialize goes first, without a session or a revision yet.
    expect(init).toMatchObject({ method: 'initialize', session: undefined, version: undefined });
    expect(init!.body).toMatchObject({ params: { protocolVersion: '2025-11-25' } });
    // Every later request carries the session and the revision the server chose.
    for (const later of [initialized, call, pong]) {
      expect(later).toMatchObject({
        session: 's-1',
        version: '2025-06-18',
        authorization: 'Bearer upstream-secret',
      });
    }
    expect(initialized!.method).toBe('notifications/initialized');
    expect(call!.method).toBe('tools/call');
    expect(pong!.body).toEqual({ jsonrpc: '2.0', id: 'srv-1', result: {} });
  });

  it('a server that issued a session gets the whole handshake every time', async () => {
    seen.length = 0;
    await callDone('/mcp');
    await callDone('/mcp');
    expect(seen.filter((s) => s.method === 'initialize')).toHaveLength(2);
  });

  it('a server that keeps no session: its handshake is reused, and dropped after a failure', async () => {
    seen.length = 0;
    await callDone('/stateless');
    await callDone('/stateless');
    expect(seen.map((s) => s.method)).toEqual([
      'initialize',
      'notifications/initialized',
      'tools/call',
      'tools/call',
    ]);
    // The reused exchange still speaks the revision the server chose.
    expect(seen[3]).toMatchObject({
      version: '2025-06-18',
      session: undefined,
      authorization: 'Bearer upstream-secret',
    });
    await expect(callDone('/stateless', 'boom')).rejects.toThrow("MCP server 'bare' answered HTTP 500.");
    await callDone('/stateless');
    expect(seen.slice(5).map((s) => s.method)).toEqual([
      'initialize',
      'notifications/initialized',
      'tools/call',
    ]);
  });

  it('follows a redirect within the origin, with the method and the body', async () => {
    seen.length = 0;
    expect((await callDone('/moved')).content[0]).toMatchObject({ text: 'done' });
    expect(seen.filter((s) => s.path === '/mcp' && s.method === 'initialize')).toHaveLength(1);
  });

  it('does not follow a redirect to another origin: the credential stays home', async () => {
    seen.length = 0;
    const err = await callDone('/elsewhere').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toBe("MCP server 'bare' answered HTTP 307.");
    expect(seen.map((s) => s.path)).toEqual(['/elsewhere']);
  });

  it('an answer past MAX_MESSAGE_BYTES, as JSON or as one event, is a clear failure, not read further', async () => {
    for (const path of ['/huge-json', '/huge-sse']) {
      const err = await callDone(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).kind).toBe('protocol');
      expect((err as Error).message).toBe(
        `MCP server 'bare' answered with more than ${MAX_MESSAGE_BYTES} bytes in one message.`,
      );
    }
  });
});
