import { ProviderError, parseRetryAfter } from '../../provider-error.ts';
import { type AnthropicEvent, anthropicErrorSchema } from './anthropic-wire.ts';

/** Anthropic's own status for `overloaded_error`: a transient capacity problem, retryable. */
export const OVERLOADED = 529;

/**
 * An Anthropic error response → ProviderError. 429 `rate_limit_error` and 5xx (`api_error`,
 * 529 `overloaded_error`) retry, honouring `retry-after`; 401 `authentication_error`, 403
 * `permission_error`, 402 `billing_error` and 404 `not_found_error` move on to the next model
 * (another credential or model may work); a prompt too long for this model may fit the next;
 * any other 400 `invalid_request_error` (and 413 `request_too_large`) is the caller's.
 */
export function anthropicErrorFrom(
  provider: string,
  status: number,
  text: string,
  retryAfter: string | null,
) {
  const { type, message } = readError(text);
  const tooLong =
    status === 400 && /prompt is too long|too many tokens|context (window|length)/i.test(message);
  return new ProviderError(provider, upstreamMessage(message, status), {
    status,
    code: tooLong ? 'context_length_exceeded' : type ? `anthropic_${type}` : undefined,
    retryAfterMs: parseRetryAfter(retryAfter),
    fallback: tooLong || status === 401 || status === 402 || status === 403 || status === 404 || undefined,
  });
}

/** The upstream's own error type, for callers of the native Messages API. */
export function anthropicErrorType(error: ProviderError): string | undefined {
  return error.code.startsWith('anthropic_') ? error.code.slice('anthropic_'.length) : undefined;
}

/** An `event: error` inside a stream: `overloaded_error` is retryable like a 529. */
export function anthropicStreamError(provider: string, event: AnthropicEvent): ProviderError {
  const type = event.error?.type ?? 'api_error';
  const status = type === 'overloaded_error' ? OVERLOADED : type === 'rate_limit_error' ? 429 : 500;
  return new ProviderError(
    provider,
    `${type}: ${event.error?.message ?? 'upstream stream error'}`.slice(0, 300),
    {
      status,
      code: `anthropic_${type}`,
    },
  );
}

function readError(text: string): { type: string; message: string } {
  try {
    const parsed = anthropicErrorSchema().safeParse(JSON.parse(text));
    if (parsed.success) return { type: parsed.data.error.type, message: parsed.data.error.message };
  } catch {
    // not JSON: the first line of the body is the message
  }
  return { type: '', message: text };
}

/** First line, bounded; the redactor scrubs it again before anyone sees it. */
function upstreamMessage(message: string, status: number): string {
  const line = message.split('\n')[0]!.trim().slice(0, 300);
  return line ? `${status} ${line}` : `${status} status code (no body)`;
}
