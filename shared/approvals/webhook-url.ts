/**
 * Where an approval webhook may not go: loopback, link-local (cloud metadata at 169.254.169.254),
 * private and other non-public ranges, and `localhost` names, unless the operator allows private
 * destinations explicitly for local development (APPROVAL_WEBHOOK_ALLOW_PRIVATE=true). Checked
 * on the URL's host as written: IP literals in every spelling URL parsing normalises (decimal,
 * hex, IPv4-mapped IPv6). A public DNS name pointing at a private address is not resolved here
 * (Workers have no DNS API); on Cloudflare, outbound fetches to private addresses are refused by
 * the platform. Returns why the URL is refused, or null.
 */
export function webhookUrlProblem(url: string, allowPrivate: boolean): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'not http(s)';
  if (parsed.username || parsed.password) return 'credentials in the URL';
  if (allowPrivate) return null;
  const host = parsed.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return 'a localhost name';
  if (host.endsWith('.local') || host.endsWith('.internal') || host.endsWith('.home.arpa')) {
    return 'a local network name';
  }
  const v4 = parseIPv4(host);
  if (v4 && isPrivateV4(v4)) return 'a loopback, link-local or private address';
  if (host.startsWith('[')) {
    const v6 = host.slice(1, -1);
    if (isPrivateV6(v6)) return 'a loopback, link-local or private address';
  }
  return null;
}

function parseIPv4(host: string): number[] | null {
  // WHATWG URL parsing has already turned 0x7f.1, 2130706433 and friends into dotted decimal.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function isPrivateV4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b! >= 64 && b! <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) ||
    (a === 172 && b! >= 16 && b! <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a! >= 224 // multicast, reserved, broadcast
  );
}

function isPrivateV6(v6: string): boolean {
  if (v6 === '::' || v6 === '::1') return true;
  // IPv4-mapped / -translated: ::ffff:7f00:1 (URL parsing writes the hex form).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    return isPrivateV4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  }
  const first = Number.parseInt(v6.split(':')[0] || '0', 16);
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 // multicast
  );
}
