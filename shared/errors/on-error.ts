import { HTTPException } from 'hono/http-exception';
import { $ZodError, type $ZodIssue } from 'zod/v4/core';
import { redactString } from '../redact/index.ts';
import { AppError } from './app-error.ts';

export interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

/** The one JSON error shape (CONTRACT.md), with secrets scrubbed from the message as a backstop. */
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
