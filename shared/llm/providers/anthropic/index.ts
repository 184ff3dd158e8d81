import { parseUpstream } from '../openai/openai-bodies.ts';
import { readJson } from '../openai/openai-http.ts';
import { primed } from '../sse.ts';
import type { CallOptions, ChatProvider, ProviderSettings } from '../types.ts';
import { toAnthropicRequest } from './anthropic-chat-request.ts';
import { toOpenAIChunks, toOpenAICompletion } from './anthropic-chat-response.ts';
import { anthropicEvents, anthropicRequest, eventsOnly, type RawEvent } from './anthropic-http.ts';
import { type AnthropicResponse, anthropicMessageSchema, countTokensSchema } from './anthropic-wire.ts';

/** The chat interface, plus the native Messages API for callers that already speak it. */
export interface AnthropicProvider extends ChatProvider {
  /** A Messages request as the caller sent it (model already replaced), answered as is. */
  messages(body: Record<string, unknown>, options: CallOptions): Promise<AnthropicResponse>;
  /** Resolves once the first event is in: an upstream that fails to start can still fall back. */
  messagesStream(body: Record<string, unknown>, options: CallOptions): Promise<AsyncIterable<RawEvent>>;
  countTokens(body: Record<string, unknown>, options: CallOptions): Promise<number>;
}

/**
 * Anthropic's Messages API over fetch, translated to and from the OpenAI shapes the router
 * speaks (anthropic-chat-request.ts / anthropic-chat-response.ts). Like the OpenAI provider it
 * never retries: the router decides.
 */
export function createAnthropicProvider(
  settings: ProviderSettings,
  { defaultMaxTokens }: { defaultMaxTokens?: number } = {},
): AnthropicProvider {
  const provider = settings.id;
  const open = async (body: Record<string, unknown>, options: CallOptions) => {
    const res = await anthropicRequest(settings, '/messages', { ...body, stream: true }, options, {
      stream: true,
    });
    return primed(anthropicEvents(provider, res, settings.timeoutMs, options.signal));
  };
  const self: AnthropicProvider = {
    type: 'anthropic',
    async chat(upstreamModel, request, options) {
      const body = toAnthropicRequest(request, upstreamModel, defaultMaxTokens);
      return toOpenAICompletion(await self.messages(body, options));
    },
    async chatStream(upstreamModel, request, options) {
      const body = toAnthropicRequest(request, upstreamModel, defaultMaxTokens);
      const events = await open(body, options);
      return primed(toOpenAIChunks(provider, eventsOnly(events)));
    },
    async messages(body, options) {
      const res = await anthropicRequest(settings, '/messages', { ...body, stream: false }, options);
      return parseUpstream(provider, anthropicMessageSchema, await readJson(provider, res, options.signal));
    },
    messagesStream: open,
    async countTokens(body, options) {
      const res = await anthropicRequest(settings, '/messages/count_tokens', body, options);
      return parseUpstream(provider, countTokensSchema, await readJson(provider, res, options.signal))
        .input_tokens;
    },
  };
  return self;
}
