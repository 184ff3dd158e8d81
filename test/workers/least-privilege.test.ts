import { describe, expect, inject, it } from 'vitest';
import { withPostgres } from '../../shared/db/postgres.ts';
import { getSettings } from '../../shared/env.ts';
import { testEnv } from './helpers.ts';

// On a real Postgres the suite's functions connect as the application role (test/global-setup.ts),
// so every other test also proves a grant is there; PGlite is single-user and cannot show it.
const asApp = inject('stackInfo').appRole;
const sql = async (text: string) =>
  withPostgres(getSettings(await testEnv()), async (client) => (await client.query(text)).rows);

describe('the functions run as the least-privilege role', () => {
  it(`connects as ${asApp ? 'mas_app' : 'the embedded single user'}`, async () => {
    const [row] = await sql('select current_user as who');
    expect(row!.who).toBe(asApp ? 'mas_app' : 'postgres');
  });

  it('reads API keys but cannot write them, nor rewrite the ledger', async () => {
    expect(Array.isArray(await sql('select id from auth.api_keys limit 1'))).toBe(true);
    const [role] = await sql('select rolsuper from pg_roles where rolname = current_user');
    expect(role!.rolsuper).toBe(!asApp);
    if (!asApp) return; // PGlite's single user is a superuser: nothing to refuse
    const denied = [
      "insert into auth.api_keys (id, role, key_hash) values ('x', 'admin', repeat('0', 64))",
      'delete from audit.action_logs where false',
      'truncate audit.actions',
      'create table auth.sneaky (x int)',
    ];
    for (const statement of denied) {
      const outcome = await sql(statement).then(
        () => 'ran',
        (err: Error) => err.message,
      );
      expect(outcome, statement).toMatch(/permission denied/);
    }
  });
});
