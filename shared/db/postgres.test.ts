import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NeonWsProxy, startNeonWsProxy } from '../../local/neon-ws-proxy.ts';
import type { Settings } from '../env.ts';
import { withPostgres } from './postgres.ts';

const realPostgres = process.env.DATABASE_URL;

/** An ErrorResponse (FATAL, SQLSTATE `code`), as Postgres sends when it refuses a connection. */
function refusal(code: string): Buffer {
  const fields = Buffer.from(`SFATAL\0C${code}\0Mrefused by the test\0\0`);
  const out = Buffer.alloc(5 + fields.length);
  out[0] = 0x45;
  out.writeInt32BE(4 + fields.length, 1);
  fields.copy(out, 5);
  return out;
}

// A Postgres that refuses the first `refusals` connections with `code`, then relays to the real one.
describe.skipIf(!realPostgres)('withPostgres against a Postgres that refuses connections', () => {
  const target = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');
  let server: Server;
  let proxy: NeonWsProxy;
  let refusals = 0;
  let code = '53300';
  let connections = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      if (refusals > 0) {
        refusals--;
        socket.once('data', () => socket.end(refusal(code)));
        return;
      }
      const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    proxy = await startNeonWsProxy({ port: 0, allowedTargets: [`127.0.0.1:${port}`] });
  });

  afterAll(async () => {
    await proxy?.close();
    await new Promise((r) => server?.close(r));
  });

  const settings = (): Settings => {
    const port = (server.address() as { port: number }).port;
    const url = new URL(realPostgres!);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return { DATABASE_URL: url.toString(), NEON_WS_PROXY: proxy.url } as Settings;
  };
  const selectOne = (s: Settings) =>
    withPostgres(s, async (client) => (await client.query('select 1 as one')).rows[0].one as number);

  it('retries "too many clients" and succeeds once Postgres accepts again', async () => {
    refusals = 2;
    code = '53300';
    connections = 0;
    expect(await selectOne(settings())).toBe(1);
    expect(connections).toBe(3);
  });

  it('gives up after its retries with a 503 that names no host or user', async () => {
    refusals = 10;
    connections = 0;
    const err = (await selectOne(settings()).catch((e: unknown) => e)) as { status: number; message: string };
    expect(err.status).toBe(503);
    expect(err.message).toBe('Postgres is unreachable.');
    expect(connections).toBe(4); // the first attempt and 3 retries
    refusals = 0;
  });

  it('does not retry a refusal that will not pass (authentication failed)', async () => {
    refusals = 1;
    code = '28P01';
    connections = 0;
    const err = (await selectOne(settings()).catch((e: unknown) => e)) as { status: number };
    expect(err.status).toBe(503);
    expect(connections).toBe(1);
  });
});
