import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Certificates,
  certificates,
  type PostgresTls,
  startPostgresTls,
} from '../../test/fakes/postgres-tls.ts';
import type { Settings } from '../env.ts';
import { withPostgres } from './postgres.ts';

const realPostgres = process.env.DATABASE_URL;

/** An ErrorResponse (FATAL, SQLSTATE `code`), as Postgres sends when it refuses a connection. */
function refusal(code: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C${code}\0Mrefused by the test\0\0`);
  const out = Buffer.alloc(5 + fields.length);
  out[0] = 0x45;
  out.writeInt32BE(4 + fields.length, 1);
  fields.copy(out, 5);
  return out;
}

// A Postgres that refuses the first `refusals` connections with `code`, then relays to the real one.
describe.skipIf(!realPostgres)('withPostgres against a Postgres that refuses connections', () => {
  const target = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');
  let server: Server;
  let refusals = 0;
  let code = '53300';
  let connections = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      if (refusals > 0) {
        refusals--;
        socket.once('data', () => socket.end(refusal(code)));
        return;
      }
      const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  const settings = (): Settings => {
    const port = (server.address() as { port: number }).port;
    const url = new URL(realPostgres!);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return { DATABASE_URL: url.toString() } as Settings;
  };
  const selectOne = (s: Settings) =>
    withPostgres(s, async (client) => (await client.query('select 1 as one')).rows[0].one as number);

  it('retries "too many clients" and succeeds once Postgres accepts again', async () => {
    refusals = 2;
    code = '53300';
    connections = 0;
    expect(await selectOne(settings())).toBe(1);
    expect(connections).toBe(3);
  });

  it('gives up after its retries with a 503 that names no host or user', async () => {
    refusals = 10;
    connections = 0;
    const err = (await selectOne(settings()).catch((e: unknown) => e)) as { status: number; message: string };
    expect(err.status).toBe(503);
    expect(err.message).toBe('Postgres is unreachable (too many clients).');
    expect(connections).toBe(4); // the first attempt and 3 retries
    refusals = 0;
  });

  it('does not retry a refusal that will not pass (authentication failed)', async () => {
    refusals = 1;
    code = '28P01';
    connections = 0;
    const err = (await selectOne(settings()).catch((e: unknown) => e)) as { status: number };
    expect(err.status).toBe(503);
    expect(connections).toBe(1);
  });
});

// What the callers were written against (node-postgres): the values, counts and errors they read.
describe.skipIf(!realPostgres)('withPostgres: values as pg gives them', () => {
  const settings = { DATABASE_URL: realPostgres } as Settings;

  it('reads int8 and numeric as strings, timestamps as Dates, json parsed, bool, bytea, arrays', async () => {
    const row = await withPostgres(settings, async (client) => {
      const { rows } = await client.query(
        `select 9007199254740993::int8 as i8, 2.50::numeric as n, 3::int4 as i4, 1.5::float8 as f8,
           '2026-12-01 10:00:00+00'::timestamptz as ts, '{"a":[1]}'::jsonb as j, '[1]'::json as js,
           true as b, '\\x0102'::bytea as by, '{a,"b c",NULL}'::text[] as ta, '{1,2}'::int4[] as ia,
           '{1,9007199254740993}'::int8[] as i8a, array['{"x":1}'::jsonb] as ja, '{t,f}'::bool[] as ba,
           '{{1,2},{3,4}}'::int[] as nested, '{}'::text[] as empty`,
      );
      return rows[0];
    });
    expect(row).toEqual({
      i8: '9007199254740993',
      n: '2.50',
      i4: 3,
      f8: 1.5,
      ts: new Date('2026-12-01T10:00:00Z'),
      j: { a: [1] },
      js: [1],
      b: true,
      by: Buffer.from([1, 2]),
      ta: ['a', 'b c', null],
      ia: [1, 2],
      i8a: ['1', '9007199254740993'],
      ja: [{ x: 1 }],
      ba: [true, false],
      nested: [
        [1, 2],
        [3, 4],
      ],
      empty: [],
    });
  });

  it('sends parameters as pg does: JSON text as it is, arrays, Dates, bytes, booleans, undefined as NULL', async () => {
    const odd = ['a', 'quote " and \\ backslash', null, 'comma, {brace}', '', 'NULL'];
    const row = await withPostgres(settings, async (client) => {
      const { rows } = await client.query(
        `select $1::jsonb as j, $2::jsonb as obj, $3::text[] as ta, $4::jsonb[] as ja, $5::timestamptz as ts,
           $6::bytea as by, $7::bool as b, $8::text as b_text, $9::int8[] as i8a, $10::text as missing,
           $11::int + 1 as n, cardinality($3::text[]) as len`,
        [
          JSON.stringify({ s: 'a string' }),
          { k: [1, 'two'] },
          odd,
          [JSON.stringify({ y: 2 }), '3'],
          new Date(0),
          Buffer.from([0, 255]),
          true,
          false,
          ['9007199254740993'],
          undefined,
          41,
        ],
      );
      return rows[0];
    });
    expect(row).toEqual({
      j: { s: 'a string' },
      obj: { k: [1, 'two'] },
      ta: odd,
      ja: [{ y: 2 }, 3],
      ts: new Date(0),
      by: Buffer.from([0, 255]),
      b: true,
      b_text: 'false',
      i8a: ['9007199254740993'],
      missing: null,
      n: 42,
      len: 6,
    });
  });

  it('counts rows like pg, answers a multi-statement text with its last result, and keeps SQLSTATE on errors', async () => {
    const out = await withPostgres(settings, async (client) => {
      const created = await client.query(
        'create temp table t (x int primary key); insert into t values (1), (2)',
      );
      const updated = await client.query('update t set x = x + 10');
      const begun = await client.query('begin');
      const dup = await client.query('insert into t values (11)').catch((e: unknown) => e);
      await client.query('rollback');
      // The connection is still usable after a failed statement.
      const after = await client.query<{ n: number }>('select count(*)::int as n from t');
      return { created: created.rowCount, updated: updated.rowCount, begun: begun.rowCount, dup, after };
    });
    expect(out.created).toBe(2);
    expect(out.updated).toBe(2);
    expect(out.begun).toBeNull();
    expect((out.dup as { code: string }).code).toBe('23505');
    expect(out.after.rows).toEqual([{ n: 2 }]);
  });

  it("a statement error is the caller's (not a 503), and the connection is closed after it", async () => {
    let pid = 0;
    const failed = await withPostgres(settings, async (client) => {
      pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
      await client.query('select 1/0');
    }).catch((e: unknown) => e);
    const err = failed as { code?: string; status?: number };
    expect(err.code).toBe('22012');
    expect(err.status).toBeUndefined();
    const alive = await withPostgres(settings, async (client) => {
      for (let i = 0; i < 50; i++) {
        const { rowCount } = await client.query('select 1 from pg_stat_activity where pid = $1', [pid]);
        if (!rowCount) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    });
    expect(alive).toBe(false);
  });
});

describe.skipIf(!realPostgres)('withPostgres: libpq-only TLS parameters in the URL', () => {
  const withQuery = (query: string) => {
    const url = new URL(realPostgres!);
    url.search = query;
    return { DATABASE_URL: url.toString() } as Settings;
  };
  const selectOne = (s: Settings) =>
    withPostgres(s, async (client) => (await client.query('select 1 as one')).rows[0].one as number);

  it('are not sent to Postgres as start-up parameters (it refuses those: "unrecognized configuration parameter")', async () => {
    expect(await selectOne(withQuery('sslmode=disable&sslrootcert=/no/such/root.crt&sslsni=1'))).toBe(1);
  });

  it('sslrootcert=system still means verify-full: no plain connection to a Postgres without TLS', async () => {
    const err = await selectOne(withQuery('sslrootcert=system')).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'database_unavailable' });
  });
});

describe.skipIf(!realPostgres)('withPostgres when the connection goes away', () => {
  const settings = { DATABASE_URL: realPostgres } as Settings;

  it('a backend terminated mid-request is a 503 database_unavailable, and no second connection is opened', async () => {
    const pids: number[] = [];
    const err = (await withPostgres(settings, async (client) => {
      pids.push((await client.query('select pg_backend_pid() as pid')).rows[0].pid);
      await withPostgres(settings, (admin) => admin.query('select pg_terminate_backend($1)', [pids[0]]));
      // Whatever the driver has seen of the close by now, this statement must not run elsewhere.
      pids.push((await client.query('select pg_backend_pid() as pid')).rows[0].pid);
      pids.push((await client.query('select pg_backend_pid() as pid')).rows[0].pid);
    }).catch((e: unknown) => e)) as { status: number; code: string; message: string };
    expect(err.status).toBe(503);
    expect(err.code).toBe('database_unavailable');
    expect(err.message).toBe('Postgres became unreachable during the request.');
    expect(pids).toHaveLength(1);
  });

  it('nothing listening is a 503 "Postgres is unreachable (connection refused)." naming no host, user or password', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const err = (await withPostgres(
      { DATABASE_URL: `postgres://someone:s3cret-pw@127.0.0.1:${port}/db` } as Settings,
      (client) => client.query('select 1'),
    ).catch((e: unknown) => e)) as { status: number; message: string };
    expect(err.status).toBe(503);
    expect(err.message).toBe('Postgres is unreachable (connection refused).');
    expect(err.message).not.toMatch(/someone|s3cret|127\.0\.0\.1/);
  });

  it('a server that accepts and never answers is a 503 after the connect timeout', async () => {
    // Reading (and dropping) what arrives, so the server sees the client's close.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const err = (await withPostgres(
        { DATABASE_URL: `postgres://x@127.0.0.1:${port}/db` } as Settings,
        (client) => client.query('select 1'),
        { connectTimeoutMs: 300 },
      ).catch((e: unknown) => e)) as { status: number };
      expect(err.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });
});

