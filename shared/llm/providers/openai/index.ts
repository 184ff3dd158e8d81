import type { ChatChunk, ChatCompletion, ChatProvider, ProviderSettings } from '../types.ts';
import { completionSchema, embeddingsSchema, parseUpstream } from './openai-bodies.ts';
import { readJson, upstreamRequest } from './openai-http.ts';
import { sseChunks } from './openai-sse.ts';

/**
 * OpenAI and any OpenAI-compatible server (LiteLLM, Ollama, vLLM, llama.cpp), spoken directly over
 * fetch. The wire protocol is three JSON endpoints and SSE; the `openai` SDK would add ~400 KiB to
 * every chat bundle and a parse/re-serialise of each stream chunk. The router decides about
 * retries and fallbacks, so nothing here retries.
 */
export function createOpenAIProvider(
  settings: ProviderSettings,
  type: 'openai' | 'openai_compatible',
): ChatProvider {
  const provider = settings.id;
  return {
    type,
    async embed(upstreamModel, inputs, options) {
      const body = {
        model: upstreamModel,
        input: inputs,
        encoding_format: 'float',
        ...(options.dimensions ? { dimensions: options.dimensions } : {}),
      };
      const res = await upstreamRequest(settings, '/embeddings', body, options);
      const parsed = parseUpstream(provider, embeddingsSchema, await readJson(provider, res, options.signal));
      const vectors = [...parsed.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { vectors, promptTokens: parsed.usage?.prompt_tokens ?? 0 };
    },
    async chat(upstreamModel, request, options) {
      const body = { ...request, model: upstreamModel, stream: false };
      const res = await upstreamRequest(settings, '/chat/completions', body, options);
      const json = await readJson(provider, res, options.signal);
      parseUpstream(provider, completionSchema, json);
      return json as ChatCompletion;
    },
    async chatStream(upstreamModel, request, options) {
      const body = {
        ...request,
        model: upstreamModel,
        stream: true,
        stream_options: { ...((request.stream_options as object) ?? {}), include_usage: true },
      };
      const res = await upstreamRequest(settings, '/chat/completions', body, options, { stream: true });
      return primed(sseChunks(provider, res, settings.timeoutMs, options.signal));
    },
  };
}

/**
 * Reads the first chunk now, so a failure to start surfaces before any byte reaches the caller
 * (and another model can still be tried).
 */
async function primed(chunks: AsyncGenerator<ChatChunk>): Promise<AsyncIterable<ChatChunk>> {
  const first = await chunks.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      yield* chunks;
    },
  };
}
