import { HTTPException } from 'hono/http-exception';
import { $ZodError, type $ZodIssue } from 'zod/v4/core';
import { redactString } from '../redact/index.ts';
import { AppError } from './app-error.ts';
import './zod-english.ts';

export interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

/** The one JSON error shape (docs/API.md), with secrets scrubbed from the message as a backstop. */
export function errorBody(err: AppError): ErrorBody {
  return {
    error: {
      message: redactString(err.message).value,
      type: err.type,
      code: err.code,
      param: err.param,
    },
  };
}

/** Anthropic's status codes and error types, for callers of the Messages API. */
const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/**
 * The Messages API error: `{"type":"error","error":{"type","message"},"request_id"}` with the
 * status Anthropic would use: other 4xx the caller caused are 400 `invalid_request_error`, an
 * upstream failure (502) is 500 `api_error`, no model available (503) is 529
 * `overloaded_error`, a deadline (504) `timeout_error`. Anthropic's SDKs retry 5xx and 529.
 */
export function anthropicErrorBody(
  err: AppError,
  requestId: string,
): { status: number; body: { type: 'error'; error: { type: string; message: string }; request_id: string } } {
  let status = err.status;
  if (status === 503) status = 529;
  else if (status >= 500 && status !== 504) status = 500;
  else if (status >= 400 && status < 500 && !ANTHROPIC_TYPES[status] && status !== 499) status = 400;
  return {
    status,
    body: {
      type: 'error',
      error: {
        type: ANTHROPIC_TYPES[status] ?? 'invalid_request_error',
        message: redactString(err.message).value,
      },
      request_id: requestId,
    },
  };
}

/**
 * Turns anything thrown into an AppError. Unknown errors become a generic 500 that names only the
 * correlation id: their detail goes to the log, never to the caller.
 */
export function toAppError(err: unknown, correlationId: string): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof $ZodError) {
    const issue = err.issues[0];
    const param = issue && issue.path.length > 0 ? issue.path.join('.') : null;
    return new AppError(400, 'invalid_request', issue ? describeIssue(issue) : 'Invalid request.', {
      param,
      cause: err,
    });
  }
  if (err instanceof HTTPException) {
    return new AppError(err.status, err.status === 413 ? 'payload_too_large' : 'http_error', err.message, {
      cause: err,
    });
  }
  return new AppError(500, 'internal_error', `Internal error (correlation id ${correlationId}).`, {
    cause: err,
  });
}

function describeIssue(issue: $ZodIssue): string {
  const where = issue.path.length > 0 ? `'${issue.path.join('.')}'` : 'body';
  return `Invalid ${where}: ${issue.message}`;
}
