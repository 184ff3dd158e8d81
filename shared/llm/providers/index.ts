import type { ResolvedModel } from '../registry.ts';
import { type AnthropicProvider, createAnthropicProvider } from './anthropic/index.ts';
import { createGeminiProvider } from './gemini/index.ts';
import { createOpenAIProvider } from './openai/index.ts';
import { settingsFor } from './settings.ts';
import type { ChatProvider } from './types.ts';

const cache = new Map<string, ChatProvider>();

/**
 * The chat client for a resolved model, one per provider/base URL/key per isolate. Embeddings
 * are embed.ts's embedWith, so the embed bundle carries none of the chat code.
 */
export function providerFor(target: ResolvedModel): ChatProvider {
  const type = target.provider.type;
  const key = `${target.providerId}|${target.baseURL}|${target.apiKey ?? ''}`;
  let provider = cache.get(key);
  if (!provider) {
    const settings = settingsFor(target);
    provider =
      type === 'gemini'
        ? createGeminiProvider(settings)
        : type === 'anthropic'
          ? createAnthropicProvider(settings, { defaultMaxTokens: target.provider.default_max_tokens })
          : createOpenAIProvider(settings, type);
    cache.set(key, provider);
  }
  return provider;
}
/** The native Messages API of an `anthropic` model (the messages function sends it untranslated). */
export function anthropicProviderFor(target: ResolvedModel): AnthropicProvider {
  if (target.provider.type !== 'anthropic')
    throw new Error(`${target.providerId} is not an anthropic provider`);
  return providerFor(target) as AnthropicProvider;
}

export { rawChunkText } from './openai/openai-sse.ts';
