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
  /**
   * The upstream's own error, as it sent it, for errors that are the caller's (a 4xx): returned
   * to the caller with the upstream's status, message, type, code and param unchanged.
   */
  readonly upstream: UpstreamErrorBody | undefined;

  constructor(
    provider: string,
    message: string,
    options: {
      status?: number;
      code?: string;
      retryAfterMs?: number;
      fallback?: boolean;
      retryable?: boolean;
      upstream?: UpstreamErrorBody;
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
    this.upstream = options.upstream;
  }

  /** A 4xx that is the caller's doing (not 408/409/429, not a credential or missing model). */
  get callerFault(): boolean {
    return (
      this.status !== undefined &&
      this.status >= 400 &&
      this.status < 500 &&
      !this.retryable &&
      (this.code === 'context_length_exceeded' || !this.fallback)
    );
  }
}

/** OpenAI's error object: `{ message, type, code, param }`. */
export interface UpstreamErrorBody {
  message: string;
  type?: string | undefined;
  code?: string | null | undefined;
  param?: string | null | undefined;
}

export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true; // no answer at all: network error or timeout
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** A stream that went quiet for `ms`: the same error for every provider's stream. */
export function idleError(provider: string, ms: number): ProviderError {
  return new ProviderError(provider, `upstream sent nothing for ${ms} ms`, { code: 'upstream_timeout' });
}

export { parseRetryAfter } from '../resilience/backoff.ts';
