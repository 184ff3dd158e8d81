import { AppError } from '../errors/index.ts';
import { readBounded } from '../middleware/json-body/index.ts';
import {
  classify,
  ErrorCode,
  errorResponse,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  resultResponse,
} from './jsonrpc.ts';
import type { UpstreamFailures } from './upstream-error.ts';

/** How the client reaches one upstream: Streamable HTTP (client-http.ts) or HTTP+SSE (client-sse.ts). */
export interface ClientTransport {
  /** The negotiated revision, sent as MCP-Protocol-Version on every request after initialize. */
  protocolVersion: string | undefined;
  /** The Mcp-Session-Id the server issued, if it keeps a session (Streamable HTTP only). */
  readonly sessionId: string | undefined;
  /** Sends a request and resolves with the response to it; failures are UpstreamErrors. */
  request(message: JsonRpcRequest): Promise<JsonRpcResponse>;
  notify(message: JsonRpcNotification): Promise<void>;
  /** Ends whatever is still open (the older transport's event stream). */
  close(): void;
}

/**
 * The most one upstream message may carry (a JSON answer, one event of a stream): an upstream
 * cannot make the gateway hold more than this for it.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A JSON answer's text, read to at most MAX_MESSAGE_BYTES (counted as it arrives; a lying Content-Length does not help). */
export async function readMessage(link: Link, res: Response): Promise<string> {
  try {
    return new TextDecoder().decode(await readBounded(res.body, MAX_MESSAGE_BYTES));
  } catch (err) {
    // readBounded's 413 is about a request body; here the upstream sent too much.
    if (err instanceof AppError && err.status === 413) throw link.fail.tooLarge(MAX_MESSAGE_BYTES);
    throw err;
  }
}

/** An upstream message's JSON (a body or an event's data); anything else is not valid MCP. */
export function parseMessage(link: Link, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw link.fail.invalid(err);
  }
}

/** What every request of one exchange carries. */
export interface Link {
  url: URL;
  /** Sent on every request (the credential among them). */
  headers: Record<string, string>;
  /** The exchange's deadline: aborting it ends every fetch and every body read. */
  signal: AbortSignal;
  fail: UpstreamFailures;
}

/**
 * A request an upstream sends us in the middle of answering (MCP lets a server ask the client
 * things). We declare no client capabilities, so only `ping` is ours to answer.
 */
export const answerServerRequest = (request: JsonRpcRequest): JsonRpcResponse =>
  request.method === 'ping'
    ? resultResponse(request.id, {})
    : errorResponse(request.id, { code: ErrorCode.MethodNotFound, message: 'Method not found' });

/** fetch, with a failure to connect named as such (a deadline's abort is left for the exchange). */
export async function send(link: Link, url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetchWithinOrigin(url, { ...init, signal: link.signal });
  } catch (err) {
    if (link.signal.aborted) throw err;
    throw link.fail.unreachable(err);
  }
}

/** The upstream's message when it is a request to us (it has an id and a method). */
export function asServerRequest(raw: unknown): JsonRpcRequest | undefined {
  const incoming = classify(raw);
  return incoming.kind === 'request' ? incoming.message : undefined;
}

const MAX_REDIRECTS = 5;

/**
 * Redirects are followed only within the upstream's origin (the SDK's rule): the credential
 * goes with every request, and a redirect must not carry it to another host. 301/302/303 would
 * turn a POST into a GET, so only 307/308 are followed for a POST.
 */
async function fetchWithinOrigin(url: URL, init: RequestInit, followed = 0): Promise<Response> {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  if (res.status < 300 || res.status >= 400 || followed === MAX_REDIRECTS) return res;
  const location = res.headers.get('location');
  const keepsMethod = res.status === 307 || res.status === 308 || (init.method ?? 'GET') === 'GET';
  let target: URL | undefined;
  try {
    target = location && keepsMethod ? new URL(location, url) : undefined;
  } catch {
    target = undefined;
  }
  if (!target || target.origin !== url.origin || target.username || target.password) return res;
  await res.body?.cancel();
  return fetchWithinOrigin(target, init, followed + 1);
}

/** The headers of one request: ours, then the protocol's, then the link's (the credential last). */
export function requestHeaders(
  link: Link,
  own: Record<string, string>,
  state: { protocolVersion?: string | undefined; sessionId?: string | undefined },
): Record<string, string> {
  return {
    ...own,
    ...(state.protocolVersion ? { 'mcp-protocol-version': state.protocolVersion } : {}),
    ...(state.sessionId ? { 'mcp-session-id': state.sessionId } : {}),
    ...link.headers,
  };
}
