import { Client, neonConfig } from '@neondatabase/serverless';
import type { Settings } from '../env.ts';
import { serviceUnavailable } from '../errors/index.ts';

export type { Client } from '@neondatabase/serverless';

let configuredProxy: string | undefined;

/**
 * Points Neon's driver at a local WebSocket proxy (`NEON_WS_PROXY=127.0.0.1:5488/v1`) in front
 * of a plain Postgres. Without it the driver talks to Neon itself over TLS, as in production.
 */
function configureNeon(settings: Settings): void {
  const proxy = settings.NEON_WS_PROXY;
  if (!proxy || proxy === configuredProxy) return;
  neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
  // The local proxy speaks plain ws:// and Postgres without TLS.
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  configuredProxy = proxy;
}

export interface WithClientOptions {
  /** Connection attempt deadline; the driver has none of its own. */
  connectTimeoutMs?: number;
}

/**
 * Runs `fn` on a fresh connection and always closes it. Workers cannot share sockets across
 * requests, so a connection lives for one unit of work. A connection failure becomes a 503
 * whose message names no host, user or password.
 */
export async function withPostgres<T>(
  settings: Settings,
  fn: (client: Client) => Promise<T>,
  options: WithClientOptions = {},
): Promise<T> {
  if (!settings.DATABASE_URL) throw serviceUnavailable('Postgres is not configured (DATABASE_URL).');
  configureNeon(settings);
  const client = new Client({
    connectionString: settings.DATABASE_URL,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
  });
  // An error event on an idle client would otherwise be an unhandled rejection.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw serviceUnavailable('Postgres is unreachable.', 'database_unavailable', err);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
