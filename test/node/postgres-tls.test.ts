import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChild } from '../../bench/lib/children.ts';
import { buildBundle } from '../../local/build-bundles.ts';
import { freePort, tcpAnswers } from '../../local/ports.ts';
import { startProcess } from '../../local/processes.ts';
import { workerdBinary, wranglerCompat } from '../../local/workerd.ts';
import {
  type Certificates,
  certificates,
  type PostgresTls,
  startPostgresTls,
} from '../fakes/postgres-tls.ts';

// The deploy bundle (`wrangler deploy --dry-run` of the `ready` function, what `npm run build`
// ships) reaching Postgres over TLS, on both runtimes it runs on: under Node (node/serve.mjs, as
// the bench's node-bundle runs it) and on workerd. The Postgres is a TLS-terminating peer
// (test/fakes/postgres-tls.ts: a throwaway CA) in front of the real one; GET /ready reports the
// connection. workerd verifies every certificate against the roots its network trusts, so it is
// given the test CA through its config's `tlsOptions` (as Miniflare passes NODE_EXTRA_CA_CERTS).
const realPostgres = process.env.DATABASE_URL;

describe.skipIf(!realPostgres)('the ready deploy bundle over TLS', () => {
  const upstream = new URL(realPostgres ?? 'postgres://x@127.0.0.1:5432/x');
  const outRoot = join('.data', 'test-postgres-tls');
  let certs: Certificates;
  let peer: PostgresTls;
  let otherHost: PostgresTls;

  beforeAll(async () => {
    buildBundle('ready', outRoot);
    certs = certificates();
    const behind = { host: upstream.hostname, port: Number(upstream.port || 5432) };
    peer = await startPostgresTls({ upstream: behind, certificate: certs.localhost });
    otherHost = await startPostgresTls({ upstream: behind, certificate: certs.otherHost });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([peer?.close(), otherHost?.close()]);
    certs?.remove();
  });

  const databaseUrl = (server: PostgresTls, query: string) => {
    const url = new URL(realPostgres!);
    url.hostname = '127.0.0.1';
    url.port = String(server.port);
    url.search = query;
    return url.toString();
  };
  type Check = { status: string; error?: string };
  const postgresCheck = async (origin: string): Promise<Check> => {
    const body = (await (await fetch(`${origin}/ready`)).json()) as { checks: { postgres: Check } };
    return { status: body.checks.postgres.status, error: body.checks.postgres.error };
  };

  /** GET /ready's Postgres check from the bundle under Node with this DATABASE_URL. */
  const underNode = async (url: string): Promise<Check> => {
    const child = await startChild<{ url: string }>(
      'serve-node',
      'bench/lib/serve-node.mjs',
      [join(outRoot, 'ready', 'index.js')],
      { env: { BENCH_VARS: JSON.stringify({ DATABASE_URL: url, LOG_LEVEL: 'error' }) } },
    );
    try {
      return await postgresCheck(child.info.url);
    } finally {
      await child.stop();
    }
  };

  /** The same on workerd, whose network trusts `trusted` (PEM) besides its own roots. */
  const onWorkerd = async (url: string, trusted?: string): Promise<Check> => {
    const { compatibilityDate, compatibilityFlags } = wranglerCompat();
    const port = await freePort();
    const text = JSON.stringify;
    const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .main),
    (name = "net", network = (allow = ["public", "private", "local"]${
      trusted ? `, tlsOptions = (trustedCertificates = [${text(trusted)}])` : ''
    })),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "main")],
);
const main :Workerd.Worker = (
  modules = [(name = "index.js", esModule = embed "index.js")],
  compatibilityDate = ${text(compatibilityDate)},
  compatibilityFlags = [${compatibilityFlags.map((f) => text(f)).join(', ')}],
  bindings = [(name = "DATABASE_URL", text = ${text(url)}), (name = "LOG_LEVEL", text = "error")],
  globalOutbound = "net",
);
`;
    // Beside the bundle: embed paths are the config file's.
    const file = join(outRoot, 'ready', `workerd-${port}.capnp`);
    writeFileSync(file, config);
    const server = await startProcess({
      name: 'workerd',
      command: workerdBinary(),
      args: ['serve', file],
      ready: () => tcpAnswers(port),
      timeoutMs: 30_000,
    });
    try {
      return await postgresCheck(`http://127.0.0.1:${port}`);
    } finally {
      await server.stop();
    }
  };

  it('under Node: sslmode=require connects over TLS; verify-full with the CA as sslrootcert too; without it, refused', async () => {
    const sessions = peer.tlsConnections;
    expect(await underNode(databaseUrl(peer, 'sslmode=require'))).toEqual({ status: 'ok' });
    expect(peer.tlsConnections).toBeGreaterThan(sessions);
    expect(await underNode(databaseUrl(peer, `sslmode=verify-full&sslrootcert=${certs.caFile}`))).toEqual({
      status: 'ok',
    });
    expect(await underNode(databaseUrl(peer, 'sslmode=verify-full'))).toEqual({
      status: 'fail',
      error: 'Postgres is unreachable (certificate not accepted: UNABLE_TO_VERIFY_LEAF_SIGNATURE).',
    });
  }, 60_000);

  it('on workerd trusting the test CA: sslmode=require connects over TLS, and is verified (another name is refused)', async () => {
    const sessions = peer.tlsConnections;
    expect(await onWorkerd(databaseUrl(peer, 'sslmode=require'), certs.ca)).toEqual({ status: 'ok' });
    expect(peer.tlsConnections).toBeGreaterThan(sessions);
    // workerd checks the host name whatever the mode: its error names no reason (the log does).
    expect(await onWorkerd(databaseUrl(otherHost, 'sslmode=require'), certs.ca)).toEqual({
      status: 'fail',
      error: 'Postgres is unreachable.',
    });
  }, 60_000);

  it('on workerd with only its own roots: the test CA is not trusted, even under sslmode=require', async () => {
    expect(await onWorkerd(databaseUrl(peer, 'sslmode=require'))).toEqual({
      status: 'fail',
      error: 'Postgres is unreachable.',
    });
  }, 60_000);
});
