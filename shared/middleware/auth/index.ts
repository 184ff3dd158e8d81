import type { MiddlewareHandler } from 'hono';
import { LRUCache } from 'lru-cache';
import { findKeyEntry, type Principal, type Role, sha256Hex } from '../../auth/api-keys.ts';
import { keysFromSecret, lookupKeyInTable } from '../../auth/resolve-principal.ts';
import { getSettings, type Settings } from '../../env.ts';
import { forbidden, unauthorized } from '../../errors/index.ts';

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal;
  }
}

const BEARER = /^Bearer\s+(\S{8,512})$/i;

export interface AuthOptions {
  /** Roles allowed through; any authenticated principal when absent. */
  roles?: readonly Role[];
  /** Also accept the key bare in this header (Anthropic's clients send `x-api-key`). */
  apiKeyHeader?: string;
}

const BARE_KEY = /^\S{8,512}$/;

/**
 * Resolves `Authorization: Bearer <key>` (or, where allowed, the key in `apiKeyHeader`) to a principal: first the `MAS_API_KEYS` secret, then
 * the `auth.api_keys` table when Postgres is configured. 401 without a valid key, 403 when the
 * role is not allowed.
 */
export function auth(options: AuthOptions = {}): MiddlewareHandler {
  return async function authMiddleware(c, next) {
    if (!c.get('principal')) {
      const authorization = c.req.header('authorization');
      const bare =
        options.apiKeyHeader && !authorization ? c.req.header(options.apiKeyHeader)?.trim() : undefined;
      const key = bare && BARE_KEY.test(bare) ? bare : BEARER.exec(authorization ?? '')?.[1];
      if (!key) throw unauthorized();
      const principal = await resolveApiKey(getSettings(c.env), key);
      if (!principal) throw unauthorized();
      c.set('principal', principal);
      c.set('log', c.get('log').child({ principal: principal.id }));
    }
    if (options.roles) requireRole(c.get('principal'), options.roles);
    await next();
  };
}

/** The principal an API key belongs to: the MAS_API_KEYS secret first, then the keys table. */
export async function resolveApiKey(settings: Settings, key: string): Promise<Principal | null> {
  return resolveKeyHash(settings, await hashOf(key));
}

/**
 * The principal a key digest belongs to, resolved as for a request (the approvals page
 * re-resolves its session's key this way on every decision, so revocation reaches it).
 */
export async function resolveKeyHash(settings: Settings, hash: string): Promise<Principal | null> {
  const fromSecret = findKeyEntry(keysFromSecret(settings), hash);
  if (fromSecret) {
    const { hash: _hash, ...principal } = fromSecret;
    return principal;
  }
  return settings.DATABASE_URL ? lookupKeyInTable(settings, hash) : null;
}

/**
 * SHA-256 of a presented key, remembered for the isolate's busiest keys so a hot agent does not
 * pay a digest per request. Only the lookup is cached: which principal a hash belongs to (and
 * whether it was revoked) is still decided per request.
 */
const digests = new LRUCache<string, string>({ max: 512 });
async function hashOf(key: string): Promise<string> {
  let hash = digests.get(key);
  if (!hash) {
    hash = await sha256Hex(key);
    digests.set(key, hash);
  }
  return hash;
}

export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (!roles.includes(principal.role)) {
    throw forbidden(
      `This route needs role ${roles.join(' or ')}; principal '${principal.id}' is ${principal.role}.`,
    );
  }
}
