import { type Principal, sha256Hex } from '../auth/api-keys.ts';
import { randomBase64url } from '../crypto/base64url.ts';
import { withPostgres } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { resolveKeyHash } from '../middleware/auth/index.ts';
import { hmacHex } from './receipts.ts';

/** How long a sign-in lasts at most; logout ends it at once. */
export const SESSION_TTL_SECONDS = 8 * 3600;
/** A session id: 32 random bytes, base64url. Anything else in the cookie is refused. */
export const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface PageSession {
  id: string;
  principal: Principal;
}

function newSessionId(): string {
  return randomBase64url(32);
}

/**
 * Starts an approvals-page session for the principal of the key with digest `keyHash`: a row in
 * auth.approval_sessions (holding the SHA-256 of the session id, never the id) that names the
 * key, so every later request re-resolves that key as the API would.
 */
export async function createSession(
  settings: Settings,
  principal: Principal,
  keyHash: string,
): Promise<string> {
  const id = newSessionId();
  const idHash = await sha256Hex(id);
  await withPostgres(settings, (client) =>
    client.query(
      `insert into auth.approval_sessions (id_hash, principal, key_hash, expires_at)
       values ($1, $2, $3, now() + make_interval(secs => $4))`,
      [idHash, principal.id, keyHash, SESSION_TTL_SECONDS],
    ),
  );
  return id;
}

/**
 * The session's principal, re-resolved from its key on every call (so a revoked key stops
 * deciding within the key cache's bound), or null: unknown, logged out, expired, a key that no
 * longer resolves, or one that now belongs to someone else or is no longer an approver.
 */
export async function readSession(settings: Settings, id: string | undefined): Promise<PageSession | null> {
  if (!id || !SESSION_ID.test(id)) return null;
  const idHash = await sha256Hex(id);
  const rows = await withPostgres(settings, async (client) => {
    const result = await client.query<{ principal: string; key_hash: string }>(
      `select principal, key_hash from auth.approval_sessions
        where id_hash = $1 and revoked_at is null and expires_at > now()`,
      [idHash],
    );
    return result.rows;
  });
  const row = rows[0];
  if (!row) return null;
  const principal = await resolveKeyHash(settings, row.key_hash);
  if (!principal || principal.id !== row.principal) return null;
  if (principal.role !== 'approver' && principal.role !== 'admin') return null;
  return { id, principal };
}

/** Logout: the session stops working everywhere at once, whoever holds a copy of the cookie. */
export async function revokeSession(settings: Settings, id: string): Promise<void> {
  if (!SESSION_ID.test(id)) return;
  const idHash = await sha256Hex(id);
  await withPostgres(settings, (client) =>
    client.query(
      'update auth.approval_sessions set revoked_at = now() where id_hash = $1 and revoked_at is null',
      [idHash],
    ),
  );
}

/** The CSRF token of a session: an HMAC of its id, checked on every form post. */
export function csrfToken(secret: string, sessionId: string): Promise<string> {
  return hmacHex(secret, `csrf:${sessionId}`);
}
