import type postgres from 'postgres';
import type { Options, Sql } from 'postgres';
import type { Settings } from '../env.ts';
import { AppError, serviceUnavailable } from '../errors/index.ts';
import { backoffDelay, sleep } from '../resilience/backoff.ts';
import { PG_TYPES, toPgText } from './pg-values.ts';
import type { TlsMode, TlsSettings } from './tls.ts';

/** What a query answers, as node-postgres shapes it (the callers were written against pg). */
export interface QueryResult<R> {
  rows: R[];
  /** Rows returned or affected; null for commands that count nothing (BEGIN, CREATE...). */
  rowCount: number | null;
}

/** One connection's statements, pg-style: `$1`-numbered text and an array of values. */
export interface Client {
  // biome-ignore lint/suspicious/noExplicitAny: rows are typed by the caller, as with pg.
  query<R extends Record<string, any> = any>(
    text: string,
    values?: readonly unknown[],
  ): Promise<QueryResult<R>>;
}

type Driver = typeof postgres;
type SocketFactory = (options: { host: string[]; port: number[] }) => unknown;
interface Transport {
  driver: Driver;
  /** How each connection gets its socket: always ours, and the TLS negotiation with it. */
  socket: (tls: TlsSettings) => SocketFactory;
}
let transport: Promise<Transport> | undefined;
/**
 * postgres.js loads on the first connection, not at start: an isolate, or a Node process, that
 * has not touched Postgres yet has not paid for it. Bundles for workerd carry its `workerd` build,
 * Node and Deno load its Node build (package.json `exports` conditions); neither builds a socket
 * or negotiates TLS of its own (`ssl: false`), so the workerd bundle also connects, with TLS,
 * when it runs under Node (node/serve.mjs).
 */
const loadTransport = () =>
  (transport ??= (async () => {
    const driver = (await import('postgres')).default as Driver;
    if (
      (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers'
    ) {
      const { workerdSocket } = await import('./workerd-socket.ts');
      return { driver, socket: workerdSocket };
    }
    // Node and Deno: node:net, and node:tls over it (node-socket.ts).
    const [net, tls, { readFile }, { nodeSockets }] = await Promise.all([
      import('node:net'),
      import('node:tls'),
      import('node:fs/promises'),
      import('./node-socket.ts'),
    ]);
    return { driver, socket: nodeSockets({ net, tls, readFile }) };
  })());

export interface WithClientOptions {
  /** Connection attempt deadline (default 5 s). */
  connectTimeoutMs?: number;
  /** Retries when Postgres refuses a connection it may accept a moment later (default 3). */
  connectRetries?: number;
}

/**
 * Postgres refused the connection before any statement ran, for a reason that passes: too many
 * clients (53300), starting up (57P03). Both only ever come during start-up, before the driver
 * sends a statement, so retrying is safe: nothing was sent.
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
  const connection = await openPostgres(settings.DATABASE_URL, options);
  try {
    return await fn(connection.client);
  } catch (err) {
    // Postgres going away mid-request is a dependency failure (503, retryable), not our bug.
    // (A connection that never opened is a 503 already, from the first statement.)
    if (!(err instanceof AppError) && isConnectionError(err)) {
      throw serviceUnavailable(
        'Postgres became unreachable during the request.',
        'database_unavailable',
        err,
      );
    }
    throw err;
  } finally {
    await connection.end();
  }
}

export interface PostgresConnection {
  client: Client;
  /** Closes the connection whatever state it is in; never throws. */
  end(): Promise<void>;
}

/**
 * One connection (postgres.js with `max: 1`), opened by its first statement: no round trip of
 * its own. Statements run one after another, as pg runs them; a refusal that passes (53300,
 * 57P03) is retried with backoff on a fresh connection before the first statement is sent. Once
 * the socket has closed, statements fail (a connection error, so a 503) instead of silently
 * opening a second connection midway through a transaction.
 */
