import { EventSourceParserStream } from 'eventsource-parser/stream';
import { withTimeout } from '../../../resilience/deadline.ts';
import { idleError, ProviderError } from '../../provider-error.ts';
import type { ChatChunk } from '../types.ts';
import { bodyReadError } from './openai-http.ts';

/**
 * The `data:` text each chunk arrived as, so the chat route can forward it byte for byte instead
 * of serialising the parsed object again.
 */
const rawText = new WeakMap<object, string>();

export function rawChunkText(chunk: ChatChunk): string | undefined {
  return rawText.get(chunk);
}

/**
 * The chunks of an OpenAI SSE stream until `[DONE]`. Every read must complete within `idleMs`, so
 * a stalled upstream ends the stream instead of hanging it; stopping early (client gone, idle
 * timeout, error) cancels the body, which releases the upstream connection.
 */
export async function* sseChunks(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
): AsyncGenerator<ChatChunk> {
  if (!res.body) throw new ProviderError(provider, 'upstream sent no stream', { status: 502 });
  const reader = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<{ event?: string; data: string }>;
      try {
        next = await withIdleTimeout(reader.read(), idleMs, provider);
      } catch (err) {
        throw bodyReadError(provider, err, signal);
      }
      if (next.done) return;
      const data = next.value.data;
      if (data === '[DONE]') return;
      let chunk: ChatChunk;
      try {
        chunk = JSON.parse(data) as ChatChunk;
      } catch (err) {
        throw new ProviderError(provider, 'upstream sent a stream chunk that is not JSON', {
          status: 502,
          cause: err,
        });
      }
      if (next.value.event === 'error' || (chunk.error && typeof chunk.error === 'object')) {
        // Chat streams nest it (`{error: {message}}`); Responses streams' error event is flat.
        const message = (chunk.error as { message?: unknown } | undefined)?.message ?? chunk.message;
        throw new ProviderError(provider, typeof message === 'string' ? message : 'upstream stream error', {
          status: 502,
        });
      }
      rawText.set(chunk, data);
      yield chunk;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
/** Every stream read must come within `ms` (OpenAI and Anthropic streams alike). */
export function withIdleTimeout<T>(promise: Promise<T>, ms: number, provider: string): Promise<T> {
  return withTimeout(promise, ms, () => idleError(provider, ms));
}
