import { backoffDelay, parseRetryAfter, sleep as sleepFor } from '../resilience/backoff.ts';
import { deadline as attemptDeadline } from '../resilience/deadline.ts';

/** Why an integration call failed; `status` is the upstream's when it answered. */
export class IntegrationError extends Error {
  override name = 'IntegrationError';
  readonly integration: string;
  readonly kind: 'timeout' | 'unreachable' | 'upstream' | 'too_large';
  readonly status: number | undefined;
  constructor(
    integration: string,
    kind: 'timeout' | 'unreachable' | 'upstream' | 'too_large',
    message: string,
    status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.integration = integration;
    this.kind = kind;
    this.status = status;
  }
}

export interface ClientOptions {
  name: string;
  baseURL: string;
  /** Headers added to every call (the credential). */
  headers?: Record<string, string>;
  timeoutMs: number;
  /** The most an answer may carry (max_response_bytes); the typed clients read no more. */
  maxResponseBytes?: number;
  retry: { attempts: number; base_ms: number; max_ms: number; deadline_ms: number };
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: BodyInit | null;
  signal?: AbortSignal;
  /** Makes a write safe to retry: the upstream deduplicates on it. */
  idempotencyKey?: string;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// 408 timed out, 429 rate limited, 502/503/504 gateway trouble: worth another try. A plain 500
// may have half-applied a write, so it is returned as is.
const RETRYABLE = new Set([408, 429, 502, 503, 504]);

/**
 * fetch with what an integration needs: per-attempt timeout, retries on network errors and
 * 408/429/502/503/504 for idempotent methods (writes only with an Idempotency-Key), exponential
 * backoff with full jitter or the upstream's Retry-After, and one overall deadline. Works on
 * Workers, Deno and Node. The last response is returned as is (even a 503) once retries are
 * spent; network failures and timeouts throw IntegrationError.
 */
export class IntegrationClient {
  readonly options: ClientOptions;
  constructor(options: ClientOptions) {
    this.options = options;
  }

  async request(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<{ response: Response; attempts: number }> {
    const { retry } = this.options;
    const doFetch = this.options.fetch ?? fetch;
    const sleep = this.options.sleep ?? ((ms: number) => sleepFor(ms, options.signal));
    const retryable = IDEMPOTENT.has(method) || Boolean(options.idempotencyKey);
    const deadline = Date.now() + retry.deadline_ms;
    const url = `${this.options.baseURL.replace(/\/+$/, '')}${path}`;
    const headers = { ...options.headers, ...this.options.headers };
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    // A streamed body can be sent once only; buffer it when a retry may resend it.
    const body =
      retryable && options.body instanceof ReadableStream
        ? await new Response(options.body).arrayBuffer()
        : options.body;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      const attemptLimit = attemptDeadline(
        Math.max(1, Math.min(this.options.timeoutMs, remaining)),
        options.signal,
      );
      let response: Response | undefined;
      let failure: IntegrationError | undefined;
      try {
        response = await doFetch(url, {
          method,
          headers,
          body: method === 'GET' || method === 'HEAD' ? undefined : body,
          signal: attemptLimit.signal,
          redirect: 'manual',
        });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        failure = attemptLimit.timedOut
          ? new IntegrationError(
              this.options.name,
              'timeout',
              `${this.options.name} did not answer within ${this.options.timeoutMs} ms`,
              undefined,
              { cause: err },
            )
          : new IntegrationError(
              this.options.name,
              'unreachable',
              `${this.options.name} is unreachable`,
              undefined,
              { cause: err },
            );
      }
      const again =
        retryable && attempt < retry.attempts && (failure !== undefined || RETRYABLE.has(response!.status));
      if (!again) {
        if (failure) throw failure;
        return { response: response!, attempts: attempt };
      }
      const wait = backoffDelay(retry, attempt - 1, parseRetryAfter(response?.headers.get('retry-after')));
      if (Date.now() + wait >= deadline) {
        if (failure) throw failure;
        return { response: response!, attempts: attempt };
      }
      await response?.body?.cancel();
      // A discarded attempt lets go of its timer now; the returned one keeps it, bounding the body.
      attemptLimit.dispose();
      await sleep(wait);
    }
  }
}
