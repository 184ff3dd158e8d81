import type { ResolvedModel } from '../registry.ts';
import { type AnthropicMessages, createAnthropicMessages } from './anthropic/anthropic-messages.ts';
import { createAnthropicProvider } from './anthropic/index.ts';
import { createGeminiProvider } from './gemini/index.ts';
import { createOpenAIChat, createOpenAIProvider } from './openai/index.ts';
import { settingsFor } from './settings.ts';
import type { ChatProvider, ProviderSettings } from './types.ts';

const cache = new Map<string, unknown>();

/** One client per kind and provider/base URL/key per isolate. */
function cached<P>(kind: string, target: ResolvedModel, create: (settings: ProviderSettings) => P): P {
  const key = `${kind}|${target.providerId}|${target.baseURL}|${target.apiKey ?? ''}`;
  let client = cache.get(key) as P | undefined;
  if (!client) {
    client = create(settingsFor(target));
    cache.set(key, client);
  }
  return client;
}

/**
 * The chat client for a resolved model. Embeddings are embed.ts's embedWith, so the embed bundle
 * carries none of the chat code; the messages function takes the two below, so it carries no
 * Anthropic translation and no OpenAI forwarding.
 */
export function providerFor(target: ResolvedModel): ChatProvider {
  const type = target.provider.type;
  return cached('chat', target, (settings) =>
    type === 'gemini'
      ? createGeminiProvider(settings)
      : type === 'anthropic'
        ? createAnthropicProvider(settings, { defaultMaxTokens: target.provider.default_max_tokens })
        : createOpenAIProvider(settings, type),
  );
}

/** Chat (and chunk streams) alone, for an OpenAI-type or Gemini model: what Messages translates to. */
export function translatedChatFor(target: ResolvedModel): ChatProvider {
  const type = target.provider.type;
  if (type === 'anthropic')
    throw new Error(`${target.providerId} is an anthropic provider: use its Messages API`);
  return cached('translated', target, (settings) =>
    type === 'gemini' ? createGeminiProvider(settings) : createOpenAIChat(settings, type),
  );
}

/** The native Messages API of an `anthropic` model (the messages function sends it untranslated). */
export function anthropicMessagesFor(target: ResolvedModel): AnthropicMessages {
  if (target.provider.type !== 'anthropic')
    throw new Error(`${target.providerId} is not an anthropic provider`);
  return cached('messages', target, createAnthropicMessages);
}

export { rawChunkText } from './openai/openai-sse.ts';
export { upstreamText } from './upstream-text.ts';
