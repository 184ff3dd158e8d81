import { ProviderError } from '../../provider-error.ts';
import { sseMessages } from '../sse.ts';
import type { ChatChunk } from '../types.ts';

/**
 * The `data:` text each chunk arrived as, so the chat route can forward it byte for byte instead
 * of serialising the parsed object again.
 */
const rawText = new WeakMap<object, string>();

export function rawChunkText(chunk: ChatChunk): string | undefined {
  return rawText.get(chunk);
}

/**
 * The chunks of an OpenAI SSE stream until `[DONE]`, read by `sseMessages` (idle timeout per read,
 * body cancelled when the caller stops early).
 */
export async function* sseChunks(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
): AsyncGenerator<ChatChunk> {
  for await (const message of sseMessages(provider, res, idleMs, signal)) {
    const data = message.data;
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
    if (message.event === 'error' || (chunk.error && typeof chunk.error === 'object')) {
      // Chat streams nest it (`{error: {message}}`); Responses streams' error event is flat.
      const message = (chunk.error as { message?: unknown } | undefined)?.message ?? chunk.message;
      throw new ProviderError(provider, typeof message === 'string' ? message : 'upstream stream error', {
        status: 502,
      });
    }
    rawText.set(chunk, data);
    yield chunk;
  }
}
