import type { ResolvedModel } from '../registry.ts';
import type { ProviderSettings } from './types.ts';

/** What a provider's HTTP calls need from a resolved model. */
export function settingsFor(target: ResolvedModel): ProviderSettings {
  return {
    id: target.providerId,
    apiKey: target.apiKey,
    baseURL: target.baseURL,
    timeoutMs: target.provider.timeout_ms,
    maxResponseBytes: target.provider.max_response_bytes,
  };
}
