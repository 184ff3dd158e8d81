import type { Client } from '@neondatabase/serverless';
import type { Settings } from '../env.ts';
import { AppError, serviceUnavailable } from '../errors/index.ts';
import { backoffDelay, sleep } from '../resilience/backoff.ts';

export type { Client } from '@neondatabase/serverless';

let configuredProxy: string | undefined;

type Driver = typeof import('@neondatabase/serverless');
let driver: Promise<Driver> | undefined;
/**
 * The driver (~145 KiB, with module-level set-up of its own) loads on the first connection, not
 * at start: an isolate, or a Node process, that has not touched Postgres yet has not paid for it.
 */
const loadDriver = () => (driver ??= import('@neondatabase/serverless'));

/**
 * Points Neon's driver at a local WebSocket proxy (`NEON_WS_PROXY=127.0.0.1:5488/v1`) in front
 * of a plain Postgres. Without it the driver talks to Neon itself over TLS, as in production.
 */
function configureNeon({ neonConfig }: Driver, settings: Settings): void {
  const proxy = settings.NEON_WS_PROXY;
  if (!proxy || proxy === configuredProxy) return;
  neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
  // The local proxy speaks plain ws:// and Postgres without TLS.
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  // Coalescing writes into one WebSocket frame waits for a timer (~1 ms per query under Node and
  // Deno); on loopback the extra frames cost nothing.
  neonConfig.coalesceWrites = false;
  configuredProxy = proxy;
}

export interface WithClientOptions {
  /** Connection attempt deadline; the driver has none of its own. */
  connectTimeoutMs?: number;
  /** Retries when Postgres refuses a connection it may accept a moment later (default 3). */
  connectRetries?: number;
}

/**
 * Postgres refused the connection before any statement ran, for a reason that passes: too many
 * clients (53300), starting up (57P03). Retrying is safe: nothing was sent.
 */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '53300' || code === '57P03';
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
  const neon = await loadDriver();
  configureNeon(neon, settings);
  const { client, lost } = await connect(neon, settings.DATABASE_URL, options);
  try {
    return await fn(client);
  } catch (err) {
    // Postgres going away mid-request is a dependency failure (503, retryable), not our bug.
    if (!(err instanceof AppError) && (lost() || isConnectionError(err))) {
      throw serviceUnavailable(
        'Postgres became unreachable during the request.',
        'database_unavailable',
        err,
      );
    }
    throw err;
  } finally {
    await endQuietly(client);
  }
}

/** A connected client, retrying only refusals that pass (nothing has been sent yet). */
async function connect(
  { Client }: Driver,
  connectionString: string,
  options: WithClientOptions,
): Promise<{ client: Client; lost: () => boolean }> {
  const retries = options.connectRetries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const client = new Client({
      connectionString,
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
      return { client, lost: () => lost };
    } catch (err) {
      await endQuietly(client);
      if (attempt >= retries || !isBusy(err)) {
        throw serviceUnavailable('Postgres is unreachable.', 'database_unavailable', err);
      }
      // Full jitter up to 50, 100, 200 ms: a burst of refused clients does not come back at once.
      await sleep(backoffDelay({ base_ms: 50, max_ms: 200 }, attempt));
    }
  }
}

/**
 * Closes a client whatever state its socket is in. `end()` writes Terminate synchronously, so on a
 * WebSocket that is already closed it throws before returning a promise (`.catch` never sees it).
 */
async function endQuietly(client: Client): Promise<void> {
  try {
    await client.end();
  } catch {
    // already gone
  }
}

/**
 * SQLSTATE class 08 (connection exception) and 57P0x (server shutting down, restarting), and the
 * driver's own errors for a socket that is already gone (a write on a closed WebSocket throws
 * before any 'end' event has told us).
 */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || /^57P0[1-3]$/.test(code))) return true;
  const message = err instanceof Error ? err.message : '';
  return /after close\(\)|Connection terminated|not queryable|socket (hang up|closed)/i.test(message);
}
