import type { Context } from 'hono';
import type { AppEnv } from '../../shared/http/create-app.ts';
import { rawChunkText } from '../../shared/llm/providers/index.ts';
import { tapChunkStream } from '../../shared/llm/providers/openai/openai-stream-tap.ts';
import { batchesOf } from '../../shared/llm/providers/sse.ts';
import type { ChatChunk, ChunkBytes } from '../../shared/llm/providers/types.ts';
import { redactString } from '../../shared/redact/index.ts';

export interface ChunkStreamOptions {
  /** The caller asked for `stream_options.include_usage`: only then does the usage-only chunk go out. */
  wantsUsage: boolean;
  /** Model id for the log line of a failed stream. */
  model: string;
  /** Rewrites each chunk (translated streams); untouched chunks go out as they came. */
  map?: (chunk: ChatChunk) => ChatChunk;
  /** Runs once the stream ends, however it ends, with the last usage seen. */
  onEnd: (usage: ChatChunk['usage'] | undefined) => void;
  /** Runs once the first chunk has gone out (the router's `opened`: bookkeeping off the first byte's path). */
  onStarted?: () => void;
}

/**
 * OpenAI's chunk streams (chat and legacy completions) as SSE: `data: <chunk>` each, then
 * `data: [DONE]`. Usage is requested upstream on every stream so it can be counted, but the
 * usage-only chunk (`choices: []`) reaches the caller only if it asked, as OpenAI does. After the
 * first byte there is no fallback: an upstream dying mid-way ends the stream with an error event,
 * never a silent cut.
 */
export function chunkStream(
  c: Context<AppEnv>,
  chunks: AsyncIterable<ChatChunk>,
  options: ChunkStreamOptions,
): Response {
  const encoder = new TextEncoder();
  const log = c.get('log');
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let usage: ChatChunk['usage'] | undefined;
      // The chunks of the read being written; a failure part-way still sends them (see catch).
      let piece = '';
      try {
        // What one upstream read brought goes out as one piece: one handoff to the runtime per read.
        for await (const batch of batchesOf(chunks)) {
          for (const chunk of batch) {
            if (chunk.usage) usage = chunk.usage;
            if (!options.wantsUsage && isUsageOnly(chunk)) continue;
            const out = options.map ? options.map(chunk) : chunk;
            // Forwarded chunks go out as they came: no second serialisation per chunk.
            const text = out === chunk ? (rawChunkText(chunk) ?? JSON.stringify(chunk)) : JSON.stringify(out);
            piece += `data: ${text}\n\n`;
          }
          const whole = piece;
          piece = '';
          if (whole) {
            controller.enqueue(encoder.encode(whole));
            options.onStarted?.();
          }
        }
        controller.enqueue(encoder.encode('data: [DONE]\n\n'));
      } catch (err) {
        log.warn('llm stream failed mid-way', {
          model: options.model,
          error: err instanceof Error ? err : String(err),
        });
        // A chunk that failed to translate (`map` threw) loses only itself: those built before it
        // in the same read go out first, whole, then the error event.
        controller.enqueue(encoder.encode(piece + streamErrorEvent(err)));
      } finally {
        options.onEnd(usage);
        controller.close();
      }
    },
  });
  return sseResponse(c, stream);
}

/**
 * The same stream from an OpenAI-type upstream, as its own bytes (`openai-stream-tap.ts`): one
 * stream stage, and the chunks go out as they arrived, except the usage-only chunk the caller did
 * not ask for; the same error event, usage and `onEnd` as `chunkStream`.
 */
export function chunkBytesStream(
  c: Context<AppEnv>,
  bytes: ChunkBytes,
  options: Omit<ChunkStreamOptions, 'map'>,
): Response {
  const log = c.get('log');
  const stream = tapChunkStream(bytes, {
    wantsUsage: options.wantsUsage,
    errorEvent: streamErrorEvent,
    onStarted: options.onStarted,
    onEnd(usage, error) {
      if (error !== undefined)
        log.warn('llm stream failed mid-way', {
          model: options.model,
          error: error instanceof Error ? error : String(error),
        });
      options.onEnd(usage);
    },
  });
  return sseResponse(c, stream);
}

/** After the first byte there is no fallback: an upstream failing mid-way ends with this event. */
function streamErrorEvent(err: unknown): string {
  const message = redactString(err instanceof Error ? err.message : 'upstream stream failed').value;
  const error = {
    error: {
      message: `Upstream stream failed: ${message}`,
      type: 'upstream_error',
      code: 'stream_interrupted',
      param: null,
    },
  };
  return `event: error\ndata: ${JSON.stringify(error)}\n\n`;
}

function sseResponse(c: Context<AppEnv>, stream: ReadableStream<Uint8Array>): Response {
  c.header('content-type', 'text/event-stream; charset=utf-8');
  c.header('cache-control', 'no-cache');
  return c.body(stream);
}

/** `stream_options.include_usage === true` in a request body. */
export function wantsUsage(body: Record<string, unknown>): boolean {
  return (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
}

function isUsageOnly(chunk: ChatChunk): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null;
}
