import { ProviderError, parseRetryAfter } from '../../provider-error.ts';
import { postUpstream } from '../http.ts';
import type { CallOptions, ProviderSettings } from '../types.ts';
import { GEMINI_API_VERSION, geminiErrorSchema } from './gemini-wire.ts';

/**
 * POSTs to `<baseURL>/v1beta/models/<model>:<method>` with `x-goog-api-key`, as `@google/genai`
 * does (a base URL that already ends in an API version is used as is). Returns the response once
 * its headers are in and its status is 2xx; anything else becomes a ProviderError. The router's
 * per-attempt timeout (until the first event, for a stream) is in `options.signal`.
 */
export async function geminiRequest(
  settings: ProviderSettings,
  model: string,
  method: 'generateContent' | 'streamGenerateContent?alt=sse' | 'batchEmbedContents',
  body: unknown,
  options: CallOptions,
): Promise<Response> {
  const provider = settings.id;
  const stream = method.startsWith('stream');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    ...options.headers,
  };
  if (settings.apiKey) headers['x-goog-api-key'] = settings.apiKey;
  return postUpstream(
    settings,
    `${geminiBase(settings.baseURL)}/${modelPath(model)}:${method}`,
    headers,
    body,
    options.signal,
    (status, text) => geminiErrorFrom(provider, status, text),
  );
}

function geminiBase(baseURL: string): string {
  const base = baseURL.replace(/\/+$/, '');
  return /\/v1(beta\d*|alpha)?$/.test(base) ? base : `${base}/${GEMINI_API_VERSION}`;
}

/** `gemini-2.5-flash` → `models/gemini-2.5-flash`; `models/…` and `tunedModels/…` as given. */
export function modelPath(model: string): string {
  return model.startsWith('models/') || model.startsWith('tunedModels/') ? model : `models/${model}`;
}

/**
 * Gemini errors by status: 429 RESOURCE_EXHAUSTED and 5xx retry (429 after its RetryInfo delay,
 * which Gemini puts in the body, not in a header), 400 INVALID_ARGUMENT is the caller's (unless
 * the prompt is too long: another model may take it), 401/403 and 404 send the router to the
 * next model.
 */
export function geminiErrorFrom(provider: string, status: number, text: string): ProviderError {
  let message = '';
  let retryDelay: string | undefined;
  try {
    const parsed = geminiErrorSchema().safeParse(JSON.parse(text));
    if (parsed.success) {
      message = parsed.data.error.message ?? parsed.data.error.status ?? '';
      retryDelay = parsed.data.error.details?.find((d) => d.retryDelay)?.retryDelay ?? undefined;
    }
  } catch {
    // not JSON: the first line of the body is the message
  }
  message = (message || text).split('\n')[0]!.trim().slice(0, 300) || `${status} status code (no body)`;
  const tooLong = /token count|too long|exceeds the maximum/i.test(message);
  const seconds = retryDelay ? /^(\d+(?:\.\d+)?)s$/.exec(retryDelay)?.[1] : undefined;
  return new ProviderError(provider, message, {
    status,
    code: tooLong ? 'context_length_exceeded' : undefined,
    fallback: tooLong || status === 401 || status === 403 || status === 404 || undefined,
    retryAfterMs: seconds ? parseRetryAfter(seconds) : undefined,
  });
}
