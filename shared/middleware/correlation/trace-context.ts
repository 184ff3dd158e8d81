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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/**
 * Random bytes drawn 4 KiB at a time: a request takes three ids (trace, span, the outgoing
 * call's span), and one `getRandomValues` per id was a crossing into the runtime each (on Node,
 * `randomFillSync` was ~2 % of a chat request's CPU). Ids need to be unique, not secret: the
 * bytes come from the same CSPRNG either way, and each is used once.
 */
const pool = new Uint8Array(4096);
let used = pool.length;

export function randomHex(bytes: number): string {
  if (bytes > pool.length) throw new RangeError('randomHex: at most 4096 bytes');
  if (used + bytes > pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  let out = '';
  for (let i = used; i < used + bytes; i++) out += HEX[pool[i]!];
  used += bytes;
  return out;
}

/**
 * A version-4 UUID from the same pool (`crypto.randomUUID` is a call into the runtime each:
 * ~3 % of the isolate's time per chat request on workerd, for the usage row's idempotency key).
 */
export function randomUuid(): string {
  const h = randomHex(16);
  const variant = HEX[(Number.parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80]!;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20)}`;
}

export function formatTraceparent(traceId: string, spanId: string, flags = '01'): string {
  return `00-${traceId}-${spanId}-${flags}`;
}
