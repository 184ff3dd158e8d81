import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream } from '../../bench/lib/fake-upstream.ts';
import { bareWorkerdConfig, ioFloorWorkerBundle, untilHealthy } from '../../bench/lib/runtimes.ts';
import { applyMigrations, readMigrations } from '../../local/migrations.ts';
import { connectNodePostgres } from '../../local/node-postgres.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../local/pglite-server.ts';
import { freePort, waitFor } from '../../local/ports.ts';
import { workerdBinary } from '../../local/workerd.ts';

// bench:isolate-start's I/O floor Worker (bench/lib/peers/io-floor-worker.ts, bundled into one
// index.js by ioFloorWorkerBundle), under the bare workerd as the tool starts it: its first request
// must forward the fake's answer and, with USAGE_FLUSH_MS=0 as the tool sets it, write its usage
// row through the driver ours uses, or "over the I/O floor" would compare ours with less I/O.
describe('the I/O floor Worker of bench:isolate-start', () => {
  let pg: EmbeddedPostgres;
  let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
  const stops: Array<() => void> = [];

  /** The floor's bundle under a bare workerd, as bench:isolate-start's raw mode serves it. */
  async function startFloor(usageFlushMs: string): Promise<string> {
    const dir = ioFloorWorkerBundle();
    const port = await freePort();
    const bindings = { UPSTREAM: fake.url, DATABASE_URL: pg.databaseUrl, USAGE_FLUSH_MS: usageFlushMs };
    writeFileSync(join(dir, 'config.capnp'), bareWorkerdConfig(port, ['index.js'], bindings));
    const child = spawn(workerdBinary(), ['serve', join(dir, 'config.capnp'), '--experimental'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const stop = () => child.kill('SIGKILL');
    stops.push(stop);
    const url = `http://127.0.0.1:${port}`;
    // Any answer means the socket is up (the floor 404s on GET /).
    await untilHealthy(url, child, 'the I/O floor on workerd', {
      ms: 60_000,
      stop: async () => {
        stop();
      },
      probe: (u, signal) =>
        fetch(u, { signal }).then(
          () => true,
          () => false,
        ),
    });
    return url;
  }

  const usageRows = async (endpoint: string) => {
    const db = await connectNodePostgres(pg.databaseUrl);
    try {
      const { rows } = await db.client.query<{ n: number }>(
        "select count(*)::int as n from governance.usage where principal = 'bench-io-floor' and endpoint = $1",
        [endpoint],
      );
      return rows[0]!.n;
    } finally {
      await db.close();
    }
  };

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({});
    const db = await connectNodePostgres(pg.databaseUrl);
    try {
      await applyMigrations(db.client, readMigrations('migrations'));
    } finally {
      await db.close();
    }
    fake = await startFakeUpstream({ chunks: 3, dim: 8 });
  }, 120_000);

  afterAll(async () => {
    for (const stop of stops) stop();
    await fake?.close();
    await pg?.close();
  });

  it('forwards the request and writes its usage row when USAGE_FLUSH_MS says, as the tool sets it', async () => {
    // One floor writes at once (the tool's 0), the other not for ten minutes: the row of the
    // first arriving while the second has none shows the binding is what decides.
    const [atOnce, later] = await Promise.all([startFloor('0'), startFloor('600000')]);
    const post = (url: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body: JSON.stringify(body),
      });
    // The delayed floor's request goes first: were the binding ignored, its row would come first.
    const embed = await post(later, '/v1/embeddings', { model: 'embedding', input: 'fox' });
    expect(embed.status).toBe(200);
    expect(JSON.parse(await embed.text()).data[0].embedding).toHaveLength(8);

    const chat = await post(atOnce, '/v1/chat/completions', {
      model: 'fast',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    const text = await chat.text();
    expect(chat.status, text).toBe(200);
    expect(JSON.parse(text).choices[0].message.content).toBe('Hello from the bench upstream.');
    expect(await waitFor(async () => (await usageRows('chat')) === 1, 10_000, 25)).toBe(true);
    expect(await usageRows('embeddings')).toBe(0);
  }, 120_000);
});
