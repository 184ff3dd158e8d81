/** The request bench/profile.ts and bench/profile-workerd.ts load one server with. */
import { bearer } from './keys.ts';
import type { RequestSpec } from './loadgen.ts';

export const PROFILE_ENDPOINTS = ['chat', 'embed', 'stream'] as const;

/** The command-line options both profilers take (node:util parseArgs'), defaults included. */
export const PROFILE_OPTIONS = {
  endpoint: { type: 'string', default: 'chat' },
  concurrency: { type: 'string', default: '8' },
  seconds: { type: 'string', default: '6' },
  warmup: { type: 'string', default: '2' },
  interval: { type: 'string', default: '200' },
  out: { type: 'string', default: 'bench/results' },
  'max-seconds': { type: 'string', default: '300' },
} as const;

/** `--endpoint`, checked: one of PROFILE_ENDPOINTS. */
export function profileEndpoint(value: string | undefined): (typeof PROFILE_ENDPOINTS)[number] {
  const endpoint = PROFILE_ENDPOINTS.find((e) => e === value);
  if (!endpoint) throw new Error(`--endpoint: ${PROFILE_ENDPOINTS.join(', ')}`);
  return endpoint;
}

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
