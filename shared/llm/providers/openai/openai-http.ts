import { ProviderError, parseRetryAfter } from '../../provider-error.ts';
import { DEFAULT_MAX_RESPONSE_BYTES, postUpstream, readCappedText } from '../http.ts';
import type { CallOptions, ProviderSettings } from '../types.ts';

/**
 * POSTs a JSON body to `<baseURL><path>` and returns the response once its headers are in and
 * its status is 2xx; anything else becomes a ProviderError the router can act on. A caller abort
 * (or the router's per-attempt timeout, which for a stream lasts until its first chunk) is
 * rethrown as is: the router tells the two apart.
 */
export async function upstreamRequest(
  settings: ProviderSettings,
  path: string,
  body: unknown,
  options: CallOptions,
  { stream = false }: { stream?: boolean } = {},
): Promise<Response> {
  const provider = settings.id;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    ...options.headers,
  };
  if (settings.apiKey) headers.authorization = `Bearer ${settings.apiKey}`;
  const base = settings.baseURL;
  return postUpstream(
    settings,
    `${base.endsWith('/') ? base.replace(/\/+$/, '') : base}${path}`,
    headers,
    body,
    options.signal,
    (status, text, res) => errorFromResponse(provider, status, text, res.headers),
  );
}

/**
 * The body as JSON; a broken connection is retryable, a body that is not JSON is a 502, and so is
 * one past `max` bytes (`readCappedText`).
 */
export async function readJson(
  provider: string,
  res: Response,
  signal: AbortSignal,
  max = DEFAULT_MAX_RESPONSE_BYTES,
): Promise<unknown> {
  return (await readJsonText(provider, res, signal, max)).json;
}

/** `readJson` with the text it parsed, for answers sent on as the upstream's own bytes. */
export async function readJsonText(
  provider: string,
  res: Response,
  signal: AbortSignal,
  max = DEFAULT_MAX_RESPONSE_BYTES,
): Promise<{ text: string; json: unknown }> {
  const text = await readBodyText(provider, res, signal, max);
  return { text, json: parseJsonBody(provider, text) };
}

/** The body as text, at most `max` bytes (a 502 past it); a connection that breaks while it is read is retryable. */
export async function readBodyText(
  provider: string,
  res: Response,
  signal: AbortSignal,
  max = DEFAULT_MAX_RESPONSE_BYTES,
): Promise<string> {
  try {
    return await readCappedText(provider, res, max);
  } catch (err) {
    throw bodyReadError(provider, err, signal);
  }
}

/** The upstream's text as JSON; one that is not JSON is a 502. */
export function parseJsonBody(provider: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProviderError(provider, 'upstream sent a body that is not JSON', { status: 502, cause: err });
  }
}

export function bodyReadError(provider: string, err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted || err instanceof ProviderError) return err;
  return new ProviderError(provider, 'upstream connection broke while sending its answer', {
    code: 'upstream_unreachable',
    cause: err,
  });
}

/**
 * An upstream 4xx/5xx: its own message (first line), Retry-After, and whether another model
 * could do better (bad credential, missing model, context too long).
 */
function errorFromResponse(provider: string, status: number, text: string, headers: Headers): ProviderError {
  let message = '';
  let code = '';
  let type: string | undefined;
  let param: string | null = null;
  try {
    const json = JSON.parse(text) as {
      error?: { message?: unknown; code?: unknown; type?: unknown; param?: unknown } | string;
      message?: unknown;
    };
    const error = typeof json.error === 'object' && json.error ? json.error : undefined;
    const candidate = error?.message ?? (typeof json.error === 'string' ? json.error : json.message);
    if (typeof candidate === 'string') message = candidate;
    if (error?.code !== undefined && error.code !== null) code = String(error.code);
    if (typeof error?.type === 'string') type = error.type;
    if (typeof error?.param === 'string') param = error.param;
  } catch {
    message = text;
  }
  const contextTooLong = code === 'context_length_exceeded';
  return new ProviderError(provider, upstreamMessage(message, status), {
    status,
    code: contextTooLong ? 'context_length_exceeded' : undefined,
    retryAfterMs: parseRetryAfter(headers.get('retry-after')),
    fallback: contextTooLong || status === 401 || status === 403 || status === 404 || undefined,
    upstream: {
      message: message.slice(0, 2000) || `${status} status code (no body)`,
      type,
      code: code || null,
      param,
    },
  });
}

/** First line, bounded; the redactor scrubs it again before anyone sees it. */
function upstreamMessage(message: string, status: number): string {
  const line = message.split('\n')[0]!.trim().slice(0, 300);
  return line ? `${status} ${line}` : `${status} status code (no body)`;
}
