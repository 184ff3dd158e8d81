import { AppError } from '../../errors/index.ts';
import { readBounded } from '../../middleware/json-body/index.ts';
import { ProviderError } from '../provider-error.ts';
import type { ProviderSettings } from './types.ts';

/**
 * The most one upstream answer may carry when its provider sets no `max_response_bytes`: a
 * non-stream body, or one stream event still waiting for its end. A chat answer is a few KiB;
 * 2,048 embeddings of 1,536 floats written as JSON numbers are ~60 MiB, more than an isolate's
 * 128 MB can parse beside anything else, so 16 MiB keeps what an isolate can hold.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** An error answer's body is read for its message only: no more than this of it. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The 502 of an answer (or a stream event) past the bound; another model may still answer. */
export function tooLargeError(provider: string, max: number, what = 'an answer'): ProviderError {
  return new ProviderError(provider, `upstream sent ${what} larger than ${max} bytes (max_response_bytes)`, {
    status: 502,
    code: 'upstream_too_large',
    retryable: false,
    fallback: true,
  });
}

const utf8 = new TextDecoder();

/**
 * A non-stream answer's body as text, never more than `max` bytes of it: a Content-Length over
 * `max` is refused before any byte is read, a body of unknown length (chunked, or decoded from a
 * Content-Encoding, whose Content-Length is the encoded size) is counted as it is read. Past `max`
 * the body is cancelled, which releases the upstream connection, and the answer is
 * `tooLargeError`. A plain body whose length is declared within `max` is read in one call into
 * the runtime (as `res.text()` was): over HTTP its length frames it.
 */
export async function readCappedText(provider: string, res: Response, max: number): Promise<string> {
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLargeError(provider, max);
  }
  const encoding = res.headers.get('content-encoding');
  if (declared !== null && (encoding === null || encoding === 'identity')) {
    const bytes = await res.arrayBuffer();
    // A Response built in-process can declare any length.
    if (bytes.byteLength > max) throw tooLargeError(provider, max);
    return utf8.decode(bytes);
  }
  try {
    return utf8.decode(await readBounded(res.body, max));
  } catch (err) {
    // readBounded's 413 is about a request body; here the upstream sent too much.
    if (err instanceof AppError && err.status === 413) throw tooLargeError(provider, max);
    throw err;
  }
}

/**
 * One JSON POST to a provider, as every provider makes it: a connection that fails before an
 * answer is `upstream_unreachable` (retryable), an abort by the caller or the router's attempt
 * timeout is rethrown as is, and a non-2xx answer becomes the provider's own error from its body
 * (`toError` gets the body's text; '' when reading it failed or it passed 64 KiB).
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
    text = await readCappedText(settings.id, res, Math.min(MAX_ERROR_BODY_BYTES, maxBytes(settings)));
  } catch (err) {
    if (signal.aborted) throw err;
  }
  throw toError(res.status, text, res);
}

/** The provider's `max_response_bytes`, or the default. */
export function maxBytes(settings: ProviderSettings): number {
  return settings.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
}
