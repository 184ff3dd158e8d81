/** OpenAI error `type` values, chosen by status so clients written for OpenAI react correctly. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'rate_limit_error'
  /** Over a spend budget: OpenAI's type for an exhausted quota, which its clients do not retry. */
  | 'insufficient_quota'
  | 'api_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'service_unavailable_error';

export interface AppErrorOptions {
  type?: ErrorType;
  /** The request field at fault, as OpenAI's `param`. */
  param?: string | null;
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error base. Handlers throw it; `onError` renders it in the OpenAI shape. The message is
 * shown to callers, so it never carries a secret or an upstream body; put detail in `cause`.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  readonly code: string;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.code = code;
    this.type = options.type ?? defaultType(status);
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

export function defaultType(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 409) return 'conflict_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 502) return 'upstream_error';
  if (status === 504) return 'timeout_error';
  if (status === 503) return 'service_unavailable_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_request') =>
  new AppError(400, code, message, { param });
export const unauthorized = (message = 'Missing or invalid API key.') =>
  new AppError(401, 'invalid_api_key', message, { headers: { 'www-authenticate': 'Bearer' } });
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);
export const notFound = (message: string, code = 'not_found') => new AppError(404, code, message);
export const payloadTooLarge = (limit: number) =>
  new AppError(413, 'payload_too_large', `Request body exceeds the limit of ${limit} bytes.`);
export const unsupportedMediaType = (expected = 'application/json') =>
  new AppError(415, 'unsupported_media_type', `Content-Type must be ${expected}.`);
export const tooManyRequests = (retryAfterSeconds: number) =>
  new AppError(429, 'rate_limit_exceeded', `Rate limit exceeded; retry after ${retryAfterSeconds}s.`, {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
export const serviceUnavailable = (message: string, code = 'dependency_unavailable', cause?: unknown) =>
  new AppError(503, code, message, { cause });
export const notImplemented = (what: string) =>
  new AppError(501, 'not_implemented', `${what} is not implemented in this release.`);
