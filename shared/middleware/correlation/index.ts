import type { MiddlewareHandler } from 'hono';
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
    await next();
    // Set on whatever response came back (a handler's, onError's, a Response returned as is), and
    // only there: each header set is a call into the runtime, so none is made twice (nor is the
    // `headers` getter, another call).
    const headers = c.res.headers;
    headers.set(headerName, correlationId);
    // OpenAI's name for the same thing: the SDKs read it into `request_id` and their errors.
    headers.set('x-request-id', correlationId);
  };
}

/** Headers for an outgoing call (LLM provider, integration): same correlation id, a child span. */
export function outgoingTraceHeaders(trace: TraceContext): Record<string, string> {
  return {
    'x-correlation-id': trace.correlationId,
    traceparent: formatTraceparent(trace.traceId, randomHex(8), trace.flags),
  };
}
