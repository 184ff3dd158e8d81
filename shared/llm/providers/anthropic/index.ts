import { primed } from '../sse.ts';
import type { ChatProvider, ProviderSettings } from '../types.ts';
import { toAnthropicRequest } from './anthropic-chat-request.ts';
import { toOpenAIChunks, toOpenAICompletion } from './anthropic-chat-response.ts';
import { eventsOnly } from './anthropic-http.ts';
import { createAnthropicMessages } from './anthropic-messages.ts';

/**
 * Anthropic's Messages API (anthropic-messages.ts) translated to and from the OpenAI shapes the
 * router speaks (anthropic-chat-request.ts / anthropic-chat-response.ts). Like the OpenAI
 * provider it never retries: the router decides.
 */
export function createAnthropicProvider(
  settings: ProviderSettings,
  { defaultMaxTokens }: { defaultMaxTokens?: number } = {},
): ChatProvider {
  const native = createAnthropicMessages(settings);
  return {
    type: 'anthropic',
    async chat(upstreamModel, request, options) {
      const body = toAnthropicRequest(request, upstreamModel, defaultMaxTokens);
      return toOpenAICompletion(await native.messages(body, options));
    },
    async chatStream(upstreamModel, request, options) {
      const body = toAnthropicRequest(request, upstreamModel, defaultMaxTokens);
      const events = await native.messagesStream(body, options);
      return primed(toOpenAIChunks(settings.id, eventsOnly(events)));
    },
  };
}
