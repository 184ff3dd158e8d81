/**
 * An upstream LLM failure, normalised across providers. `retryable` follows the usual rules:
 * network errors and timeouts (transient), 408 (upstream timed out), 409 (conflicting concurrent
 * request), 429 (rate limited, often with Retry-After) and 5xx (upstream fault). `fallback` says
 * whether another model could succeed where this one cannot (bad credentials, context too long,
 * model missing upstream); a plain 400 is the caller's fault and is returned as is.
 */
export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly provider: string;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly fallback: boolean;
  readonly retryAfterMs: number | undefined;
  readonly code: string;

  constructor(
    provider: string,
    message: string,
    options: {
      status?: number;
      code?: string;
      retryAfterMs?: number;
      fallback?: boolean;
      retryable?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.provider = provider;
    this.status = options.status;
    this.code = options.code ?? (options.status ? `upstream_${options.status}` : 'upstream_unreachable');
    this.retryable = options.retryable ?? isRetryableStatus(options.status);
    this.fallback = options.fallback ?? this.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true; // no answer at all: network error or timeout
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
