import { ProviderError } from '../provider-error.ts';
import type { ProviderSettings } from './types.ts';

/**
 * One JSON POST to a provider, as every provider makes it: a connection that fails before an
 * answer is `upstream_unreachable` (retryable), an abort by the caller or the router's attempt
 * timeout is rethrown as is, and a non-2xx answer becomes the provider's own error from its body
 * (`toError` gets the body's text; '' when reading it failed).
 */
export async function postUpstream(
  settings: ProviderSettings,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  signal: AbortSignal,
  toError: (status: number, text: string, res: Response) => unknown,
): Promise<Response> {
  let res: Response;
  try {
    res = await (settings.fetch ?? fetch)(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ProviderError(settings.id, 'upstream unreachable', {
      code: 'upstream_unreachable',
      cause: err,
    });
  }
  if (res.ok) return res;
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (signal.aborted) throw err;
  }
  throw toError(res.status, text, res);
}
