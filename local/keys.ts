import { generateApiKey, PRINCIPAL_ID, type Role, roleSchema, sha256Hex } from '../shared/auth/api-keys.ts';
import type { Client } from '../shared/db/postgres.ts';

export interface CreatedKey {
  id: string;
  role: Role;
  key: string;
  agents: string[];
}

/** Creates (or replaces) the key of principal `id`. The key is returned once and never stored. */
/**
 * Creates (or replaces) the key of principal `id`. The key is returned once and never stored.
 * `agents`: the agent ids an agent key may record actions as, besides `id` itself.
 */
export async function createApiKey(
  client: Client,
  id: string,
  role: string,
  agents: readonly string[] = [],
): Promise<CreatedKey> {
  const parsedRole = roleSchema.parse(role);
  if (!PRINCIPAL_ID.test(id)) throw new Error('id must be 1-64 of A-Z a-z 0-9 . _ @ -');
  const bad = agents.find((a) => !PRINCIPAL_ID.test(a));
  if (bad !== undefined) throw new Error('each --agents id must be 1-64 of A-Z a-z 0-9 . _ @ -');
  if (agents.length && parsedRole !== 'agent')
    throw new Error('--agents binds agent ids to an agent key only');
  const key = generateApiKey();
  await client.query(
    `insert into auth.api_keys (id, role, key_hash, agents) values ($1, $2, $3, $4::text[])
     on conflict (id) do update set role = excluded.role, key_hash = excluded.key_hash,
       agents = excluded.agents, created_at = now(), revoked_at = null`,
    [id, parsedRole, await sha256Hex(key), [...new Set(agents)]],
  );
  return { id, role: parsedRole, key, agents: [...new Set(agents)] };
}

export async function revokeApiKey(client: Client, id: string): Promise<boolean> {
  const { rowCount } = await client.query(
    'update auth.api_keys set revoked_at = now() where id = $1 and revoked_at is null',
    [id],
  );
  return (rowCount ?? 0) > 0;
}

export async function listApiKeys(
  client: Client,
): Promise<Array<{ id: string; role: string; agents: string[]; created_at: Date; revoked_at: Date | null }>> {
  const { rows } = await client.query(
    'select id, role, agents, created_at, revoked_at from auth.api_keys order by id',
  );
  return rows;
}

/** Whether a key (e.g. the one saved in .data/admin-key) is still valid in the table. */
export async function isKeyActive(client: Client, key: string): Promise<boolean> {
  const { rows } = await client.query(
    'select 1 from auth.api_keys where key_hash = $1 and revoked_at is null',
    [await sha256Hex(key)],
  );
  return rows.length > 0;
}
