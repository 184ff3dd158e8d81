import { type SseMessage, SseParser } from '../llm/providers/sse.ts';

/**
 * The events of an SSE body, one at a time, ending when the body does; stopping early (the
 * answer found, an error) cancels the body, which releases the connection. It takes the reader,
 * so whoever holds it can also cancel a read that is waiting (a generator cannot be returned
 * while it waits). MCP's events are
 * `message` (or unnamed) carrying one JSON-RPC message, and, on the older HTTP+SSE transport,
 * one `endpoint` first; a priming event of the 2025-11-25 revision has empty data.
 */
export async function* sseEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): AsyncGenerator<SseMessage, void, undefined> {
  const parser = new SseParser();
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        yield* parser.end();
        return;
      }
      yield* parser.push(next.value);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** Whether an event carries a JSON-RPC message (not the endpoint, not a priming event). */
export const isMessageEvent = (event: SseMessage): boolean =>
  (event.event ?? 'message') === 'message' && event.data.trim() !== '';
