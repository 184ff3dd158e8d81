import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { appRoleUrl, setAppRolePassword } from './app-role.ts';
import { applyMigrations, readMigrations } from './migrations.ts';
import { connectNodePostgres, parseDatabaseUrl } from './node-postgres.ts';
import { findPgBouncer, startPgBouncer } from './pgbouncer.ts';
import { startEmbeddedPostgres } from './pglite-server.ts';
import { startRedisServer } from './processes.ts';
import { findPushgateway, startPushgateway } from './pushgateway.ts';
import { startUpstashBridge } from './upstash-bridge.ts';

export type ServiceState = 'ok' | 'off';

export interface StackOptions {
  /** The environment to read DATABASE_URL, REDIS_URL, PUSHGATEWAY_URL... from. */
  env: NodeJS.ProcessEnv;
  /** Where embedded data lives; undefined keeps embedded Postgres in memory. */
  dataDir?: string;
  migrationsDir: string;
  /** Start embedded Postgres even if DATABASE_URL is set (the PGlite smoke test). */
  forceEmbeddedPostgres?: boolean;
  /** Skip spawning a pushgateway when PUSHGATEWAY_URL is unset. */
  noPushgateway?: boolean;
  /**
   * Also provide a Postgres with pgvector: the main one when it is embedded, else a second,
   * in-memory PGlite (the tests' pgvector path, where the machine's Postgres has no pgvector).
   */
  pgvectorDatabase?: boolean;
  /**
   * Connect the functions as the application role `mas_app` (given this password), not as the
   * owner that ran the migrations, so a missing grant fails. Real Postgres only: PGlite is
   * single-user and would not enforce it.
   */
  appRolePassword?: string;
  log?: (service: string, message: string) => void;
}

export interface Stack {
  /** Settings for the functions (what wrangler gets as vars). */
  settings: Record<string, string>;
  /** The owner's URL (migrations ran as it); `settings.DATABASE_URL` may be mas_app's. */
  databaseUrl: string;
  embeddedPostgres: boolean;
  /** Whether the functions connect as mas_app. */
  appRole: boolean;
  /** Whether the functions reach Postgres through a spawned PgBouncer (`settings.DATABASE_URL`). */
  pgbouncer: ServiceState;
  /** With `pgvectorDatabase`: a DATABASE_URL with pgvector, reachable like the main one. */
  pgvectorDatabaseUrl?: string;
  redis: ServiceState;
  pushgateway: ServiceState;
  stop(): Promise<void>;
}

