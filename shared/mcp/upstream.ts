import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { type Deadline, deadline } from '../resilience/deadline.ts';
import { VERSION } from '../version.ts';
import type { ResolvedServer } from './config.ts';

/** Why an upstream exchange failed, in words safe to show an agent (no URL, no credential). */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly kind: 'timeout' | 'unreachable' | 'protocol' | 'upstream_error';
  readonly server: string;
  /** The upstream's own JSON-RPC error code, when it answered with one. */
  readonly upstreamCode: number | undefined;
  constructor(
    kind: UpstreamError['kind'],
    server: string,
    message: string,
    upstreamCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.kind = kind;
    this.server = server;
    this.upstreamCode = upstreamCode;
  }
}

/** Validators that never generate code at run time: Workers forbid `new Function` (ajv's way). */
const validator = new CfWorkerJsonSchemaValidator();

/**
 * Runs `fn` with an SDK `Client` connected to the upstream (initialize handshake included), the
 * credential injected on every request, and closes it. The whole exchange lives under one deadline
 * (the server's `timeout_ms`, and the caller's `signal`): past it every request is aborted and an
 * `UpstreamError('timeout')` is thrown, so a stalled upstream never holds the agent longer.
 */
export async function withUpstream<T>(
  server: ResolvedServer,
  fn: (client: Client, options: { signal: AbortSignal; timeout: number }) => Promise<T>,
  extra: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<T> {
  const signal = extra.signal;
  // The credential last: nothing the caller passes can replace it.
  const headers = { ...extra.headers, ...server.headers };
  const timeout = server.config.timeout_ms;
  const exchange = deadline(timeout, signal);
  // The SDK's own signal on each fetch, linked to the exchange's; every link is let go of when the
  // exchange ends (an `AbortSignal.any` per fetch kept both sources until they were collected).
  const links: Deadline[] = [];
  let ended = false;
  const fetchWithDeadline: typeof fetch = (input, init) => {
    if (!init?.signal || ended) return fetch(input, { ...init, signal: init?.signal ?? exchange.signal });
    const link = deadline(Number.POSITIVE_INFINITY, [init.signal, exchange.signal]);
    links.push(link);
    return fetch(input, { ...init, signal: link.signal });
  };
  const transport: Transport =
    server.config.transport === 'sse'
      ? new SSEClientTransport(server.url, {
          requestInit: { headers },
          eventSourceInit: { fetch: (url, init) => fetchWithDeadline(url, withHeaders(init, headers)) },
          fetch: fetchWithDeadline,
        })
      : new StreamableHTTPClientTransport(server.url, {
          requestInit: { headers },
          fetch: fetchWithDeadline,
        });
  const client = new Client(
    { name: 'mas-gateway', version: VERSION },
    { capabilities: {}, jsonSchemaValidator: validator },
  );
  // A transport error also rejects the pending request; this keeps it from being reported twice.
  client.onerror = () => undefined;
  const options = { signal: exchange.signal, timeout };
  try {
    const work = (async () => {
      await client.connect(transport, options);
      return fn(client, options);
    })();
    // Whatever the SDK is waiting on, the deadline wins.
    const aborted = new Promise<never>((_, reject) => {
      const stop = () =>
        reject(
          exchange.timedOut
            ? new UpstreamError('timeout', server.name, timeoutMessage(server))
            : exchange.signal.reason,
        );
      if (exchange.signal.aborted) stop();
      exchange.signal.addEventListener('abort', stop, { once: true });
    });
    work.catch(() => undefined);
    return await Promise.race([work, aborted]);
  } catch (err) {
    throw exchange.timedOut && !(err instanceof UpstreamError)
      ? new UpstreamError('timeout', server.name, timeoutMessage(server), undefined, { cause: err })
      : toUpstreamError(server, err);
  } finally {
    ended = true;
    exchange.dispose();
    for (const link of links) link.dispose();
    void client.close().catch(() => undefined);
  }
}

function withHeaders(init: RequestInit | undefined, extra: Record<string, string>): RequestInit {
  const headers = new Headers(init?.headers);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return { ...init, headers };
}

const timeoutMessage = (server: ResolvedServer) =>
  `MCP server '${server.name}' did not answer within ${server.config.timeout_ms} ms.`;

function toUpstreamError(server: ResolvedServer, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) {
      return new UpstreamError('timeout', server.name, timeoutMessage(server), undefined, { cause: err });
    }
    if (err.code === ErrorCode.ConnectionClosed) {
      return new UpstreamError(
        'unreachable',
        server.name,
        `MCP server '${server.name}' closed the connection.`,
        undefined,
        {
          cause: err,
        },
      );
    }
    // The upstream answered with a JSON-RPC error of its own: its message is its own words.
    return new UpstreamError(
      'upstream_error',
      server.name,
      `MCP server '${server.name}' answered: ${err.message.replace(/^MCP error -?\d+: /, '').slice(0, 500)}`,
      err.code,
      { cause: err },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/fetch failed|ECONNREFUSED|network|connect|Error POSTing|Failed to open SSE|SSE error/i.test(message)) {
    return new UpstreamError(
      'unreachable',
      server.name,
      `MCP server '${server.name}' is unreachable.`,
      undefined,
      {
        cause: err,
      },
    );
  }
  return new UpstreamError(
    'protocol',
    server.name,
    `MCP server '${server.name}' answered with something that is not valid MCP.`,
    undefined,
    { cause: err },
  );
}

interface CachedTools {
  at: number;
  tools: Tool[];
}
const toolCache = new Map<string, CachedTools>();
const cacheKey = (server: ResolvedServer) => `${server.name} ${server.url.href}`;

/**
 * The server's tools (every page), reused for `cacheSeconds`: their input schemas validate every
 * call, and an agent lists tools far less often than it calls them.
 */
export async function upstreamTools(
  server: ResolvedServer,
  cacheSeconds: number,
  extra: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<Tool[]> {
  const key = cacheKey(server);
  const hit = toolCache.get(key);
  if (hit && Date.now() - hit.at < cacheSeconds * 1000) return hit.tools;
  const tools = await withUpstream(
    server,
    async (client, options) => {
      if (!client.getServerCapabilities()?.tools) return [];
      const all: Tool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const result = await client.listTools(cursor ? { cursor } : {}, options);
        all.push(...result.tools);
        cursor = result.nextCursor;
        if (!cursor) break;
      }
      return all;
    },
    extra,
  );
  if (toolCache.size > 256) toolCache.clear();
  toolCache.set(key, { at: Date.now(), tools });
  return tools;
}
