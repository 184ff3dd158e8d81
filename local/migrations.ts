import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '../shared/db/postgres.ts';

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;
// One arbitrary constant: concurrent `migrate` runs (tests, two terminals) take turns.
const LOCK_KEY = 4_212_023;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir: string): MigrationFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => {
      if (!MIGRATION_FILE.test(name))
        throw new Error(`migrations/${name}: name must look like 0001_what_it_does.sql`);
      const sql = readFileSync(join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/**
 * Applies, in name order, each file not yet recorded in `public.mas_migrations`, each in its own
 * transaction together with its record. A recorded file whose checksum changed is an error:
 * migrations are additive, so a change goes in a new file.
 */
export async function applyMigrations(
  client: Client,
  files: readonly MigrationFile[],
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  // The lock comes first: two first runs creating the table at once collide in the catalog
  // (`create table if not exists` is not atomic: duplicate key in pg_type).
  await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
  try {
    await client.query(`create table if not exists public.mas_migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const { rows } = await client.query<{ name: string; checksum: string }>(
      'select name, checksum from public.mas_migrations',
    );
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    for (const name of applied.keys()) {
      if (!files.some((f) => f.name === name)) log(`migration ${name} is recorded but its file is gone`);
    }
    const done: string[] = [];
    for (const file of files) {
      const previous = applied.get(file.name);
      if (previous === file.checksum) continue;
      if (previous) {
        throw new Error(
          `migrations/${file.name} changed after it was applied (checksum ${previous.slice(0, 12)} → ${file.checksum.slice(0, 12)}); migrations are additive: put the change in a new file`,
        );
      }
      await client.query('begin');
      try {
        await client.query(file.sql);
        await client.query('insert into public.mas_migrations (name, checksum) values ($1, $2)', [
          file.name,
          file.checksum,
        ]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw new Error(`migrations/${file.name} failed: ${(err as Error).message}`);
      }
      done.push(file.name);
      log(`applied ${file.name}`);
    }
    return done;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
  }
}

/** Drops everything the migrations made. Callers make sure the database is a local one. */
export async function dropMigratedSchemas(client: Client): Promise<void> {
  await client.query(`drop schema if exists audit, auth, vectors cascade;
    drop table if exists public.mas_migrations;`);
}