/**
 * Brings up what the functions need, the way `npm start` and the integration tests both do:
 * Postgres (given or embedded; PgBouncer in front of a given one when installed), which the
 * functions reach over plain TCP, Redis behind an Upstash REST bridge (given, spawned, or off), a
 * Pushgateway (given, spawned, or off), and migrations.
 * Anything it started is stopped by `stop()`, in reverse order, also when a later step fails.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => undefined);
  const env = options.env;
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
    stops.length = 0;
  };
  const settings: Record<string, string> = {};
  try {
    // Postgres
    let databaseUrl = options.forceEmbeddedPostgres ? undefined : env.DATABASE_URL?.trim() || undefined;
    let embeddedPostgres = false;
    if (databaseUrl) {
      parseDatabaseUrl(databaseUrl);
    } else {
      const dataDir = options.dataDir ? join(options.dataDir, 'pglite') : undefined;
      const pg = await startEmbeddedPostgres({ dataDir });
      stops.push(pg.close);
      databaseUrl = pg.databaseUrl;
      embeddedPostgres = true;
    }
    const target = parseDatabaseUrl(databaseUrl);
    const where = `${target.host}:${target.port}/${target.database}`;
    const applied = await migrate(databaseUrl, options.migrationsDir);
    log(
      'postgres',
      `${embeddedPostgres ? 'embedded PGlite' : 'DATABASE_URL'} at ${where}${
        embeddedPostgres
          ? options.dataDir
            ? ` (data in ${join(options.dataDir, 'pglite')})`
            : ' (in memory)'
          : ''
      }; migrations: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}`,
    );
    settings.DATABASE_URL = databaseUrl;
    const appRole = Boolean(options.appRolePassword) && !embeddedPostgres;
    if (appRole) {
      const db = await connectNodePostgres(databaseUrl);
      try {
        await setAppRolePassword(db.client, options.appRolePassword!);
      } finally {
        await db.close();
      }
      settings.DATABASE_URL = appRoleUrl(databaseUrl, options.appRolePassword!);
      log('postgres', 'functions connect as mas_app (the application role)');
    }

    let pgvectorDatabaseUrl: string | undefined;
    if (options.pgvectorDatabase) {
      if (embeddedPostgres) pgvectorDatabaseUrl = databaseUrl;
      else {
        const pgv = await startEmbeddedPostgres({});
        stops.push(pgv.close);
        await migrate(pgv.databaseUrl, options.migrationsDir);
        pgvectorDatabaseUrl = pgv.databaseUrl;
        log('postgres', `embedded PGlite with pgvector at 127.0.0.1:${pgv.port} (in memory)`);
      }
    }

    // A Worker connects per request, and a plain Postgres starts a backend (~20 ms) for each:
    // PgBouncer keeps backends started, as Neon's pooler or Hyperdrive do in production. Not in
    // front of PGlite (one shared session, nothing to start) or Neon (pooled already).
    const neon = /\.neon\.(tech|build)$/.test(target.host);
    let pgbouncer: ServiceState = 'off';
    if (!embeddedPostgres && !neon) {
      const binary = env.MAS_PGBOUNCER === 'off' ? undefined : findPgBouncer();
      if (binary) {
        const url = new URL(settings.DATABASE_URL);
        const bouncer = await startPgBouncer({
          binary,
          server: target,
          user: {
            name: decodeURIComponent(url.username),
            password: url.password ? decodeURIComponent(url.password) : undefined,
          },
        });
        stops.push(bouncer.stop);
        settings.DATABASE_URL = bouncer.urlFor(settings.DATABASE_URL);
        pgbouncer = 'ok';
        log('pgbouncer', `transaction pooling on 127.0.0.1:${bouncer.port} in front of ${where}`);
      } else {
        log(
          'pgbouncer',
          env.MAS_PGBOUNCER === 'off'
            ? 'off (MAS_PGBOUNCER=off): a new Postgres backend per request'
            : 'off (apt-get install pgbouncer): a new Postgres backend per request',
        );
      }
    }

    // Redis, reached by the functions over Upstash's REST protocol.
    let redis: ServiceState = 'off';
    if (env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN) {
      settings.UPSTASH_REDIS_REST_URL = env.UPSTASH_REDIS_REST_URL;
      settings.UPSTASH_REDIS_REST_TOKEN = env.UPSTASH_REDIS_REST_TOKEN;
      redis = 'ok';
      log('redis', `Upstash REST at ${env.UPSTASH_REDIS_REST_URL}`);
    } else {
      let redisUrl = env.REDIS_URL?.trim() || undefined;
      let origin = 'REDIS_URL';
      if (!redisUrl) {
        const server = await startRedisServer();
        if (server) {
          stops.push(server.stop);
          redisUrl = server.url;
          origin = 'redis-server';
        }
      }
      if (redisUrl) {
        const token = randomBytes(24).toString('base64url');
        const bridge = await startUpstashBridge({ redisUrl, token, port: 0 });
        stops.push(bridge.close);
        settings.UPSTASH_REDIS_REST_URL = bridge.url;
        settings.UPSTASH_REDIS_REST_TOKEN = token;
        redis = 'ok';
        log('redis', `${origin} ${redactUrl(redisUrl)}, Upstash REST bridge on ${bridge.url}`);
      } else {
        log('redis', 'off (set REDIS_URL or install redis-server); rate limits are per isolate');
      }
    }

    // Pushgateway
    let pushgateway: ServiceState = 'off';
    if (env.PUSHGATEWAY_URL) {
      settings.PUSHGATEWAY_URL = env.PUSHGATEWAY_URL;
      pushgateway = 'ok';
      log('pushgateway', `PUSHGATEWAY_URL ${env.PUSHGATEWAY_URL}`);
    } else if (!options.noPushgateway) {
      const binary = findPushgateway();
      if (binary) {
        const gateway = await startPushgateway(binary);
        stops.push(gateway.stop);
        settings.PUSHGATEWAY_URL = gateway.url;
        pushgateway = 'ok';
        log('pushgateway', `prometheus-pushgateway on ${gateway.url}`);
      } else {
        log('pushgateway', 'off (set PUSHGATEWAY_URL or apt-get install prometheus-pushgateway)');
      }
    }

    return {
      settings,
      databaseUrl,
      embeddedPostgres,
      appRole,
      pgbouncer,
      pgvectorDatabaseUrl,
      redis,
      pushgateway,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function migrate(databaseUrl: string, migrationsDir: string): Promise<string[]> {
  const db = await connectNodePostgres(databaseUrl);
  try {
    return await applyMigrations(db.client, readMigrations(migrationsDir));
  } finally {
    await db.close();
  }
}

/** A URL fit for a terminal line: no password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
