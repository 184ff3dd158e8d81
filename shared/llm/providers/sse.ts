import { EventSourceParserStream } from 'eventsource-parser/stream';
import { withTimeout } from '../../resilience/deadline.ts';
import { idleError, ProviderError } from '../provider-error.ts';
import { bodyReadError } from './openai/openai-http.ts';

/** One server-sent event as it arrived: its `event:` name (if any) and its `data:` text. */
export interface SseMessage {
  event?: string | undefined;
  data: string;
}

/**
 * The server-sent events of an upstream response body (OpenAI's and Anthropic's streams alike).
 * Every read must complete within `idleMs`, so a stalled upstream ends the stream instead of
 * hanging it; stopping early (client gone, idle timeout, error) cancels the body, which releases
 * the upstream connection.
 */
export async function* sseMessages(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
): AsyncGenerator<SseMessage> {
  if (!res.body) throw new ProviderError(provider, 'upstream sent no stream', { status: 502 });
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<SseMessage>;
      try {
        next = await withTimeout(reader.read(), idleMs, () => idleError(provider, idleMs));
      } catch (err) {
        throw bodyReadError(provider, err, signal);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/**
 * Reads the first item now, so a failure to start surfaces before any byte reaches the caller
 * (and another model can still be tried).
 */
export async function primed<T>(items: AsyncGenerator<T>): Promise<AsyncIterable<T>> {
  const first = await items.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      yield* items;
    },
  };
}