/**
 * This module as the deploy bundles carry it (postgres.js's workerd build, wrangler.toml's
 * [alias] in place of its replication, large-object and socket modules), loaded under Node, as
 * node/serve.mjs and the bench's node-bundle runtime load a deploy bundle.
 */
async function deployBuildUnderNode(): Promise<typeof import('./postgres.ts')> {
  const { build } = await import('esbuild');
  const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url).pathname, 'utf8');
  const section = /^\[alias\]\n((?:"[^"\n]+" = "[^"\n]+"\n)+)/m.exec(toml)?.[1] ?? '';
  const aliases = new Map([...section.matchAll(/"([^"]+)" = "([^"]+)"/g)].map((m) => [m[1]!, m[2]!]));
  expect([...aliases.keys()]).toContain('../polyfills.js');
  const root = new URL('../../', import.meta.url).pathname;
  const out = await build({
    entryPoints: [new URL('./postgres.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker'],
    external: ['cloudflare:sockets', 'node:*'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'wrangler-alias',
        setup(b) {
          b.onResolve({ filter: /\.js$/ }, (args) => {
            const to = aliases.get(args.path);
            return to ? { path: join(root, to) } : undefined;
          });
        },
      },
    ],
  });
  const code = out.outputFiles[0]!.text;
  expect(code).toContain('cloudflare:sockets');
  expect(code).toContain('own socket (net.Socket, tls.connect)'); // driver-unused/polyfills.ts
  const url = `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
  return (await import(/* @vite-ignore */ url)) as typeof import('./postgres.ts');
}

// The bench also serves the workerd bundle under Node (node-bundle): postgres.js's workerd build
// must load and connect there too, which it does only because cloudflare:sockets is imported
// when used (shared/db/workerd-socket.ts) and off workerd the socket is node:net's (node-socket.ts).
describe.skipIf(!realPostgres)('the workerd build of this module under Node', () => {
  it('loads and runs a statement', async () => {
    const bundled = await deployBuildUnderNode();
    const settings = { DATABASE_URL: realPostgres } as Settings;
    const rows = await bundled.withPostgres(
      settings,
      async (client) => (await client.query('select $1::text[] as a', [['x', 'y']])).rows,
    );
    expect(rows).toEqual([{ a: ['x', 'y'] }]);
  });
});

// TLS as libpq reads `sslmode` and `sslrootcert`, on Node: a TLS-terminating peer (its own CA and
// certificates) in front of the real Postgres, which itself speaks plain TCP here.
describe.skipIf(!realPostgres)('withPostgres over TLS on Node (node-socket.ts)', () => {
  const upstream = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');
  let certs: Certificates;
  let peer: PostgresTls;
  let otherHost: PostgresTls;
  let noTls: PostgresTls;
  let injecting: PostgresTls;
  let notTheCa: string;

  beforeAll(async () => {
    certs = certificates();
    const behind = { host: upstream.hostname, port: Number(upstream.port || 5432) };
    peer = await startPostgresTls({ upstream: behind, certificate: certs.localhost });
    otherHost = await startPostgresTls({ upstream: behind, certificate: certs.otherHost });
    noTls = await startPostgresTls({ upstream: behind, certificate: certs.localhost, answer: 'N' });
    injecting = await startPostgresTls({ upstream: behind, certificate: certs.localhost, answer: 'S+junk' });
    // A certificate that signed neither server's: as a root, it trusts nothing here.
    notTheCa = join(certs.dir, 'not-the-ca.crt');
    writeFileSync(notTheCa, certs.otherHost.cert);
  });

  afterAll(async () => {
    await Promise.all([peer, otherHost, noTls, injecting].map((p) => p?.close()));
    certs?.remove();
  });

  const through = (server: PostgresTls, query: string, host = '127.0.0.1') => {
    const url = new URL(realPostgres!);
    url.hostname = host;
    url.port = String(server.port);
    url.search = query;
    return { DATABASE_URL: url.toString() } as Settings;
  };
  const selectOne = (s: Settings) =>
    withPostgres(s, async (client) => (await client.query('select 1 as one')).rows[0].one as number);
  const failure = (s: Settings) =>
    selectOne(s).then(
      () => ({ status: 200, message: 'connected' }),
      (e: { status: number; message: string }) => ({ status: e.status, message: e.message }),
    );
  /** How many TLS sessions `server` completed while `fn` ran. */
  const tlsSessions = async (server: PostgresTls, fn: () => Promise<unknown>) => {
    const before = server.tlsConnections;
    await fn();
    return server.tlsConnections - before;
  };

  it('sslmode=require encrypts without verifying (a CA nobody trusts), as libpq does', async () => {
    expect(
      await tlsSessions(peer, async () => expect(await selectOne(through(peer, 'sslmode=require'))).toBe(1)),
    ).toBe(1);
  });

  it('verify-full refuses a certificate whose chain it cannot verify: a 503 naming the reason', async () => {
    const err = await failure(through(peer, 'sslmode=verify-full'));
    expect(err).toEqual({
      status: 503,
      message: 'Postgres is unreachable (certificate not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE).',
    });
    // sslrootcert=system is the same mode, the same roots.
    expect(await failure(through(peer, 'sslrootcert=system'))).toEqual(err);
  });

  it('verify-full with sslrootcert=<the CA file> connects, by address (IP SAN) and by name (DNS SAN)', async () => {
    const query = `sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.caFile)}`;
    expect(await selectOne(through(peer, query))).toBe(1);
    expect(await selectOne(through(peer, query, 'localhost'))).toBe(1);
  });

  it('verify-full checks the name, verify-ca only the chain', async () => {
    const root = `sslrootcert=${encodeURIComponent(certs.caFile)}`;
    expect(await failure(through(otherHost, `sslmode=verify-full&${root}`))).toEqual({
      status: 503,
      message: 'Postgres is unreachable (certificate does not name the host).',
    });
    expect(await selectOne(through(otherHost, `sslmode=verify-ca&${root}`))).toBe(1);
    expect((await failure(through(otherHost, `sslmode=verify-ca&sslrootcert=${notTheCa}`))).status).toBe(503);
  });

  it('require with an sslrootcert file that exists checks the chain (libpq: as verify-ca); one that does not, nothing', async () => {
    expect(await selectOne(through(otherHost, `sslmode=require&sslrootcert=${certs.caFile}`))).toBe(1);
    expect(await failure(through(peer, `sslmode=require&sslrootcert=${notTheCa}`))).toEqual({
      status: 503,
      message: 'Postgres is unreachable (certificate not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE).',
    });
    expect(await selectOne(through(peer, 'sslmode=require&sslrootcert=/no/such/root.crt'))).toBe(1);
    expect(await failure(through(peer, 'sslmode=verify-ca&sslrootcert=/no/such/root.crt'))).toEqual({
      status: 503,
      message: 'Postgres is unreachable (the sslrootcert file cannot be read).',
    });
  });

  it('a server without TLS: require refuses it, prefer goes on in the clear', async () => {
    expect(await failure(through(noTls, 'sslmode=require'))).toEqual({
      status: 503,
      message: 'Postgres is unreachable (the server offers no TLS).',
    });
    const connections = noTls.connections;
    expect(await selectOne(through(noTls, 'sslmode=prefer'))).toBe(1);
    expect(noTls.connections).toBe(connections + 1);
    expect(noTls.tlsConnections).toBe(0);
  });

  it('bytes after the SSLRequest answer, before the handshake, are refused (CVE-2021-23222)', async () => {
    const err = await selectOne(through(injecting, 'sslmode=require')).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'database_unavailable' });
    expect((err as { cause?: Error }).cause?.message).toBe('Unencrypted data after the SSL response.');
    expect(injecting.tlsConnections).toBe(0);
  });

  it('the plain path is unchanged: no sslmode, or disable, sends no SSLRequest', async () => {
    const connections = peer.connections;
    const sessions = await tlsSessions(peer, async () => {
      expect(await selectOne(through(peer, ''))).toBe(1);
      expect(await selectOne(through(peer, 'sslmode=disable'))).toBe(1);
    });
    expect(sessions).toBe(0);
    expect(peer.connections).toBe(connections + 2);
  });

  it('the deploy build under Node (its driver socket aliased away) connects with TLS the same way', async () => {
    const bundled = await deployBuildUnderNode();
    const one = (s: Settings) =>
      bundled.withPostgres(
        s,
        async (client) => (await client.query('select 1 as one')).rows[0].one as number,
      );
    expect(
      await tlsSessions(peer, async () => expect(await one(through(peer, 'sslmode=require'))).toBe(1)),
    ).toBe(1);
    expect(await one(through(peer, `sslmode=verify-full&sslrootcert=${certs.caFile}`))).toBe(1);
    const err = await one(through(peer, 'sslmode=verify-full')).catch((e: { message: string }) => e.message);
    expect(err).toBe('Postgres is unreachable (certificate not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE).');
  });

  it('a server that never answers the SSLRequest is a 503 after the connect timeout', async () => {
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const err = (await withPostgres(
        { DATABASE_URL: `postgres://x@127.0.0.1:${port}/db?sslmode=require` } as Settings,
        (client) => client.query('select 1'),
        { connectTimeoutMs: 300 },
      ).catch((e: unknown) => e)) as { status: number; message: string };
      expect(err).toMatchObject({ status: 503, message: 'Postgres is unreachable (connect timed out).' });
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });
});
