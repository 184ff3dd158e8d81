import {
  answerServerRequest,
  asServerRequest,
  type ClientTransport,
  type Link,
  parseMessage,
  readMessage,
  requestHeaders,
  send,
} from './client-transport.ts';
import {
  asResponse,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from './jsonrpc.ts';
import { mediaType } from './media-type.ts';
import { isMessageEvent, sseEvents } from './sse-events.ts';

/**
 * The Streamable HTTP transport, client side (MCP 2025-03-26 and later): every message is a POST
 * to the one endpoint; a request is answered in that POST's response, as JSON or as an event
 * stream carrying the response (after any notifications the server sends first). An
 * Mcp-Session-Id the server issues is sent back on every later request. No GET stream is opened:
 * the gateway never needs a message the upstream sends unasked.
 */
export class StreamableHttpTransport implements ClientTransport {
  protocolVersion: string | undefined;
  sessionId: string | undefined;
  private readonly link: Link;

  constructor(link: Link) {
    this.link = link;
  }

  async request(message: JsonRpcRequest): Promise<JsonRpcResponse> {
    const res = await this.post(message);
    const type = mediaType(res.headers.get('content-type'));
    if (type === 'text/event-stream' && res.body) return this.answerIn(res.body, message.id);
    if (type === 'application/json') {
      const body = parseMessage(this.link, await readMessage(this.link, res));
      // A JSON answer may be a batch (2025-03-26): ours is the response with our id.
      for (const item of Array.isArray(body) ? body : [body]) {
        const found = responseTo(item, message.id);
        if (found) return found;
      }
      throw this.link.fail.invalid();
    }
    await res.body?.cancel();
    throw this.link.fail.invalid();
  }

  async notify(message: JsonRpcNotification | JsonRpcResponse): Promise<void> {
    const res = await this.post(message);
    // 202 Accepted with no body is the rule; whatever a server sends instead is not read.
    await res.body?.cancel();
  }

  close(): void {
    // Nothing stays open: each answer is read to its end or cancelled where it was read.
  }

  private async post(message: JsonRpcRequest | JsonRpcNotification | JsonRpcResponse): Promise<Response> {
    const headers = requestHeaders(
      this.link,
      { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      this,
    );
    const res = await send(this.link, this.link.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(message),
    });
    const session = res.headers.get('mcp-session-id');
    if (session) this.sessionId = session;
    if (!res.ok) {
      await res.body?.cancel();
      throw this.link.fail.status(res.status);
    }
    return res;
  }

  /** The response to `id` among the stream's messages; requests the server sends are answered. */
  private async answerIn(body: ReadableStream<Uint8Array>, id: RequestId): Promise<JsonRpcResponse> {
    for await (const event of sseEvents(body.getReader(), this.link.fail)) {
      if (!isMessageEvent(event)) continue;
      const raw = parseMessage(this.link, event.data);
      const found = responseTo(raw, id);
      if (found) return found;
      const request = asServerRequest(raw);
      // Answered on the side: the stream is still ours to read.
      if (request) void this.notify(answerServerRequest(request)).catch(() => undefined);
    }
    // The stream ended without the answer (and the server did not offer to resume it).
    throw this.link.fail.invalid();
  }
}

/** `raw` when it is a JSON-RPC response to `id`. */
function responseTo(raw: unknown, id: RequestId): JsonRpcResponse | undefined {
  const response = asResponse(raw);
  return response?.id === id ? response : undefined;
}
