import type { ProviderType } from '../models-schema.ts';

/** An OpenAI Chat Completions request body, as the caller sent it (validated loosely). */
export type ChatRequest = Record<string, unknown> & { messages: unknown[]; model?: string; stream?: boolean };
export type ChatCompletion = Record<string, unknown> & { usage?: Usage | null };
export type ChatChunk = Record<string, unknown> & { usage?: Usage | null };
export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface CallOptions {
  signal: AbortSignal;
  /** Correlation id and child traceparent for the upstream. */
  headers: Record<string, string>;
}

/** What every provider implements; the router only ever sees OpenAI shapes. */
export interface ChatProvider {
  readonly type: ProviderType;
  chat(upstreamModel: string, request: ChatRequest, options: CallOptions): Promise<ChatCompletion>;
  /** Resolves once the upstream stream is open (its first chunk read), so errors before the
   * first byte can still fall back. */
  chatStream(
    upstreamModel: string,
    request: ChatRequest,
    options: CallOptions,
  ): Promise<AsyncIterable<ChatChunk>>;
  /**
   * OpenAI-type providers only: the same stream as the upstream's own bytes, opened (first data
   * event read) before it resolves, for the chat route to forward untouched (`openai-stream-tap.ts`).
   */
  chatStreamBytes?(upstreamModel: string, request: ChatRequest, options: CallOptions): Promise<ChunkBytes>;
  /** `forwardStream` as bytes, for chunk streams (`/completions`). */
  forwardStreamBytes?(
    path: '/completions',
    body: Record<string, unknown>,
    options: CallOptions,
  ): Promise<ChunkBytes>;
  /**
   * A JSON body POSTed as is to one of the upstream's own OpenAI endpoints (`/responses`,
   * `/completions`), for the endpoints that are forwarded rather than translated. Only
   * OpenAI-type providers have it; the routes translate through `chat` for the others.
   */
  forward?(path: ForwardPath, body: Record<string, unknown>, options: CallOptions): Promise<unknown>;
  /** The same, streamed: the SSE events' JSON, opened (first event read) before it resolves. */
  forwardStream?(
    path: ForwardPath,
    body: Record<string, unknown>,
    options: CallOptions,
  ): Promise<AsyncIterable<Record<string, unknown>>>;
}

/**
 * Texts, or token ids (one array per input) as OpenAI's `input` takes them. Token ids are only
 * meaningful to the tokenizer of the model they were made for, so only OpenAI-type upstreams
 * take them; the route keeps them away from other providers.
 */
export type EmbedInputs = { texts: string[] } | { tokens: number[][]; single?: boolean };
// `single`: the caller sent one flat token array (`[1, 2, 3]`), forwarded in that form.

/** An upstream SSE body opened for forwarding: what priming read, and the rest unread. */
export interface ChunkBytes {
  provider: string;
  /** The longest the upstream may stay quiet between chunks. */
  idleMs: number;
  /** The attempt's signal (a caller who left aborts it). */
  signal: AbortSignal;
  /** The most bytes one event may take before its end (the provider's `max_response_bytes`). */
  maxBytes: number;
  head: Uint8Array;
  /** The rest of the body, still locked to the reader that primed it; null if it already ended. */
  reader: ReadableStreamDefaultReader<Uint8Array> | null;
}

export type ForwardPath = '/responses' | '/completions';

/** How the caller wants its vectors written: a JSON array of numbers, or base64 float32 LE. */
export type EmbedFormat = 'float' | 'base64';

/**
 * One vector per input, in order: as numbers, or (OpenAI-type upstreams, when the route asked
 * for a format) already written in that format, each exactly as the upstream wrote it, so the
 * route sends the texts on instead of parsing and writing the vectors again (issue #23).
 */
export type EmbedResult = { promptTokens: number } & (
  | { vectors: number[][]; written?: undefined }
  | { written: { format: EmbedFormat; items: string[] }; vectors?: undefined }
);

export interface ProviderSettings {
  id: string;
  apiKey: string | undefined;
  baseURL: string;
  timeoutMs: number;
  /**
   * The most an upstream answer may carry: a whole non-stream body, or one stream event still
   * waiting for its end (`max_response_bytes`; DEFAULT_MAX_RESPONSE_BYTES when unset).
   */
  maxResponseBytes?: number | undefined;
  fetch?: typeof fetch;
}
