import { ProviderError } from '../../provider-error.ts';
import { maxBytes } from '../http.ts';
import { primedBatches } from '../sse.ts';
import type { ChatCompletion, ChatProvider, ChatRequest, ProviderSettings } from '../types.ts';
import { keepText } from '../upstream-text.ts';
import { checkCompletion } from './openai-bodies.ts';
import { readJson, readJsonText, upstreamRequest } from './openai-http.ts';
import { sseChunkBatches } from './openai-sse.ts';
import { openChunkBytes } from './openai-stream-tap.ts';

/**
 * OpenAI and any OpenAI-compatible server (LiteLLM, Ollama, vLLM, llama.cpp), spoken directly over
 * fetch. The wire protocol is JSON endpoints and SSE (embeddings: openai-embed.ts); the `openai`
 * SDK would add ~400 KiB to every chat bundle and a parse/re-serialise of each stream chunk. The
 * router decides about retries and fallbacks, so nothing here retries.
 */
export function createOpenAIProvider(
  settings: ProviderSettings,
  type: 'openai' | 'openai_compatible',
): ChatProvider {
  const provider = settings.id;
  return {
    ...createOpenAIChat(settings, type),
    async forward(path, body, options) {
      const res = await upstreamRequest(settings, path, { ...body, stream: false }, options);
      const json = await readJson(provider, res, options.signal, maxBytes(settings));
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new ProviderError(provider, 'upstream sent an unexpected body (root: not an object)', {
          status: 502,
        });
      }
      return json;
    },
    async forwardStream(path, body, options) {
      const res = await upstreamRequest(settings, path, { ...body, stream: true }, options, { stream: true });
      return primedBatches(
        sseChunkBatches(provider, res, settings.timeoutMs, options.signal, maxBytes(settings)),
      );
    },
    async forwardStreamBytes(path, body, options) {
      const res = await upstreamRequest(settings, path, { ...body, stream: true }, options, { stream: true });
      return openChunkBytes(provider, res, settings.timeoutMs, options.signal, maxBytes(settings));
    },
    async chatStreamBytes(upstreamModel, request, options) {
      const body = chatStreamBody(upstreamModel, request);
      const res = await upstreamRequest(settings, '/chat/completions', body, options, { stream: true });
      return openChunkBytes(provider, res, settings.timeoutMs, options.signal, maxBytes(settings));
    },
  };
}

/**
 * Chat Completions alone, as chunks: what the messages function translates to, without the
 * forwarding and byte streams (and their stream tap) only the chat function uses.
 */
export function createOpenAIChat(
  settings: ProviderSettings,
  type: 'openai' | 'openai_compatible',
): ChatProvider {
  const provider = settings.id;
  return {
    type,
    async chat(upstreamModel, request, options) {
      const body = { ...request, model: upstreamModel, stream: false };
      const res = await upstreamRequest(settings, '/chat/completions', body, options);
      const { text, json } = await readJsonText(provider, res, options.signal, maxBytes(settings));
      checkCompletion(provider, json);
      return keepText(json as ChatCompletion, text);
    },
    async chatStream(upstreamModel, request, options) {
      const body = chatStreamBody(upstreamModel, request);
      const res = await upstreamRequest(settings, '/chat/completions', body, options, { stream: true });
      return primedBatches(
        sseChunkBatches(provider, res, settings.timeoutMs, options.signal, maxBytes(settings)),
      );
    },
  };
}

/** Usage is asked for on every stream, to be counted; the caller sees it only if it asked too. */
function chatStreamBody(upstreamModel: string, request: ChatRequest): Record<string, unknown> {
  return {
    ...request,
    model: upstreamModel,
    stream: true,
    stream_options: { ...((request.stream_options as object) ?? {}), include_usage: true },
  };
}
