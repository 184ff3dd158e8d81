/**
 * Receipts: what an approved agent presents to complete its gated action. An HMAC of the approval,
 * the action and the hash of its redacted inputs, so nothing secret is stored, a receipt for one
 * action (or other inputs) never fits another, and the server can hand it out again on every poll.
 * Single use is enforced in the database (`receipt_used_at`).
 */
export async function makeReceipt(
  secret: string,
  approvalId: string,
  actionId: string,
  inputHash: string,
): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await crypto.subtle.sign(
    'HMAC',
    key,
    new TextEncoder().encode(`receipt:${approvalId}:${actionId}:${inputHash}`),
  );
  return `rcpt_${base64url(new Uint8Array(mac))}`;
}

export async function receiptMatches(
  secret: string,
  receipt: string,
  approvalId: string,
  actionId: string,
  inputHash: string,
): Promise<boolean> {
  const expected = await makeReceipt(secret, approvalId, actionId, inputHash);
  if (expected.length !== receipt.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ receipt.charCodeAt(i);
  return diff === 0;
}

export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message)));
  let out = '';
  for (const b of mac) out += b.toString(16).padStart(2, '0');
  return out;
}

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
