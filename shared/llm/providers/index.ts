import type { ResolvedModel } from '../registry.ts';
import { createOpenAIProvider } from './openai/index.ts';
import type { ChatProvider } from './types.ts';

const cache = new Map<string, ChatProvider>();

/**
 * The provider client for a resolved model, one per provider/base URL/key per isolate. Gemini's
 * native API is not wired yet: its models report themselves unavailable, so chains skip them.
 */
export function providerFor(target: ResolvedModel): ChatProvider | undefined {
  const type = target.provider.type;
  if (type === 'gemini') return undefined;
  const key = `${target.providerId}|${target.baseURL}|${target.apiKey ?? ''}`;
  let provider = cache.get(key);
  if (!provider) {
    provider = createOpenAIProvider(
      {
        id: target.providerId,
        apiKey: target.apiKey,
        baseURL: target.baseURL,
        timeoutMs: target.provider.timeout_ms,
      },
      type,
    );
    cache.set(key, provider);
  }
  return provider;
}
