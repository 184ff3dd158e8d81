import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, readMigrations } from './migrations.ts';
import { connectNodePostgres, type NodePostgres } from './node-postgres.ts';

// Concurrency needs a server with real backends (PGlite serves one session): the machine's Postgres.
const realPostgres = process.env.DATABASE_URL;

describe.skipIf(!realPostgres)('migrations on a fresh database', () => {
  const name = `mas_migrations_race_${randomBytes(4).toString('hex')}`;
  const url = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');
  url.pathname = `/${name}`;
  let admin: NodePostgres;

  beforeAll(async () => {
    admin = await connectNodePostgres(realPostgres!);
    await admin.client.query(`create database ${name}`);
  });

  afterAll(async () => {
    await admin?.client.query(`drop database if exists ${name} with (force)`);
    await admin?.close();
  });

  it('four first runs at once: all succeed, and every file is applied exactly once', async () => {
    const files = readMigrations('migrations');
    // Connected first, so the runs start their statements together.
    const runners = await Promise.all([0, 1, 2, 3].map(() => connectNodePostgres(url.toString())));
    try {
      const results = await Promise.allSettled(runners.map((r) => applyMigrations(r.client, files)));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      expect(errors).toEqual([]);
      const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
      expect(applied.sort()).toEqual(files.map((f) => f.name).sort());
      const { rows } = await runners[0]!.client.query<{ name: string }>(
        'select name from public.mas_migrations order by name',
      );
      expect(rows.map((r) => r.name)).toEqual(files.map((f) => f.name));
    } finally {
      await Promise.all(runners.map((r) => r.close()));
    }
  });
});
