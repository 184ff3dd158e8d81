import { ProviderError } from '../../provider-error.ts';
import { type SseMessage, sseBatches } from '../sse.ts';
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
 * The chunks of an OpenAI SSE stream until `[DONE]`, one upstream read's worth at a time (batches
 * of `sseBatches`: idle timeout per read, body cancelled when the caller stops early). An error
 * event ends the stream: the chunks before it in its read are still given, then it is thrown.
 */
export async function* sseChunkBatches(
  provider: string,
  res: Response,
  idleMs: number,
  signal: AbortSignal,
  maxBytes?: number,
): AsyncGenerator<ChatChunk[]> {
  for await (const messages of sseBatches(provider, res, idleMs, signal, maxBytes)) {
    const chunks: ChatChunk[] = [];
    let end: 'done' | ProviderError | undefined;
    for (const message of messages) {
      end = message.data === '[DONE]' ? 'done' : undefined;
      if (end) break;
      const chunk = parseChunk(provider, message);
      if (chunk instanceof ProviderError) {
        end = chunk;
        break;
      }
      chunks.push(chunk);
    }
    if (chunks.length) yield chunks;
    if (end === 'done') return;
    if (end) throw end;
  }
}

/** One event's chunk, or the error it reports (or is: not JSON). */
function parseChunk(provider: string, message: SseMessage): ChatChunk | ProviderError {
  const data = message.data;
  let chunk: ChatChunk;
  try {
    chunk = JSON.parse(data) as ChatChunk;
  } catch (err) {
    return new ProviderError(provider, 'upstream sent a stream chunk that is not JSON', {
      status: 502,
      cause: err,
    });
  }
  if (message.event === 'error' || (chunk.error && typeof chunk.error === 'object')) {
    // Chat streams nest it (`{error: {message}}`); Responses streams' error event is flat.
    const said = (chunk.error as { message?: unknown } | undefined)?.message ?? chunk.message;
    return new ProviderError(provider, typeof said === 'string' ? said : 'upstream stream error', {
      status: 502,
    });
  }
  rawText.set(chunk, data);
  return chunk;
}