export async function openPostgres(
  url: string,
  options: WithClientOptions = {},
): Promise<PostgresConnection> {
  const { driver, socket } = await loadTransport();
  const { target, tls } = connectionTarget(url);
  const socketFactory = socket(tls);
  const retries = options.connectRetries ?? 3;
  const connectTimeout = (options.connectTimeoutMs ?? 5000) / 1000;
  let sql: Sql;
  let closed = false;
  const open = () => {
    closed = false;
    sql = driver(target, {
      ...DRIVER_OPTIONS,
      connect_timeout: connectTimeout,
      // The socket is ours, and so is the TLS negotiation (workerd-socket.ts, node-socket.ts).
      socket: socketFactory,
      ssl: false,
      onclose: () => {
        closed = true;
      },
    } as unknown as Options<Record<string, never>>);
  };
  open();

  const run = (text: string, params: (string | null)[]) => {
    if (closed) return Promise.reject(connectionClosed());
    return sql.unsafe(text, params).then(toQueryResult);
  };
  /**
   * The first statement opens the connection; after a refusal that passes it is sent again on a
   * fresh connection. A connection that cannot be opened is a 503 naming no host or user.
   */
  const first = async (text: string, params: (string | null)[]) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(text, params);
      } catch (err) {
        if (!isStartupFailure(err)) throw err;
        if (attempt >= retries || !isBusy(err)) {
          throw serviceUnavailable(unreachable(err), 'database_unavailable', err);
        }
        await endQuietly(sql);
        // Full jitter up to 50, 100, 200 ms: a burst of refused clients does not come back at once.
        await sleep(backoffDelay({ base_ms: 50, max_ms: 200 }, attempt));
        open();
      }
    }
  };

  // One statement at a time, as pg runs them; the first also opens the connection.
  let tail: Promise<unknown> | undefined;
  const client: Client = {
    query<R>(text: string, values: readonly unknown[] = []) {
      const params = values.map(toPgText);
      const next = (tail ? tail.then(() => run(text, params)) : first(text, params)) as Promise<
        QueryResult<R>
      >;
      tail = next.catch(() => undefined);
      return next;
    },
  };
  // A socket already closed has nothing to end (and the driver would wait out the timeout for a
  // statement that failed with it).
  return { client, end: () => (closed ? Promise.resolve() : endQuietly(sql)) };
}

/**
 * Why a connection did not open, in words that name no host, port, user or database: the driver's
 * and the server's own messages name them ("connect ECONNREFUSED 10.0.0.5:5432", "password
 * authentication failed for user ..."), and this message reaches callers and /ready; the cause,
 * for the log, keeps them.
 */
const STARTUP_REASONS: Record<string, string> = {
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
  '3D000': 'no such database',
  '53300': 'too many clients',
  '57P03': 'starting up',
  ECONNREFUSED: 'connection refused',
  CONNECT_TIMEOUT: 'connect timed out',
  ETIMEDOUT: 'connect timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  TLS_REFUSED: 'the server offers no TLS',
  TLS_ROOT_CERT: 'the sslrootcert file cannot be read',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name the host',
};

/** node:tls's other verification failures, by OpenSSL's names (workerd's carry no code). */
const CERTIFICATE_REFUSED = /CERT|UNABLE_TO_(GET|VERIFY)/;

function unreachable(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'Postgres is unreachable.';
  // OpenSSL's name, not its message: the code names no host.
  const reason =
    STARTUP_REASONS[code] ?? (CERTIFICATE_REFUSED.test(code) && `certificate not accepted: ${code}`);
  return reason ? `Postgres is unreachable (${reason}).` : 'Postgres is unreachable.';
}

function connectionClosed(): Error {
  return Object.assign(new Error('The connection to Postgres is closed.'), { code: 'CONNECTION_CLOSED' });
}

/** The driver's own errors for a statement it would not send (the caller's mistake, not the connection's). */
const STATEMENT_CODES = new Set(['UNDEFINED_VALUE', 'MAX_PARAMETERS_EXCEEDED']);

/**
 * How the first statement fails when the connection does not open: anything but an ERROR for the
 * statement itself (a FATAL start-up refusal, a socket or TLS error, the connect timeout).
 */
function isStartupFailure(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  if (e?.severity === 'ERROR') return false;
  return !(typeof e?.code === 'string' && STATEMENT_CODES.has(e.code));
}

/** What every connection is opened with (the timeout and the close hook are per connection). */
const DRIVER_OPTIONS = {
  max: 1,
  // PgBouncer in transaction mode, Hyperdrive, and one statement each: named statements gain nothing.
  prepare: false,
  // The array types it would look up in pg_type (a round trip per connection) are in PG_TYPES.
  fetch_types: false,
  types: PG_TYPES,
  // undefined parameters are NULL, as in pg (toPgText already does it; this covers the driver's own checks).
  transform: { undefined: null },
  // No timers per connection: it lives for one unit of work.
  idle_timeout: 0,
  max_lifetime: 0,
  keep_alive: 0,
  // The driver would print NOTICEs (e.g. "already exists, skipping"); pg drops them too.
  onnotice: () => undefined,
  // No `no_subscribe`: 3.4.9's option parsing drops it, so each instance builds its (idle)
  // logical-replication client anyway; the deployed bundles swap that for one that builds nothing
  // (wrangler.toml's alias, shared/db/driver-unused/subscribe.ts).
};

