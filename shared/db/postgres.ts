import { Client, neonConfig } from '@neondatabase/serverless';
import type { Settings } from '../env.ts';
import { AppError, serviceUnavailable } from '../errors/index.ts';

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
  let lost = false;
  client.on('error', () => {
    lost = true;
  });
  client.on('end', () => {
    lost = true;
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw serviceUnavailable('Postgres is unreachable.', 'database_unavailable', err);
  }
  try {
    return await fn(client);
  } catch (err) {
    // Postgres going away mid-request is a dependency failure (503, retryable), not our bug.
    if (!(err instanceof AppError) && (lost || isConnectionError(err))) {
      throw serviceUnavailable(
        'Postgres became unreachable during the request.',
        'database_unavailable',
        err,
      );
    }
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** SQLSTATE class 08 (connection exception) and 57P0x (server shutting down, restarting). */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('08') || /^57P0[1-3]$/.test(code));
}
