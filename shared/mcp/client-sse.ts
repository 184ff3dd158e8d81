import type { SseMessage } from '../llm/providers/sse.ts';
import {
  answerServerRequest,
  asServerRequest,
  type ClientTransport,
  type Link,
  parseMessage,
  requestHeaders,
  send,
} from './client-transport.ts';
import {
  asResponse,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from './jsonrpc.ts';
import { isMessageEvent, sseEvents } from './sse-events.ts';

interface Waiting {
  resolve(response: JsonRpcResponse): void;
  reject(err: unknown): void;
}

/**
 * The HTTP+SSE transport of MCP 2024-11-05, client side: a GET opens an event stream whose first
 * event (`endpoint`) names where to POST messages; every answer comes back on that stream, so
 * one reader hands each response to the request waiting for its id. The stream is this
 * exchange's alone and is cancelled when the exchange ends (no reconnecting, unlike an
 * EventSource: a dropped stream fails the requests still waiting).
 */
export class LegacySseTransport implements ClientTransport {
  protocolVersion: string | undefined;
  /** The session is the stream itself: nothing to send back, nothing to reuse. */
  readonly sessionId = undefined;
  private readonly waiting = new Map<string | number, Waiting>();
  private failure: unknown;
  private readonly link: Link;
  private readonly endpoint: URL;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly events: AsyncGenerator<SseMessage, void, undefined>;

  private constructor(
    link: Link,
    endpoint: URL,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    events: AsyncGenerator<SseMessage, void, undefined>,
  ) {
    this.link = link;
    this.endpoint = endpoint;
    this.reader = reader;
    this.events = events;
  }

  /** Opens the stream and waits for the endpoint to POST to. */
  static async open(link: Link): Promise<LegacySseTransport> {
    const res = await send(link, link.url, {
      headers: requestHeaders(link, { accept: 'text/event-stream' }, {}),
    });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw link.fail.status(res.status);
    }
    const reader = res.body.getReader();
    const events = sseEvents(reader, link.fail);
    for (;;) {
      const next = await events.next();
      if (next.done) throw link.fail.invalid();
      if (next.value.event !== 'endpoint') continue;
      let endpoint: URL | undefined;
      try {
        endpoint = new URL(next.value.data.trim(), link.url);
      } catch {
        endpoint = undefined;
      }
      // The SDK's rule: messages go to the stream's own origin (with the credential).
      if (endpoint?.origin !== link.url.origin) {
        await events.return();
        throw link.fail.invalid();
      }
      const transport = new LegacySseTransport(link, endpoint, reader, events);
      void transport.pump();
      return transport;
    }
  }

  async request(message: JsonRpcRequest): Promise<JsonRpcResponse> {
    if (this.failure) throw this.failure;
    // Waiting before the POST: the answer may be on the stream before the POST returns.
    const answer = new Promise<JsonRpcResponse>((resolve, reject) => {
      this.waiting.set(message.id, { resolve, reject });
    });
    // The stream may fail it while the POST is out; the caller sees that once it awaits.
    answer.catch(() => undefined);
    try {
      await this.post(message);
    } catch (err) {
      this.waiting.delete(message.id);
      throw err;
    }
    return answer;
  }

  async notify(message: JsonRpcNotification | JsonRpcResponse): Promise<void> {
    await this.post(message);
  }

  close(): void {
    // Ends the read the pump is waiting on; the pump then ends with the stream.
    this.reader.cancel().catch(() => undefined);
  }

  private async post(message: JsonRpcRequest | JsonRpcNotification | JsonRpcResponse): Promise<void> {
    const res = await send(this.link, this.endpoint, {
      method: 'POST',
      headers: requestHeaders(this.link, { 'content-type': 'application/json' }, this),
      body: JSON.stringify(message),
    });
    // "Accepted": the answer is on the stream.
    await res.body?.cancel();
    if (!res.ok) throw this.link.fail.status(res.status);
  }

  /** Reads the stream until it ends, handing out responses and answering the server's requests. */
  private async pump(): Promise<void> {
    try {
      for await (const event of this.events) {
        if (!isMessageEvent(event)) continue;
        const raw = parseMessage(this.link, event.data);
        const response = asResponse(raw);
        const request = response ? undefined : asServerRequest(raw);
        if (response?.id != null) {
          const waiter = this.waiting.get(response.id);
          this.waiting.delete(response.id);
          waiter?.resolve(response);
        } else if (request) void this.notify(answerServerRequest(request)).catch(() => undefined);
      }
      this.fail(this.link.fail.closed());
    } catch (err) {
      // The exchange's deadline or the caller ended the read: the exchange names that itself.
      this.fail(this.link.signal.aborted ? this.link.signal.reason : err);
    }
  }

  private fail(err: unknown): void {
    this.failure = err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}
