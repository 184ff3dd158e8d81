import { withPostgres } from '../db/postgres.ts';
import type { Settings } from '../env.ts';
import { lazy } from '../http/lazy.ts';
import { boundedCache } from '../http/lru.ts';
import { type KeyEntry, type Principal, parseApiKeysSecret, roleSchema } from './api-keys.ts';

const CACHE_TTL_MS = 60_000;
const MISS_TTL_MS = 5_000;
const secretCache = new Map<string, KeyEntry[]>();
/**
 * Key hash -> principal (or a miss), least recently used out: a flood of random keys evicts only
 * the oldest entries, never every legitimate principal at once.
 */
const tableCache = lazy(() => boundedCache<string, { principal: Principal | null; expires: number }>(10_000));

export function keysFromSecret(settings: Settings): KeyEntry[] {
  const secret = settings.MAS_API_KEYS ?? '';
  let entries = secretCache.get(secret);
  if (!entries) {
    entries = parseApiKeysSecret(secret);
    secretCache.set(secret, entries);
  }
  return entries;
}

/**
 * Looks a key hash up in `auth.api_keys` (managed by `npm run keys`), cached per isolate so a
 * busy agent costs one query a minute. Unknown hashes are cached briefly too, so a flood of bad
 * keys cannot turn into a flood of queries. Says whether it queried (a miss that cost a query
 * counts against the caller's address in Redis). Throws (503) when Postgres is down.
 */
export async function lookupKeyInTable(
  settings: Settings,
  hash: string,
): Promise<{ principal: Principal | null; queried: boolean }> {
  const now = Date.now();
  const cached = tableCache().get(hash);
  if (cached && cached.expires > now) return { principal: cached.principal, queried: false };
  const principal = await withPostgres(
    settings,
    async (client) => {
      const { rows } = await client.query<{ id: string; role: string; agents: string[] | null }>(
        'select id, role, agents from auth.api_keys where key_hash = $1 and revoked_at is null',
        [hash],
      );
      const row = rows[0];
      const role = roleSchema.safeParse(row?.role);
      if (!row || !role.success) return null;
      return row.agents?.length
        ? { id: row.id, role: role.data, agents: row.agents }
        : { id: row.id, role: role.data };
    },
    { connectTimeoutMs: 3000 },
  );
  tableCache().set(hash, { principal, expires: now + (principal ? CACHE_TTL_MS : MISS_TTL_MS) });
  return { principal, queried: true };
}
