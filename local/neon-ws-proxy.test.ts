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
