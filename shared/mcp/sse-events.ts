import { type SseMessage, SseParser } from '../llm/providers/sse.ts';
import { MAX_MESSAGE_BYTES } from './client-transport.ts';
import type { UpstreamFailures } from './upstream-error.ts';

/**
 * The events of an SSE body, one at a time, ending when the body does; stopping early (the
 * answer found, an error) cancels the body, which releases the connection. It takes the reader,
 * so whoever holds it can also cancel a read that is waiting (a generator cannot be returned
 * while it waits). MCP's events are
 * `message` (or unnamed) carrying one JSON-RPC message, and, on the older HTTP+SSE transport,
 * one `endpoint` first; a priming event of the 2025-11-25 revision has empty data. An event
 * still incomplete after MAX_MESSAGE_BYTES (counted since the last chunk that completed one, so
 * the parser never holds more than that and one chunk) fails the read: `fail.tooLarge`.
 */
export async function* sseEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  fail: UpstreamFailures,
): AsyncGenerator<SseMessage, void, undefined> {
  const parser = new SseParser();
  let pending = 0;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        yield* parser.end();
        return;
      }
      const events = parser.push(next.value);
      pending = events.length > 0 ? 0 : pending + next.value.byteLength;
      if (pending > MAX_MESSAGE_BYTES) throw fail.tooLarge(MAX_MESSAGE_BYTES);
      yield* events;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** Whether an event carries a JSON-RPC message (not the endpoint, not a priming event). */
export const isMessageEvent = (event: SseMessage): boolean =>
  (event.event ?? 'message') === 'message' && event.data.trim() !== '';
