import type { Env } from '../env.ts';
import { SseParser } from '../llm/providers/sse.ts';
import type { CheckResult } from '../ready/checks.ts';
import { VERSION } from '../version.ts';
import { mcpConfig, type ResolvedServer } from './config.ts';

/**
 * One advisory check per configured MCP server (`ready_check: true`): an initialize handshake
 * within `timeoutMs`. Reported as `mcp:<server>`; never required, so an MCP server being down
 * never takes the gateway out of rotation (tools/call answers a clean error instead).
 *
 * The handshake is a plain fetch, not the MCP SDK's client: the ready function would carry
 * ~77 KiB of SDK (and its zod schemas) for one request and one answer.
 */
export async function mcpReadyChecks(env: Env, timeoutMs: number): Promise<Record<string, CheckResult>> {
  let servers: ReturnType<typeof mcpConfig>['servers'];
  try {
    servers = mcpConfig(env).servers;
  } catch (err) {
    // A bad MAS_MCP_YAML: say so here (tools/call would fail the same way), not as a 500.
    return { mcp: { status: 'fail', error: (err as Error).message, required: false, backend: 'mcp' } };
  }
  const entries = await Promise.all(
    [...servers.values()]
      .filter((server) => server.config.ready_check)
      .map(async (server): Promise<[string, CheckResult]> => {
        const started = Date.now();
        try {
          await initializeHandshake(server, Math.min(timeoutMs, server.config.timeout_ms));
          return [
            `mcp:${server.name}`,
            { status: 'ok', latency_ms: Date.now() - started, required: false, backend: 'mcp' },
          ];
        } catch (err) {
          return [
            `mcp:${server.name}`,
            {
              status: 'fail',
              latency_ms: Date.now() - started,
              error: (err as Error).message,
              required: false,
              backend: 'mcp',
            },
          ];
        }
      }),
  );
  return Object.fromEntries(entries);
}

/** The protocol revisions whose initialize answer we accept (the SDK client's list). */
const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];

/** A failed check's reason, in words safe to show (no URL, no credential, no upstream body). */
class HandshakeError extends Error {
  override name = 'HandshakeError';
}

/**
 * `initialize` to the server and its answer checked, under one deadline that also ends the
 * connection (the timer is cleared when the check ends). Streamable HTTP: one POST, answered as
 * JSON or as an event stream carrying the response. The 2024-11-05 HTTP+SSE transport: the GET
 * stream names the endpoint to POST to, and the answer comes back on that stream.
 */
export async function initializeHandshake(server: ResolvedServer, timeoutMs: number): Promise<void> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const id = 1;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: SUPPORTED_PROTOCOL_VERSIONS[0],
      capabilities: {},
      clientInfo: { name: 'mas-gateway', version: VERSION },
    },
  });
  const unreachable = () => new HandshakeError(`MCP server '${server.name}' is unreachable.`);
  const invalid = () =>
    new HandshakeError(`MCP server '${server.name}' answered with something that is not valid MCP.`);
  const send = async (url: URL | string, init: RequestInit): Promise<Response> => {
    try {
      return await fetch(url, { ...init, signal: deadline.signal, redirect: 'follow' });
    } catch (err) {
      if (deadline.signal.aborted) throw err;
      throw unreachable();
    }
  };
  const post = (url: URL | string, accept: string) =>
    send(url, {
      method: 'POST',
      // The credential last: it names the header the server expects.
      headers: { 'content-type': 'application/json', accept, ...server.headers },
      body,
    });
  try {
    let answer: unknown;
    if (server.config.transport === 'sse') {
      const res = await send(server.url, { headers: { accept: 'text/event-stream', ...server.headers } });
      if (!res.ok || !res.body) throw statusError(server, res.status, unreachable);
      const events = sseEvents(res.body, invalid);
      const first = await events.next();
      if (first.done || first.value.event !== 'endpoint') throw invalid();
      let endpoint: URL;
      try {
        endpoint = new URL(first.value.data, server.url);
      } catch {
        throw invalid();
      }
      // The SDK's rule: the message endpoint lives on the stream's origin.
      if (endpoint.origin !== server.url.origin) throw invalid();
      const posted = await post(endpoint, 'application/json');
      if (!posted.ok) throw statusError(server, posted.status, invalid);
      await posted.body?.cancel();
      answer = await responseIn(events, id, invalid);
    } else {
      const res = await post(server.url, 'application/json, text/event-stream');
      if (!res.ok) throw statusError(server, res.status, invalid);
      const type = res.headers.get('content-type') ?? '';
      if (type.includes('text/event-stream') && res.body) {
        answer = await responseIn(sseEvents(res.body, invalid), id, invalid);
      } else {
        answer = parseJson(await res.text(), invalid);
      }
    }
    checkInitializeAnswer(server, answer, id, invalid);
  } catch (err) {
    if (deadline.signal.aborted) {
      throw new HandshakeError(`MCP server '${server.name}' did not answer within ${timeoutMs} ms.`);
    }
    if (err instanceof HandshakeError) throw err;
    throw invalid();
  } finally {
    clearTimeout(timer);
    // Ends whatever is still open (the SSE stream of the older transport, an unread body).
    deadline.abort();
  }
}

