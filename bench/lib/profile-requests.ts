/** The request bench/profile.ts and bench/profile-workerd.ts load one server with. */
import { bearer } from './keys.ts';
import type { RequestSpec } from './loadgen.ts';

export const PROFILE_ENDPOINTS = ['chat', 'embed', 'stream'] as const;

export function profileRequest(
  endpoint: string,
  origin: string,
  headers: Record<string, string> = {},
): RequestSpec {
  const body =
    endpoint === 'embed'
      ? JSON.stringify({ model: 'embedding', input: 'The quick brown fox.' })
      : JSON.stringify({
          model: 'fast',
          ...(endpoint === 'stream' ? { stream: true } : {}),
          messages: [{ role: 'user', content: 'Say hello.' }],
        });
  return {
    method: 'POST',
    url: `${origin}${endpoint === 'embed' ? '/v1/embeddings' : '/v1/chat/completions'}`,
    headers: { 'content-type': 'application/json', authorization: bearer('agent'), ...headers },
    body,
  };
}
