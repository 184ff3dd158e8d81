import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, withPostgres } from '../shared/db/postgres.ts';
import type { Settings } from '../shared/env.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './pglite-server.ts';

/** A connection as the functions open one, errors as they see them (503s). */
const session = <T>(url: string, fn: (client: Client) => Promise<T>) =>
  withPostgres({ DATABASE_URL: url } as Settings, fn);

describe('embedded PGlite served over TCP', () => {
  let pg: EmbeddedPostgres;

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({});
  });

  afterAll(async () => {
    await pg?.close();
  });

  it('carries the driver: simple, parameterised (Parse, Describe, then Bind) and multi-statement queries', async () => {
    await session(pg.databaseUrl, async (client) => {
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect((await client.query('select $1::text || $2::text as s', ['a', 'b'])).rows).toEqual([
        { s: 'ab' },
      ]);
      await client.query('create temp table t (x int); insert into t values (1), (2);');
      expect((await client.query('select count(*)::int as n from t')).rows).toEqual([{ n: 2 }]);
    });
  });

  it('connections open and close one after another', async () => {
    for (let i = 0; i < 5; i++) {
      expect(
        await session(pg.databaseUrl, async (c) => (await c.query('select $1::int as i', [i])).rows[0].i),
      ).toBe(i);
    }
  });

  it("concurrent connections get their own answers (one client's Parse/Describe never meets another's Bind)", async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        session(pg.databaseUrl, async (c) => {
          const a = (await c.query('select $1::int * 2 as v', [i])).rows[0].v as number;
          const b = (await c.query('select $1::text as s', [`s${i}`])).rows[0].s as string;
          return [a, b];
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => [i * 2, `s${i}`]));
  });
});