function statusError(
  server: ResolvedServer,
  status: number,
  otherwise: () => HandshakeError,
): HandshakeError {
  if (status === 401 || status === 403) {
    return new HandshakeError(
      `MCP server '${server.name}' refused the gateway's credential (HTTP ${status}).`,
    );
  }
  if (status >= 500) return new HandshakeError(`MCP server '${server.name}' answered HTTP ${status}.`);
  return otherwise();
}

function parseJson(text: string, invalid: () => HandshakeError): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalid();
  }
}

type JsonRpcAnswer = { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };

/** The JSON-RPC answer to `id` among a stream's `message` events (undefined if it ends first). */
async function responseIn(
  events: AsyncIterable<{ event?: string; data: string }>,
  id: number,
  invalid: () => HandshakeError,
): Promise<unknown> {
  for await (const event of events) {
    if ((event.event ?? 'message') !== 'message') continue;
    const message = parseJson(event.data, invalid);
    if (isResponseTo(message, id)) return message;
  }
  return undefined;
}

function isResponseTo(message: unknown, id: number): message is JsonRpcAnswer {
  return typeof message === 'object' && message !== null && (message as JsonRpcAnswer).id === id;
}

/** A JSON-RPC answer to our request: an initialize result of a supported revision, or its error. */
function checkInitializeAnswer(
  server: ResolvedServer,
  answer: unknown,
  id: number,
  invalid: () => HandshakeError,
): void {
  if (!isResponseTo(answer, id)) throw invalid();
  if (answer.error && typeof answer.error === 'object') {
    const message = typeof answer.error.message === 'string' ? answer.error.message : 'an error';
    // The upstream's own words about its own failure, bounded (as tools/call reports them).
    throw new HandshakeError(`MCP server '${server.name}' answered: ${message.slice(0, 500)}`);
  }
  const result = answer.result as { protocolVersion?: unknown; capabilities?: unknown } | undefined;
  if (!result || typeof result !== 'object' || typeof result.capabilities !== 'object') throw invalid();
  if (
    typeof result.protocolVersion !== 'string' ||
    !SUPPORTED_PROTOCOL_VERSIONS.includes(result.protocolVersion)
  ) {
    throw new HandshakeError(
      `MCP server '${server.name}' speaks an unsupported protocol version: ${String(result.protocolVersion).slice(0, 40)}`,
    );
  }
}

/** The events of an SSE body, one at a time; returning early cancels the body. */
async function* sseEvents(
  body: ReadableStream<Uint8Array>,
  invalid: () => HandshakeError,
): AsyncGenerator<{ event?: string | undefined; data: string }, void, undefined> {
  const reader = body.getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        yield* parser.end();
        // The stream ended without the answer.
        throw invalid();
      }
      yield* parser.push(next.value);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
