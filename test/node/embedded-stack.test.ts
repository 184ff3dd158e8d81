import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Unstable_DevWorker } from 'wrangler';
import { applyMigrations, readMigrations } from '../../local/migrations.ts';
import { connectNodePostgres } from '../../local/node-postgres.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../local/pglite-server.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { startDevWorker } from './dev-worker.ts';

interface ReadyBody {
  status: string;
  checks: Record<string, { status: string; error?: string; backend?: string }>;
}

// The path a fresh laptop takes: no DATABASE_URL, embedded PGlite with pgvector.
describe('embedded PGlite stack (smoke)', () => {
  let stack: Stack;
  let worker: Unstable_DevWorker;

  beforeAll(async () => {
    stack = await startStack({
      env: {},
      migrationsDir: 'migrations',
      forceEmbeddedPostgres: true,
      noPushgateway: true,
    });
    worker = await startDevWorker('ready', stack.settings);
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('migrates, and /ready sees Postgres and pgvector over TCP (postgres.js)', async () => {
    expect(stack.embeddedPostgres).toBe(true);
    const res = await worker.fetch('/ready');
    const body = (await res.json()) as ReadyBody;
    expect(body.checks.postgres?.status).toBe('ok');
    expect(body.checks.vector_store).toMatchObject({ status: 'ok', backend: 'pgvector' });
    expect(res.status).toBe(200);
  });

  it('re-running migrations is a no-op, and an edited applied file is refused', async () => {
    const db = await connectNodePostgres(stack.databaseUrl);
    try {
      const files = readMigrations('migrations');
      expect(await applyMigrations(db.client, files)).toEqual([]);
      const edited = files.map((f, i) => (i === 0 ? { ...f, checksum: `${f.checksum.slice(0, -1)}0` } : f));
      await expect(applyMigrations(db.client, edited)).rejects.toThrow(/changed after it was applied/);
      const { rows } = await db.client.query("select extname from pg_extension where extname = 'vector'");
      expect(rows).toHaveLength(1);
    } finally {
      await db.close();
    }
  });
});

describe('/ready follows Postgres going away and coming back, without a restart', () => {
  let pg: EmbeddedPostgres | undefined;
  let worker: Unstable_DevWorker;
  let port: number;

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({});
    port = pg.port;
    // No /ready cache (ready.cache_ms): this test watches each transition the moment it happens.
    worker = await startDevWorker('ready', {
      DATABASE_URL: pg.databaseUrl,
      READY_CACHE_MS: '0',
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await pg?.close();
  });

  it('200 → 503 with postgres fail within the timeout → 200', async () => {
    const first = await worker.fetch('/ready');
    expect(first.status, await first.clone().text()).toBe(200);

    await pg!.close();
    pg = undefined;
    const started = Date.now();
    const down = await worker.fetch('/ready');
    const elapsed = Date.now() - started;
    expect(down.status).toBe(503);
    const body = (await down.json()) as ReadyBody;
    expect(body.checks.postgres?.status).toBe('fail');
    expect(body.checks.postgres?.error).toBeTruthy();
    expect(elapsed).toBeLessThan(4000);

    pg = await startEmbeddedPostgres({ port });
    const back = await worker.fetch('/ready');
    expect(back.status).toBe(200);
  });
});
