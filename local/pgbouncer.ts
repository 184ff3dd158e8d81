import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, tcpAnswers } from './ports.ts';
import { findBinary, startProcess } from './processes.ts';

export interface PgBouncer {
  port: number;
  /** `databaseUrl` (same user, password and database) pointed at PgBouncer instead of Postgres. */
  urlFor(databaseUrl: string): string;
  stop(): Promise<void>;
}

export function findPgBouncer(): string | undefined {
  return findBinary('pgbouncer');
}

/**
 * Spawns PgBouncer in transaction mode in front of one Postgres server, on a free loopback port,
 * the local stand-in for Neon's pooler / Hyperdrive: a Worker opens a connection per request, and
 * PgBouncer hands it an already started backend instead of a new one (~20 ms each on a plain
 * Postgres). Its ini and auth file live in a private temp directory, removed at stop.
 *
 * Transaction mode is safe for what the functions send: Neon's driver (node-postgres inside)
 * uses only the unnamed prepared statement (Parse "" / Bind / Execute / Sync in one round), and
 * the functions set nothing at session level (only `SET LOCAL`, transaction advisory locks).
 * Named prepared statements would need PgBouncer >= 1.21 (`max_prepared_statements`).
 *
 * Authentication mirrors the URL the functions use: with a password, clients must send it (md5)
 * and PgBouncer logs into Postgres with it; without one, trust, as the server itself must be.
 */
export async function startPgBouncer(options: {
  binary: string;
  /** The Postgres server behind it. */
  server: { host: string; port: number };
  /** The one role clients connect as (the functions' DATABASE_URL user). */
  user: { name: string; password?: string };
  /** Server connections per (database, user); more clients wait their turn. */
  poolSize?: number;
}): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'mas-pgbouncer-'));
  try {
    const port = await freePort();
    const authFile = join(dir, 'users.txt');
    // userlist.txt format: "name" "password", a `"` inside doubled. Plain text is what lets
    // PgBouncer answer any server challenge (md5 or SCRAM) with the same password.
    const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
    writeFileSync(authFile, `${quote(options.user.name)} ${quote(options.user.password ?? '')}\n`, {
      mode: 0o600,
    });
    const ini = join(dir, 'pgbouncer.ini');
    writeFileSync(
      ini,
      [
        '[databases]',
        // Any database name, on the one server: `dbname` defaults to the client's.
        `* = host=${options.server.host} port=${options.server.port}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        // No Unix socket: concurrent stacks would collide on /tmp/.s.PGSQL.<port>.
        'unix_socket_dir =',
        `auth_type = ${options.user.password ? 'md5' : 'trust'}`,
        `auth_file = ${authFile}`,
        'pool_mode = transaction',
        `default_pool_size = ${options.poolSize ?? 20}`,
        'max_client_conn = 1000',
        // A connection per request: logging each would flood the output for nothing.
        'log_connections = 0',
        'log_disconnections = 0',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    // PgBouncer refuses to run as root; it reads both files before dropping to `nobody`.
    const asRoot = process.getuid?.() === 0;
    const proc = await startProcess({
      name: 'pgbouncer',
      command: options.binary,
      args: [...(asRoot ? ['-u', 'nobody'] : []), ini],
      ready: () => tcpAnswers(port),
    });
    return {
      port,
      urlFor: (databaseUrl) => {
        const url = new URL(databaseUrl);
        url.hostname = '127.0.0.1';
        url.port = String(port);
        return url.toString();
      },
      stop: async () => {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
