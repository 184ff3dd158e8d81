/**
 * Base64url (RFC 4648 §5) without padding: what keys, session ids, receipts, cursors and the
 * Pushgateway's `@base64` label values use, so they travel in URLs, cookies and headers as is.
 */
export function base64urlEncode(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let bin = '';
  // Chunks keep String.fromCharCode's argument list bounded on long inputs.
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The bytes of a base64url text (padding optional); throws a RangeError on anything else. */
export function base64urlDecode(text: string): Uint8Array {
  const bare = text.replace(/=+$/, '');
  if (!BASE64URL.test(bare) || bare.length % 4 === 1) throw new RangeError('not base64url');
  const bin = atob(bare.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** `byteLength` random bytes as base64url: 32 bytes give 43 characters. */
export function randomBase64url(byteLength: number): string {
  const bytes = new Uint8Array(byteLength);
  crypto.getRandomValues(bytes);
  return base64urlEncode(bytes);
}
