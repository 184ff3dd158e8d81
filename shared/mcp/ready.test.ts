import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedServer } from './config.ts';
import { initializeHandshake } from './ready.ts';

// The MCP fake of the workers tests answers initialize as JSON (and the older SSE transport);
// these are the other answers a Streamable HTTP server may give, from a bare node:http server.
const initialized = (id: unknown, protocolVersion = '2025-06-18') =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    result: { protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'x', version: '1' } },
  });

let server: Server;
let base = '';
const seen: { accept?: string; authorization?: string; body: { method?: string; id?: unknown } }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const body = JSON.parse(text || '{}');
      seen.push({ accept: req.headers.accept, authorization: req.headers.authorization, body });
      const path = req.url ?? '';
      if (path === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // A notification first, then the answer split across writes (CRLF line ends).
        res.write(
          ': keep-alive\r\n\r\nevent: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\r\n\r\n',
        );
        const answer = `data: ${initialized(body.id)}\r\n\r\n`;
        res.write(answer.slice(0, 20));
        setImmediate(() => res.write(answer.slice(20)));
        // The stream stays open: the check must stop reading once it has its answer.
        return;
      }
      if (path === '/sse-empty') {
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end(': nothing\n\n');
        return;
      }
      if (path === '/old') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(initialized(body.id, '1999-01-01'));
        return;
      }
      if (path === '/rpc-error') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32603, message: 'disk on fire' } }),
          );
        return;
      }
      if (path === '/locked') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(initialized(body.id));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const at = (path: string): ResolvedServer => ({
  name: 'files',
  url: new URL(`${base}${path}`),
  headers: { authorization: 'Bearer upstream-secret' },
  config: {
    transport: 'streamable_http',
    timeout_ms: 2000,
    tools: {},
    ready_check: true,
  } as ResolvedServer['config'],
});

describe('the MCP ready handshake (plain fetch, no SDK)', () => {
  it('sends initialize with both accept types and the credential; a JSON answer is ok', async () => {
    seen.length = 0;
    await initializeHandshake(at('/json'), 2000);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      accept: 'application/json, text/event-stream',
      authorization: 'Bearer upstream-secret',
      body: { method: 'initialize', id: 1 },
    });
  });

  it('reads the answer from an event stream, past other events, and stops reading there', async () => {
    await expect(initializeHandshake(at('/sse'), 2000)).resolves.toBeUndefined();
  });

  it('names what is wrong without the URL or the credential', async () => {
    const failure = async (path: string) => {
      const err = (await initializeHandshake(at(path), 2000).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).not.toContain('127.0.0.1');
      expect(err.message).not.toContain('upstream-secret');
      return err.message;
    };
    expect(await failure('/sse-empty')).toBe(
      "MCP server 'files' answered with something that is not valid MCP.",
    );
    expect(await failure('/old')).toMatch(/unsupported protocol version: 1999-01-01/);
    expect(await failure('/rpc-error')).toBe("MCP server 'files' answered: disk on fire");
    expect(await failure('/locked')).toMatch(/refused the gateway's credential \(HTTP 401\)/);
    const down = { ...at('/json'), url: new URL('http://127.0.0.1:9/mcp') };
    expect(await initializeHandshake(down, 2000).catch((e: Error) => e.message)).toBe(
      "MCP server 'files' is unreachable.",
    );
  });

  it('gives up at the deadline when the answer never comes', async () => {
    const stalled = await new Promise<Server>((resolve) => {
      const s = createServer(() => undefined).listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (stalled.address() as AddressInfo).port;
    try {
      const message = await initializeHandshake(
        { ...at('/json'), url: new URL(`http://127.0.0.1:${port}/mcp`) },
        300,
      ).catch((e: Error) => e.message);
      expect(message).toBe("MCP server 'files' did not answer within 300 ms.");
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });
});