/** A result row array, or several for a multi-statement text (pg answers those with an array too). */
function toQueryResult<R>(result: unknown): QueryResult<R> {
  const rows = result as R[] & { count: number | null };
  const last = Array.isArray(rows[0]) && 'count' in (rows[0] as object) ? (rows.at(-1) as typeof rows) : rows;
  return { rows: last, rowCount: last.count };
}

/**
 * Connection-string parameters libpq reads and Postgres does not: postgres.js would send each as
 * a start-up parameter, which the server refuses ("unrecognized configuration parameter").
 * Neon's strings carry `channel_binding=require`; hosted providers' verify-full strings carry
 * `sslrootcert` (`=system`: verify-full against the system's roots; a file: its roots, read on
 * Node and Deno, see node-socket.ts). `sslmode` is read here (tlsMode) and dropped by the driver.
 */
const LIBPQ_ONLY = [
  'channel_binding',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcrl',
  'sslcompression',
  'sslrootcert',
  'sslsni',
  'sslcertmode',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'gssencmode',
  'krbsrvname',
  'requiressl',
];

/** An isolate has one DATABASE_URL: it is read once, not per connection (per request). */
let lastTarget: { url: string; target: string; tls: TlsSettings } | undefined;
function connectionTarget(url: string): { target: string; tls: TlsSettings } {
  if (lastTarget?.url !== url) {
    const target = libpqFree(url);
    const rootCert = url.includes('sslrootcert=') ? new URL(url).searchParams.get('sslrootcert') : null;
    const tls: TlsSettings = { mode: tlsMode(target) };
    if (rootCert && rootCert !== 'system') tls.rootCert = rootCert;
    lastTarget = { url, target, tls };
  }
  return lastTarget;
}

function libpqFree(url: string): string {
  if (!url.includes('?')) return url;
  const parsed = new URL(url);
  let changed = false;
  // What `sslrootcert=system` means (libpq, the driver) must outlive the parameter's removal.
  if (parsed.searchParams.get('sslrootcert') === 'system' && !parsed.searchParams.has('sslmode')) {
    parsed.searchParams.set('sslmode', 'verify-full');
  }
  for (const key of LIBPQ_ONLY) {
    if (parsed.searchParams.has(key)) {
      parsed.searchParams.delete(key);
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

/**
 * `sslmode` as libpq reads it, of a URL libpqFree has seen (which turned `sslrootcert=system` into
 * `sslmode=verify-full`); absent is plain TCP, as the driver reads it (Neon's and other hosted
 * strings say `sslmode=require`; a local Postgres or Hyperdrive's string says nothing). A value
 * libpq does not know is `require`: TLS, verified only as the runtime always does.
 */
function tlsMode(url: string): TlsMode {
  const query = url.indexOf('?');
  if (query < 0) return 'off';
  const mode = new URLSearchParams(url.slice(query + 1)).get('sslmode') ?? 'disable';
  if (mode === 'disable') return 'off';
  if (mode === 'allow' || mode === 'prefer') return 'prefer';
  return mode === 'verify-ca' || mode === 'verify-full' ? mode : 'require';
}

/** Terminate, and after a second the socket is dropped whatever it is waiting for. */
async function endQuietly(sql: Sql): Promise<void> {
  try {
    await sql.end({ timeout: 1 });
  } catch {
    // already gone
  }
}

/** Node's and workerd's socket errors: the connection was refused, reset or dropped. */
const SOCKET_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * A failure of the connection rather than of a statement: SQLSTATE class 08 (connection
 * exception), 57P0x (server shutting down, restarting), any FATAL (start-up refused: too many
 * clients, authentication, no such database), the driver's codes for a socket that closed or
 * timed out, and workerd's socket errors, which carry no code.
 */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  const code = e?.code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || /^57P0[1-3]$/.test(code) || SOCKET_CODES.has(code)) return true;
  }
  if (e?.severity === 'FATAL' || e?.severity === 'PANIC') return true;
  const message = err instanceof Error ? err.message : '';
  return /network connection lost|connection (closed|reset|refused|lost)|socket (hang up|closed)|proxy request failed|stream was cancelled/i.test(
    message,
  );
}
