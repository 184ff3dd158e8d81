import { Client, neonConfig } from '@neondatabase/serverless';
import { startNeonWsProxy } from './neon-ws-proxy.ts';

export interface NodePostgres {
  client: Client;
  close(): Promise<void>;
}

/**
 * A Postgres connection for local tooling (migrations, keys) through the same Neon driver the
 * functions use, by way of a private WebSocket proxy that only reaches this one server.
 */
export async function connectNodePostgres(databaseUrl: string): Promise<NodePostgres> {
  const target = parseDatabaseUrl(databaseUrl);
  const proxy = await startNeonWsProxy({ port: 0, allowedTargets: [`${target.host}:${target.port}`] });
  neonConfig.wsProxy = (host, port) => `${proxy.url}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await proxy.close();
    throw new Error(
      `cannot connect to Postgres at ${target.host}:${target.port} (${(err as Error).message || 'connection failed'}); is it running, and is DATABASE_URL right?`,
    );
  }
  return {
    client,
    close: async () => {
      await client.end().catch(() => undefined);
      await proxy.close();
    },
  };
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
