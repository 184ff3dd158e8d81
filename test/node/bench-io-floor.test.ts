import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream } from '../../bench/lib/fake-upstream.ts';
import { bareWorkerdConfig, ioFloorWorkerBundle } from '../../bench/lib/runtimes.ts';
import { applyMigrations, readMigrations } from '../../local/migrations.ts';
import { connectNodePostgres } from '../../local/node-postgres.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../local/pglite-server.ts';
import { freePort } from '../../local/ports.ts';
import { workerdBinary } from '../../local/workerd.ts';

// bench:isolate-start's I/O floor Worker (bench/lib/peers/io-floor-worker.ts, bundled into one
// index.js by ioFloorWorkerBundle), under the bare workerd as the tool starts it: its first request
// must forward the fake's answer and, with USAGE_FLUSH_MS=0 as the tool sets it, write its usage
// row through the driver ours uses, or "over the I/O floor" would compare ours with less I/O.
describe('the I/O floor Worker of bench:isolate-start', () => {
  let pg: EmbeddedPostgres;
  let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
  let stop = () => {};
  let url = '';

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({});
    const db = await connectNodePostgres(pg.databaseUrl);
    try {
      await applyMigrations(db.client, readMigrations('migrations'));
    } finally {
      await db.close();
    }
    fake = await startFakeUpstream({ chunks: 3, dim: 8 });
    const dir = ioFloorWorkerBundle();
    const port = await freePort();
    const bindings = { UPSTREAM: fake.url, DATABASE_URL: pg.databaseUrl, USAGE_FLUSH_MS: '0' };
    writeFileSync(join(dir, 'config.capnp'), bareWorkerdConfig(port, ['index.js'], bindings));
    const child = spawn(workerdBinary(), ['serve', join(dir, 'config.capnp'), '--experimental'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    stop = () => child.kill('SIGKILL');
    url = `http://127.0.0.1:${port}`;
    // Any answer means the socket is up (the floor 404s on GET /).
    for (
      let tries = 0;
      !(await fetch(url).then(
        () => true,
        () => false,
      ));
      tries++
    ) {
      if (child.exitCode !== null) throw new Error('workerd exited');
      if (tries > 600) throw new Error('workerd did not listen');
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 120_000);

  afterAll(async () => {
    stop();
    await fake?.close();
    await pg?.close();
  });

  it('forwards a chat request and writes its usage row', async () => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
      body: JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'Say hello.' }] }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text).choices[0].message.content).toBe('Hello from the bench upstream.');

    const db = await connectNodePostgres(pg.databaseUrl);
    try {
      const count = async () =>
        (
          await db.client.query<{ n: number }>(
            "select count(*)::int as n from governance.usage where principal = 'bench-io-floor' and endpoint = 'chat'",
          )
        ).rows[0]!.n;
      const deadline = Date.now() + 10_000;
      while ((await count()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(await count()).toBe(1);
    } finally {
      await db.close();
    }
  });
});
