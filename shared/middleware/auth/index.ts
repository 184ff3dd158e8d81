import type { Context, MiddlewareHandler } from 'hono';
import {
  findKeyEntry,
  isGeneratedKey,
  isWellFormedKey,
  type KeyEntry,
  type Principal,
  type Role,
  sha256Hex,
} from '../../auth/api-keys.ts';
import { recordAuthFailure, refuseIfOverFailureLimit } from '../../auth/auth-failures.ts';
import { clientAddress } from '../../auth/client-address.ts';
import { keysFromSecret, lookupKeyInTable } from '../../auth/resolve-principal.ts';
import { getSettings, type Settings } from '../../env.ts';
import { forbidden, unauthorized } from '../../errors/index.ts';
import { lazy } from '../../http/lazy.ts';
import { boundedCache } from '../../http/lru.ts';

declare module 'hono' {
  interface ContextVariableMap {
    principal: Principal;
  }
}

const BEARER = /^Bearer\s+(\S+)$/i;

export interface AuthOptions {
  /** Roles allowed through; any authenticated principal when absent. */
  roles?: readonly Role[];
  /** Also accept the key bare in this header (Anthropic's clients send `x-api-key`). */
  apiKeyHeader?: string;
}

/**
 * Resolves `Authorization: Bearer <key>` (or, where allowed, the key in `apiKeyHeader`) to a
 * principal through `authenticate`. 401 without a valid key, 403 when the role is not allowed,
 * 429 for a client over its failed-authentication limit.
 */
export function auth(options: AuthOptions = {}): MiddlewareHandler {
  // Not async: the common request (a key in MAS_API_KEYS whose digest this isolate has made)
  // awaits nothing here, so it makes no promise of its own and returns next()'s.
  return function authMiddleware(c, next) {
    if (!c.get('principal')) {
      const authorization = c.req.header('authorization');
      const key =
        options.apiKeyHeader && !authorization
          ? c.req.header(options.apiKeyHeader)?.trim()
          : BEARER.exec(authorization ?? '')?.[1];
      const known = knownPrincipal(c, key);
      if (!known) return authenticateThenNext(c, key, options, next);
      admit(c, known);
    }
    if (options.roles) requireRole(c.get('principal'), options.roles);
    return next();
  };
}

async function authenticateThenNext(
  c: Context,
  key: string | undefined,
  options: AuthOptions,
  next: () => Promise<void>,
): Promise<void> {
  const found = await authenticate(c, key);
  if (!found) throw unauthorized();
  admit(c, found.principal);
  if (options.roles) requireRole(found.principal, options.roles);
  await next();
}

function admit(c: Context, principal: Principal): void {
  c.set('principal', principal);
  c.set('log', c.get('log').child({ principal: principal.id }));
}

/**
 * What `authenticate` answers, decided without a promise when it can be: a key whose digest is
 * cached here (only well-formed keys are digested) and found in `MAS_API_KEYS`, for a client not
 * over its failed-authentication limit (429, as there). Undefined: go the whole way.
 */
function knownPrincipal(c: Context, key: string | undefined): Principal | undefined {
  const hash = key === undefined ? undefined : digests().get(key);
  if (hash === undefined) return undefined;
  const entry = findKeyEntry(keysFromSecret(getSettings(c.env)), hash);
  if (!entry) return undefined;
  refuseIfOverFailureLimit(() => clientAddress(c.req.raw));
  return principalOf(entry);
}

/**
 * The principal of a `MAS_API_KEYS` entry without its digest, made once per entry (entries live
 * as long as their secret's parse), not copied per request. Principals are shared and read-only,
 * as those of the `auth.api_keys` cache are.
 */
const principals = new WeakMap<KeyEntry, Principal>();
function principalOf(entry: KeyEntry): Principal {
  let principal = principals.get(entry);
  if (!principal) {
    const { hash: _hash, ...rest } = entry;
    principal = rest;
    principals.set(entry, principal);
  }
  return principal;
}

/**
 * The one way a presented key becomes a principal (the API and the approvals sign-in), cheapest
 * refusal first: a client over its failed-authentication limit is 429 before anything else; a
 * key that is not `mas_` + base64url of a sane length is refused without a digest or any I/O;
 * then the `MAS_API_KEYS` secret (memory), then `auth.api_keys` (cached; only keys of the shape
 * `npm run keys` makes can be there, so only those are looked up). Every refusal counts against
 * the client (shared/auth/auth-failures.ts). Null when the key is not valid.
 */
export async function authenticate(
  c: Context,
  key: string | undefined,
): Promise<{ principal: Principal; hash: string } | null> {
  const settings = getSettings(c.env);
  // Only a refusal needs the client's address (and a check, only when some client is blocked).
  let client: string | undefined;
  const clientOf = () => (client ??= clientAddress(c.req.raw));
  refuseIfOverFailureLimit(clientOf);
  const log = c.get('log');
  if (!key || !isWellFormedKey(key)) {
    await recordAuthFailure(settings, clientOf(), { costly: false, log });
    return null;
  }
  const hash = await hashOf(key);
  const { principal, queried } = await resolveKeyHashOnce(settings, hash, isGeneratedKey(key));
  if (!principal) {
    await recordAuthFailure(settings, clientOf(), { costly: queried, log });
    return null;
  }
  return { principal, hash };
}

/**
 * The principal a key digest belongs to, resolved as for a request (the approvals page
 * re-resolves its session's key this way on every decision, so revocation reaches it).
 */
export async function resolveKeyHash(settings: Settings, hash: string): Promise<Principal | null> {
  return (await resolveKeyHashOnce(settings, hash, true)).principal;
}

async function resolveKeyHashOnce(
  settings: Settings,
  hash: string,
  inTable: boolean,
): Promise<{ principal: Principal | null; queried: boolean }> {
  const fromSecret = findKeyEntry(keysFromSecret(settings), hash);
  if (fromSecret) return { principal: principalOf(fromSecret), queried: false };
  if (!inTable || !settings.DATABASE_URL) return { principal: null, queried: false };
  return lookupKeyInTable(settings, hash);
}

/**
 * SHA-256 of a presented key, remembered for the isolate's busiest keys so a hot agent does not
 * pay a digest per request. Only the lookup is cached: which principal a hash belongs to (and
 * whether it was revoked) is still decided per request.
 */
const digests = lazy(() => boundedCache<string, string>(512));
async function hashOf(key: string): Promise<string> {
  let hash = digests().get(key);
  if (!hash) {
    hash = await sha256Hex(key);
    digests().set(key, hash);
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
