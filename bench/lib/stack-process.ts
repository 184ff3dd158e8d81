/**
 * The local stack (local/stack.ts, exactly what `npm start` uses) in its own process: Postgres
 * (DATABASE_URL, else embedded PGlite, which then answers every audit write from this process),
 * PgBouncer, Redis behind the Upstash REST bridge. Its event loop carries every rate-limit call,
 * so it must not share the load generator's. Prints `{"settings": {...}, "databaseUrl": ..., ...}` once up; SIGTERM stops it.
 * No Pushgateway: metrics pushes would add a background request per request to every number.
 */
import { startStack } from '../../local/stack.ts';

const stack = await startStack({
  env: process.env,
  migrationsDir: 'migrations',
  noPushgateway: true,
  log: (service, message) => process.stderr.write(`[stack] ${service} ${message}\n`),
});
process.stdout.write(
  `${JSON.stringify({
    settings: stack.settings,
    databaseUrl: stack.databaseUrl,
    embeddedPostgres: stack.embeddedPostgres,
    redis: stack.redis,
  })}\n`,
);
const stop = () => void stack.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
