import type { MiddlewareHandler } from 'hono';
import { startAnswerHeaders } from '../../http/answer-headers.ts';
import { formatTraceparent, isSaneCorrelationId, parseTraceparent, randomHex } from './trace-context.ts';

export { formatTraceparent, isSaneCorrelationId, parseTraceparent } from './trace-context.ts';

export interface TraceContext {
  correlationId: string;
  traceId: string;
  flags: string;
}

declare module 'hono' {
  interface ContextVariableMap {
    trace: TraceContext;
  }
}

export interface CorrelationOptions {
  headerName?: string;
}

/**
 * Gives every request a correlation id: the caller's `x-correlation-id` when sane, else the trace
 * id of a valid `traceparent`, else a new one. Echoed on the response, even on errors, as
 * `x-correlation-id` and as OpenAI's `x-request-id`.
 */
export function correlation(options: CorrelationOptions = {}): MiddlewareHandler {
  const headerName = options.headerName ?? 'x-correlation-id';
  return async function correlationMiddleware(c, next) {
    // One `headers` getter (a call into the runtime, as each get is) for both reads.
    const requestHeaders = c.req.raw.headers;
    const parent = parseTraceparent(requestHeaders.get('traceparent'));
    const incoming = requestHeaders.get(headerName);
    const traceId = parent?.traceId ?? randomHex(16);
    const correlationId = isSaneCorrelationId(incoming) ? incoming : traceId;
    // No span id of its own is drawn: nothing reads one (each outgoing call draws its span's).
    c.set('trace', { correlationId, traceId, flags: parent?.flags ?? '01' });
    // OpenAI's name for the same thing beside it: the SDKs read it into `request_id` and their errors.
    const answer = startAnswerHeaders(c, { [headerName]: correlationId, 'x-request-id': correlationId });
    await next();
    // Unless the answer was made from the bag (answerWith) or onError put it on its own: set on
    // whatever response came back (a handler's, a Response returned as is), and only there: each
    // header set is a call into the runtime, so none is made twice (nor is the `headers` getter).
    if (answer.sent) return;
    answer.sent = true;
    const headers = c.res.headers;
    for (const name in answer.headers) headers.set(name, answer.headers[name]!);
  };
}

/** Headers for an outgoing call (LLM provider, integration): same correlation id, a child span. */
export function outgoingTraceHeaders(trace: TraceContext): Record<string, string> {
  return {
    'x-correlation-id': trace.correlationId,
    traceparent: formatTraceparent(trace.traceId, randomHex(8), trace.flags),
  };
}
