import { deadline } from '../resilience/deadline.ts';
import { type Handshake, McpClient } from './client.ts';
import type { ResolvedServer } from './config.ts';
import { RpcError } from './jsonrpc.ts';
import { resultSchemas, type Tool } from './protocol.ts';
import { UpstreamError, upstreamFailures } from './upstream-error.ts';

export { UpstreamError };

export interface ExchangeOptions {
  /** The caller's signal: its abort ends the exchange. */
  signal?: AbortSignal | undefined;
  /** Sent upstream beside the credential (trace context); never replaces it. */
  headers?: Record<string, string>;
  /** The exchange's limit; the server's `timeout_ms` unless given (the /ready check's own). */
  timeoutMs?: number;
  /** false: initialize only, without the initialized notification (the /ready check). */
  initialized?: boolean;
}

/**
 * How long the handshake of an upstream that keeps no session is reused. A Streamable HTTP
 * server that answers initialize without an Mcp-Session-Id holds nothing for this client between
 * requests (the SDK's stateless servers, FastMCP's stateless HTTP), so a later exchange can start
 * where the last one ended: the negotiated MCP-Protocol-Version on one tools/call POST instead of
 * initialize, initialized and the call (three round trips, two of them identical every time),
 * as our own stateless /mcp serves its agents. A server that issues a session always gets the
 * full handshake; any failure of a reused exchange drops the entry, so the next one handshakes.
 */
const HANDSHAKE_REUSE_MS = 60_000;
const handshakes = new Map<string, { at: number; handshake: Handshake }>();

/**
 * Runs `fn` with a client connected to the upstream (initialize handshake included), the
 * credential injected on every request, and closes it. The whole exchange lives under one deadline
 * (the server's `timeout_ms`, and the caller's `signal`): past it every fetch and body read is
 * aborted and an `UpstreamError('timeout')` is thrown, so a stalled upstream never holds the
 * agent longer. The deadline is let go of when the exchange ends (no `AbortSignal.any`, whose
 * sources would stay alive until collected).
 */
export async function withUpstream<T>(
  server: ResolvedServer,
  fn: (client: McpClient) => Promise<T>,
  options: ExchangeOptions = {},
): Promise<T> {
  const fail = upstreamFailures(server.name);
  const timeout = options.timeoutMs ?? server.config.timeout_ms;
  const exchange = deadline(timeout, options.signal);
  // The credential last: nothing the caller passes can replace it.
  const link = {
    url: server.url,
    headers: { ...options.headers, ...server.headers },
    signal: exchange.signal,
    fail,
  };
  const ended = () =>
    exchange.timedOut
      ? fail.timeout(timeout, exchange.signal.reason)
      : fail.cancelled(exchange.signal.reason);
  // Whatever the exchange is waiting on, the deadline wins.
  let stop: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    stop = () => reject(ended());
    exchange.signal.addEventListener('abort', stop, { once: true });
  });
  aborted.catch(() => undefined);
  let client: McpClient | undefined;
  // The /ready check (initialized: false) always asks: proving the handshake is its job.
  const reusable = server.config.transport === 'streamable_http' && options.initialized !== false;
  const key = cacheKey(server);
  const known = reusable ? handshakes.get(key) : undefined;
  const reused = known && Date.now() - known.at < HANDSHAKE_REUSE_MS ? known.handshake : undefined;
  try {
    const work = (async () => {
      if (reused) client = McpClient.resume(link, reused);
      else {
        client = await McpClient.connect(link, server.config.transport, { initialized: options.initialized });
        const handshake = reusable ? client.reusableHandshake() : undefined;
        if (handshake) remember(key, handshake);
      }
      return fn(client);
    })();
    work.catch(() => undefined);
    return await Promise.race([work, aborted]);
  } catch (err) {
    if (reused) handshakes.delete(key);
    // Failures already named, and refusals of our own made inside `fn`, pass as they are.
    if (err instanceof UpstreamError || err instanceof RpcError) throw err;
    // An aborted fetch or read: the deadline's doing, or the caller's.
    if (exchange.signal.aborted) throw ended();
    throw fail.invalid(err);
  } finally {
    exchange.signal.removeEventListener('abort', stop);
    client?.close();
    // Ends whatever is still open (an unread body, the older transport's stream), then lets go
    // of the caller's signal.
    exchange.abort();
    exchange.dispose();
  }
}

interface CachedTools {
  at: number;
  tools: Tool[];
}
const toolCache = new Map<string, CachedTools>();

function remember(key: string, handshake: Handshake): void {
  if (handshakes.size > 256) handshakes.clear();
  handshakes.set(key, { at: Date.now(), handshake });
}
const cacheKey = (server: ResolvedServer) => `${server.name} ${server.url.href}`;

/**
 * The server's tools (every page), reused for `cacheSeconds`: their input schemas validate every
 * call, and an agent lists tools far less often than it calls them.
 */
export async function upstreamTools(
  server: ResolvedServer,
  cacheSeconds: number,
  extra: ExchangeOptions = {},
): Promise<Tool[]> {
  const key = cacheKey(server);
  const hit = toolCache.get(key);
  if (hit && Date.now() - hit.at < cacheSeconds * 1000) return hit.tools;
  const tools = await withUpstream(
    server,
    async (client) => {
      if (!client.getServerCapabilities().tools) return [];
      const all: Tool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const result = await client.request(
          'tools/list',
          cursor ? { cursor } : {},
          resultSchemas().listTools,
        );
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
