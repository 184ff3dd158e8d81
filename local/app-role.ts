import type { Client } from '../shared/db/postgres.ts';

/** The role migrations grant to (migrations/0002, 0040): what the functions connect as. */
export const APP_ROLE = 'mas_app';

/**
 * Lets `mas_app` log in with `password` (run as the migrations' owner). ALTER ROLE takes no bind
 * parameters, so the password is quoted by Postgres itself (`quote_literal`) and never pasted in.
 */
export async function setAppRolePassword(client: Client, password: string): Promise<void> {
  if (!password) throw new Error('the mas_app password is empty');
  const { rows } = await client.query<{ sql: string }>(
    `select format('alter role %I login password %L', $1::text, $2::text) as sql`,
    [APP_ROLE, password],
  );
  await client.query(rows[0]!.sql);
}

/** `databaseUrl` with mas_app's credentials instead of the owner's. */
export function appRoleUrl(databaseUrl: string, password: string): string {
  const url = new URL(databaseUrl);
  url.username = APP_ROLE;
  url.password = encodeURIComponent(password);
  return url.toString();
}
