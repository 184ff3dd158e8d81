import { Client, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NeonWsProxy, startNeonWsProxy } from './neon-ws-proxy.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './pglite-server.ts';

/** Neon's driver through `proxy`, in plain ws:// and without TLS, as shared/db/postgres.ts does. */
function pointNeonAt(proxy: NeonWsProxy): void {
  neonConfig.wsProxy = (host, port) => `${proxy.url}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

describe('Neon WebSocket proxy', () => {
  let pg: EmbeddedPostgres;
  let proxy: NeonWsProxy;

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({});
    proxy = await startNeonWsProxy({ port: 0, allowedTargets: [`127.0.0.1:${pg.port}`] });
    pointNeonAt(proxy);
  });

  afterAll(async () => {
    await proxy?.close();
    await pg?.close();
  });

  it('carries the driver to Postgres: simple, parameterised and multi-statement queries', async () => {
    const client = new Client(pg.databaseUrl);
    await client.connect();
    try {
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect((await client.query('select $1::text || $2::text as s', ['a', 'b'])).rows).toEqual([
        { s: 'ab' },
      ]);
      await client.query('create temp table t (x int); insert into t values (1), (2);');
      expect((await client.query('select count(*)::int as n from t')).rows).toEqual([{ n: 2 }]);
    } finally {
      await client.end();
    }
  });

  it('closes after Terminate, so connections open and close one after another', async () => {
    for (let i = 0; i < 5; i++) {
      const client = new Client(pg.databaseUrl);
      await client.connect();
      expect((await client.query('select $1::int as i', [i])).rows[0].i).toBe(i);
      await client.end();
    }
  });

  it('refuses targets it was not given (never an open relay)', async () => {
    const res = await fetch(`http://${proxy.url}?address=127.0.0.1:22`, {
      headers: {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      },
    }).catch((err: Error) => err);
    expect(res instanceof Response ? res.status : 0).not.toBe(101);
  });
});

// Pooling needs a server with real backends (PGlite has one): the machine's Postgres in CI.
const realPostgres = process.env.DATABASE_URL;
describe.skipIf(!realPostgres)('Neon WebSocket proxy with pooling (real Postgres)', () => {
  let proxy: NeonWsProxy;
  const url = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');

  beforeAll(async () => {
    proxy = await startNeonWsProxy({
      port: 0,
      allowedTargets: [`${url.hostname}:${url.port || 5432}`],
      pool: true,
    });
    pointNeonAt(proxy);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  async function session<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client(realPostgres);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }
  // The pid the backend reports must match the BackendKeyData the session was greeted with
  // (replayed by the pool), or cancel requests would go to the wrong backend.
  const pid = async (client: Client) => {
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    expect((client as unknown as { processID: number }).processID).toBe(pid);
    return pid;
  };
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it('hands an idle backend to the next session, reset by DISCARD ALL', async () => {
    const first = await session(async (c) => {
      await c.query("set application_name = 'leaky'");
      await c.query('create temp table pooled_t (x int)');
      return pid(c);
    });
    await settle();
    const second = await session(async (c) => ({
      pid: await pid(c),
      app: (await c.query('show application_name')).rows[0].application_name,
      temp: (await c.query("select to_regclass('pg_temp.pooled_t') as t")).rows[0].t,
      one: (await c.query('select $1::int as v', [7])).rows[0].v,
    }));
    expect(second.pid).toBe(first);
    await settle();
    // Reused again: the greeting travels with the backend from session to session.
    expect(await session(pid)).toBe(first);
    expect(second.app).not.toBe('leaky');
    expect(second.temp).toBeNull();
    expect(second.one).toBe(7);
  });

  it('never reuses a backend left inside a transaction', async () => {
    const first = await session(async (c) => {
      await c.query('begin');
      await c.query('select 1');
      return pid(c); // ends without commit: Terminate arrives with status 'T'
    });
    await settle();
    const second = await session(async (c) => ({
      pid: await pid(c),
      status: (await c.query('select now() = statement_timestamp() as fresh')).rows[0].fresh,
    }));
    expect(second.pid).not.toBe(first);
    expect(second.status).toBe(true); // not inside the abandoned transaction
  });
});
