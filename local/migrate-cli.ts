/**
 * `npm run migrate` applies new files in migrations/. `npm run migrate -- --reset` (what
 * `make reset-db` runs) drops and re-applies everything, and refuses any non-local database.
 * With MAS_APP_PASSWORD set it then lets the application role `mas_app` log in with it.
 */
import { parseArgs } from 'node:util';
import { setAppRolePassword } from './app-role.ts';
import { loadDotEnv } from './dotenv.ts';
import { applyMigrations, MIGRATIONS_DIR, readMigrations, resolveLocalDatabase } from './local-database.ts';
import { dropMigratedSchemas } from './migrations.ts';
import { connectNodePostgres, isLocalHost, parseDatabaseUrl } from './node-postgres.ts';

loadDotEnv();
const { values } = parseArgs({ options: { reset: { type: 'boolean', default: false } } });

try {
  const database = await resolveLocalDatabase();
  const target = parseDatabaseUrl(database.databaseUrl);
  if (values.reset && !database.embedded && !isLocalHost(target.host)) {
    throw new Error(`refusing to reset ${target.host}: reset-db only touches a local database`);
  }
  const db = await connectNodePostgres(database.databaseUrl);
  try {
    if (values.reset) {
      await dropMigratedSchemas(db.client);
      console.log(`migrate: dropped schemas on ${target.host}:${target.port}/${target.database}`);
    }
    const applied = await applyMigrations(db.client, readMigrations(MIGRATIONS_DIR), (line) =>
      console.log(`migrate: ${line}`),
    );
    console.log(`migrate: ${applied.length ? `${applied.length} applied` : 'up to date'}`);
    if (process.env.MAS_APP_PASSWORD) {
      await setAppRolePassword(db.client, process.env.MAS_APP_PASSWORD);
      console.log('migrate: mas_app can log in with MAS_APP_PASSWORD');
    }
  } finally {
    await db.close();
    await database.close();
  }
} catch (err) {
  console.error(`migrate: ${(err as Error).message}`);
  process.exitCode = 1;
}
