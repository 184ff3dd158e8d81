import type { Principal } from '../auth/api-keys.ts';
import { hmacHex } from './receipts.ts';

const SESSION_TTL_SECONDS = 8 * 3600;

/** A signed session for the approvals page: `<base64url payload>.<hex HMAC>`; no server state. */
export async function signSession(secret: string, principal: Principal, now = Date.now()): Promise<string> {
  const payload = btoa(
    JSON.stringify({
      sub: principal.id,
      role: principal.role,
      exp: Math.floor(now / 1000) + SESSION_TTL_SECONDS,
    }),
  )
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return `${payload}.${await hmacHex(secret, `session:${payload}`)}`;
}

export async function readSession(
  secret: string,
  token: string | undefined,
  now = Date.now(),
): Promise<Principal | null> {
  if (!token) return null;
  const [payload, mac] = token.split('.');
  if (!payload || !mac || !equal(mac, await hmacHex(secret, `session:${payload}`))) return null;
  try {
    const data = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as {
      sub: string;
      role: Principal['role'];
      exp: number;
    };
    if (data.exp * 1000 < now) return null;
    return { id: data.sub, role: data.role };
  } catch {
    return null;
  }
}

/** CSRF token bound to the session, checked on every form post (with SameSite=Strict cookies). */
export function csrfToken(secret: string, session: string): Promise<string> {
  return hmacHex(secret, `csrf:${session}`);
}

export function equal(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
