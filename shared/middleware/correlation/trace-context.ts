/** W3C Trace Context helpers (https://www.w3.org/TR/trace-context/). */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** Bounded charset and length so a correlation id is safe in headers, logs and SQL. */
const SANE_CORRELATION_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export interface TraceParent {
  traceId: string;
  parentId: string;
  flags: string;
}

export function parseTraceparent(header: string | undefined | null): TraceParent | undefined {
  if (!header) return undefined;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!match) return undefined;
  const [, version, traceId, parentId, flags] = match as unknown as [string, string, string, string, string];
  // Version ff is forbidden; all-zero ids are invalid by the spec.
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, flags };
}

export function isSaneCorrelationId(value: string | undefined | null): value is string {
  return typeof value === 'string' && SANE_CORRELATION_ID.test(value);
}

export function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  let out = '';
  for (const b of buf) out += b.toString(16).padStart(2, '0');
  return out;
}

export function formatTraceparent(traceId: string, spanId: string, flags = '01'): string {
  return `00-${traceId}-${spanId}-${flags}`;
}
