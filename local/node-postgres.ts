import { type Client, openPostgres } from '../shared/db/postgres.ts';

export interface NodePostgres {
  client: Client;
  close(): Promise<void>;
}

/**
 * A Postgres connection for local tooling (migrations, keys, the ledger CLI) through the same
 * driver and the same pg-compatible client the functions use (shared/db/postgres.ts), checked
 * with a first statement so a wrong DATABASE_URL fails here, with the host named (never the
 * password).
 */
export async function connectNodePostgres(databaseUrl: string): Promise<NodePostgres> {
  const target = parseDatabaseUrl(databaseUrl);
  const connection = await openPostgres(databaseUrl);
  try {
    await connection.client.query('select 1');
  } catch (err) {
    await connection.end();
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error) : (err as Error);
    throw new Error(
      `cannot connect to Postgres at ${target.host}:${target.port} (${cause.message || (cause as { code?: string }).code || 'connection failed'}); is it running, and is DATABASE_URL right?`,
    );
  }
  return { client: connection.client, close: connection.end };
}

export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
}

/** Validates DATABASE_URL's shape, with a message that shows no password. */
export function parseDatabaseUrl(databaseUrl: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('DATABASE_URL is not a URL; expected postgres://user:password@host:5432/dbname');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(
      `DATABASE_URL has scheme '${url.protocol}'; expected postgres://user:password@host:5432/dbname`,
    );
  }
  if (!url.hostname)
    throw new Error('DATABASE_URL has no host; expected postgres://user:password@host:5432/dbname');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 5432),
    database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
  };
}

export function isLocalHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
