import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyMigrations, readMigrations } from './migrations.ts';
import { startEmbeddedPostgres } from './pglite-server.ts';

export const DATA_DIR = process.env.MAS_DATA_DIR ?? '.data';
export const STACK_FILE = join(DATA_DIR, 'stack.json');
export const MIGRATIONS_DIR = 'migrations';

export interface RunningStack {
  pid: number;
  databaseUrl: string;
  embeddedPostgres: boolean;
  port: number;
}

/** The stack `npm start` wrote down, if its process still runs. */
export function readRunningStack(): RunningStack | undefined {
  if (!existsSync(STACK_FILE)) return undefined;
  try {
    const stack = JSON.parse(readFileSync(STACK_FILE, 'utf8')) as RunningStack;
    process.kill(stack.pid, 0);
    return stack;
  } catch {
    return undefined;
  }
}

/**
 * The database a CLI (`keys`, `migrate`) should use: DATABASE_URL, else the one a running
 * `npm start` serves, else the embedded one opened here (safe: nothing else has it open).
 */
export async function resolveLocalDatabase(): Promise<{
  databaseUrl: string;
  embedded: boolean;
  close(): Promise<void>;
}> {
  const given = process.env.DATABASE_URL?.trim();
  if (given) return { databaseUrl: given, embedded: false, close: async () => undefined };
  const running = readRunningStack();
  if (running)
    return {
      databaseUrl: running.databaseUrl,
      embedded: running.embeddedPostgres,
      close: async () => undefined,
    };
  const pg = await startEmbeddedPostgres({ dataDir: join(DATA_DIR, 'pglite') });
  return { databaseUrl: pg.databaseUrl, embedded: true, close: pg.close };
}

export { applyMigrations, readMigrations };
