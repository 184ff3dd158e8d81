/**
 * Who is calling, as the per-client limit on failed authentications counts it:
 * - bare workerd (`npm start`'s local runtime): `request.cf.clientIp`, the socket address, which
 *   workerd itself fills in when no `cf` blob is configured (a client cannot set it);
 * - Cloudflare Workers: `CF-Connecting-IP`, which the edge sets on every request, overwriting
 *   whatever a client sent; `wrangler dev` sets it from the socket (keeping one a client sent);
 * - neither (a request handed to `app.fetch` directly, Deno without a proxy that sets the
 *   header): `unidentified`, one client for the whole isolate.
 * Bounded, so a header cannot become a huge Redis key.
 */
export function clientAddress(request: Request): string {
  const socket = (request as { cf?: { clientIp?: unknown } }).cf?.clientIp;
  if (typeof socket === 'string' && socket) return withoutPort(socket).slice(0, 64);
  const header = request.headers.get('cf-connecting-ip')?.trim();
  if (header) return header.slice(0, 64);
  return 'unidentified';
}

/** `127.0.0.1:53412` -> `127.0.0.1`, `[::1]:53412` -> `::1`; a bare address stays as it is. */
function withoutPort(address: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(address);
  if (v6) return v6[1]!;
  const v4 = /^([^:]+):\d+$/.exec(address);
  return v4 ? v4[1]! : address;
}
