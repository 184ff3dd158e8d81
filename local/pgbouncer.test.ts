import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, openPostgres, withPostgres } from '../shared/db/postgres.ts';
import type { Settings } from '../shared/env.ts';
import { findPgBouncer, type PgBouncer, startPgBouncer } from './pgbouncer.ts';
import { startStack } from './stack.ts';

// PgBouncer pools a real Postgres (the machine's, in CI, where .ci/run installs pgbouncer).
const realPostgres = process.env.DATABASE_URL;
const binary = findPgBouncer();

describe.skipIf(!realPostgres || !binary)('PgBouncer in front of the real Postgres', () => {
  const owner = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');
  const server = { host: owner.hostname, port: Number(owner.port || 5432) };
  let trust: PgBouncer;
  let md5: PgBouncer;

  beforeAll(async () => {
    // Pool size 2, so concurrent sessions share server connections.
    trust = await startPgBouncer({
      binary: binary!,
      server,
      user: { name: decodeURIComponent(owner.username) },
      poolSize: 2,
    });
    md5 = await startPgBouncer({
      binary: binary!,
      server,
      user: { name: decodeURIComponent(owner.username), password: 'pg"bouncer pass' },
    });
  });

  afterAll(async () => {
    await trust?.stop();
    await md5?.stop();
  });

  /** A connection as the functions open one, errors as they see them (503s). */
  const session = <T>(url: string, fn: (client: Client) => Promise<T>) =>
    withPostgres({ DATABASE_URL: url } as Settings, fn);
  const pid = async (c: Client) => (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;

  it('hands the next session the backend the last one used (no new backend per connection)', async () => {
    const url = trust.urlFor(realPostgres!);
    const first = await session(url, pid);
    expect(await session(url, pid)).toBe(first);
    expect(await session(url, pid)).toBe(first);
  });

  it("carries the driver's unnamed statements (Parse, Describe, then Bind), transactions and multi-statement queries, 24 sessions over 2 backends", async () => {
    const url = trust.urlFor(realPostgres!);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        session(url, async (c) => {
          const param = (await c.query('select $1::int * 2 as v, $2::text as s', [i, `s${i}`])).rows[0];
          await c.query('begin');
          const inTx = (await c.query('select $1::int as v, pg_backend_pid() as pid', [i])).rows[0];
          // Same backend for the whole transaction, whatever else is in flight.
          expect((await c.query('select pg_backend_pid() as pid')).rows[0].pid).toBe(inTx.pid);
          await c.query('commit');
          await c.query('select 1; select 2');
          return { v: param.v, s: param.s, tx: inTx.v, pid: inTx.pid as number };
        }),
      ),
    );
    expect(results.map((r) => r.v)).toEqual(Array.from({ length: 24 }, (_, i) => i * 2));
    expect(results.map((r) => r.s)).toEqual(Array.from({ length: 24 }, (_, i) => `s${i}`));
    expect(results.map((r) => r.tx)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(new Set(results.map((r) => r.pid)).size).toBeLessThanOrEqual(2);
  });

  it('never hands on a transaction a client left open', async () => {
    const url = trust.urlFor(realPostgres!);
    await session(url, async (c) => {
      await c.query('begin');
      await c.query('create temp table left_open (x int)');
    });
    const fresh = await session(url, async (c) => ({
      table: (await c.query("select to_regclass('pg_temp.left_open') as t")).rows[0].t,
      outside: (await c.query('select now() = statement_timestamp() as fresh')).rows[0].fresh,
    }));
    expect(fresh.table).toBeNull();
    expect(fresh.outside).toBe(true);
  });

  it('with a password, asks for it (md5) and refuses a wrong one', async () => {
    const right = new URL(md5.urlFor(realPostgres!));
    right.password = encodeURIComponent('pg"bouncer pass');
    expect(await session(right.toString(), async (c) => (await c.query('select 1 as one')).rows[0].one)).toBe(
      1,
    );
    const wrong = new URL(right);
    wrong.password = 'wrong';
    const refused = (await session(wrong.toString(), pid).catch((e: unknown) => e)) as Error;
    // PgBouncer refuses a password with 08P01 (protocol violation), which names no one reason.
    expect(refused.message).toBe('Postgres is unreachable.');
    expect((refused.cause as Error).message).toMatch(/password authentication failed/);
    expect((refused.cause as { code?: string }).code).toBe('08P01');
  });
});

describe.skipIf(!realPostgres || !binary)('the local stack and PgBouncer', () => {
  const start = (extra: Record<string, string>) =>
    startStack({
      // Upstash settings given: nothing is spawned for Redis, which this test does not use.
      env: {
        DATABASE_URL: realPostgres,
        UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
        UPSTASH_REDIS_REST_TOKEN: 'unused',
        ...extra,
      },
      migrationsDir: 'migrations',
      noPushgateway: true,
      appRolePassword: 'mas-app-test-password',
    });

  it("points the functions' DATABASE_URL at PgBouncer, as mas_app", async () => {
    const stack = await start({});
    try {
      expect(stack.pgbouncer).toBe('ok');
      const url = new URL(stack.settings.DATABASE_URL!);
      expect(url.username).toBe('mas_app');
      expect(url.port).not.toBe(new URL(realPostgres!).port || '5432');
      const connection = await openPostgres(url.toString());
      try {
        expect((await connection.client.query('select current_user as u')).rows[0].u).toBe('mas_app');
      } finally {
        await connection.end();
      }
    } finally {
      await stack.stop();
    }
  });

  it('connects directly with MAS_PGBOUNCER=off', async () => {
    const stack = await start({ MAS_PGBOUNCER: 'off' });
    try {
      expect(stack.pgbouncer).toBe('off');
      expect(new URL(stack.settings.DATABASE_URL!).port).toBe(new URL(realPostgres!).port || '5432');
    } finally {
      await stack.stop();
    }
  });
});
