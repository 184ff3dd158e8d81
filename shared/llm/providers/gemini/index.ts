import { ProviderError } from '../../provider-error.ts';
import { maxBytes } from '../http.ts';
import { parseUpstream } from '../openai/openai-bodies.ts';
import { readJson } from '../openai/openai-http.ts';
import { primed, sseMessages } from '../sse.ts';
import type { ChatProvider, ProviderSettings } from '../types.ts';
import { toGeminiRequest } from './gemini-chat-request.ts';
import { toOpenAIChunks, toOpenAICompletion } from './gemini-chat-response.ts';
import { geminiErrorFrom, geminiRequest } from './gemini-http.ts';
import {
  type GenerateContentResponse,
  generateContentBody,
  generateContentResponseSchema,
} from './gemini-wire.ts';

/**
 * Google Gemini through its native REST API over fetch (gemini-http.ts), translated to and from
 * the OpenAI shapes the router speaks (embeddings: gemini-embed.ts). Like the other providers it never retries: the router
 * decides.
 */
export function createGeminiProvider(settings: ProviderSettings): ChatProvider {
  const provider = settings.id;
  return {
    type: 'gemini',
    async chat(upstreamModel, request, options) {
      const { contents, config } = toGeminiRequest(request);
      const res = await geminiRequest(
        settings,
        upstreamModel,
        'generateContent',
        generateContentBody(contents, config),
        options,
      );
      const response = parseUpstream(
        provider,
        generateContentResponseSchema(),
        await readJson(provider, res, options.signal, maxBytes(settings)),
      );
      return toOpenAICompletion(provider, upstreamModel, response);
    },
    async chatStream(upstreamModel, request, options) {
      const { contents, config } = toGeminiRequest(request);
      const res = await geminiRequest(
        settings,
        upstreamModel,
        'streamGenerateContent?alt=sse',
        generateContentBody(contents, config),
        options,
      );
      // Each response must come within the provider's timeout (sseMessages), and stopping early
      // cancels the body, which ends the upstream request. The first chunk is read before
      // committing, so a failure to start can still fall back.
      const responses = geminiResponses(
        provider,
        sseMessages(provider, res, settings.timeoutMs, options.signal, maxBytes(settings)),
      );
      return primed(toOpenAIChunks(provider, upstreamModel, responses));
    },
  };
}

async function* geminiResponses(
  provider: string,
  messages: AsyncIterable<{ data: string }>,
): AsyncGenerator<GenerateContentResponse> {
  for await (const { data } of messages) {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch (err) {
      throw new ProviderError(provider, 'upstream sent a stream event that is not JSON', {
        status: 502,
        cause: err,
      });
    }
    // An error inside a 200 stream (Gemini sends `{ error }` as an event): a ProviderError like
    // an error status, thrown before the first chunk (fallback) or ending the stream later.
    const error = (json as { error?: { code?: unknown } } | null)?.error;
    if (error && typeof error === 'object') {
      throw geminiErrorFrom(provider, typeof error.code === 'number' ? error.code : 500, data);
    }
    yield parseUpstream(provider, generateContentResponseSchema(), json);
  }
}
