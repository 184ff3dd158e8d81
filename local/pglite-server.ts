import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { makeClientBatchesAtomic } from './pglite-batching.ts';

export interface EmbeddedPostgres {
  databaseUrl: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Real Postgres compiled to WASM, with pgvector, served on a local TCP port so every client
 * (the functions' postgres.js, psql) reaches it like a server. `dataDir`
 * undefined keeps it in memory (tests); otherwise data survives restarts.
 */
export async function startEmbeddedPostgres(options: {
  dataDir?: string;
  port?: number;
}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector } });
  const server = new PGLiteSocketServer({
    db,
    port: options.port ?? 0,
    host: '127.0.0.1',
    maxConnections: 32,
    debug: process.env.PGLITE_DEBUG === '1',
  });
  makeClientBatchesAtomic(server);
  await server.start();
  // getServerConn() is `host:port`; with port 0 it is the only way to learn the port chosen.
  const port = Number(server.getServerConn().split(':').pop());
  if (!port) throw new Error('embedded Postgres did not report its port');
  return {
    databaseUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}
