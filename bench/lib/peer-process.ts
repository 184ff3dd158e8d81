/**
 * Child process: one floor beside the gateway, on the fake upstream `<url>`, printing `{"url"}`.
 *   node bench/lib/peer-process.ts passthrough-workerd|passthrough-node <upstream url>
 * passthrough-workerd: bench/lib/peers/passthrough-worker.js under the bare workerd binary (the one
 * the workerd and workerd-raw runtimes run), a generated capnp config, the socket straight to it.
 * passthrough-node: bench/lib/peers/passthrough-node.ts on @hono/node-server in this process.
 * Its process tree is what the floor's CPU per request is read from. SIGTERM stops it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../local/ports.ts';
import { wranglerCompat } from './runtimes.ts';

type Peer = 'passthrough-workerd' | 'passthrough-node';

async function waitFor(url: string, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  // Any HTTP answer (the floors 404 on GET /) means the socket is up.
  while (
    !(await fetch(url).then(
      () => true,
      () => false,
    ))
  ) {
    if (!alive()) throw new Error(`peer exited before it listened on ${url}`);
    if (Date.now() > deadline) throw new Error(`peer did not listen on ${url} within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const [peer, upstream] = process.argv.slice(2) as [Peer, string];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let stop: () => void;
  if (peer === 'passthrough-node') {
    const { servePassthrough } = await import('./peers/passthrough-node.ts');
    const server = servePassthrough(upstream, port);
    stop = () => server.close(() => process.exit(0));
  } else if (peer === 'passthrough-workerd') {
    const require = createRequire(import.meta.url);
    const binary = join(require.resolve('workerd/package.json'), '..', 'bin', 'workerd');
    const dir = mkdtempSync(join(tmpdir(), 'mas-peer-'));
    copyFileSync(join(import.meta.dirname, 'peers', 'passthrough-worker.js'), join(dir, 'worker.js'));
    const { compatibilityDate, compatibilityFlags } = wranglerCompat();
    const text = (v: string) => JSON.stringify(v);
    writeFileSync(
      join(dir, 'config.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w), (name = "net", network = (allow = ["public", "private", "local"]))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = ${text(compatibilityDate)},
  compatibilityFlags = [${compatibilityFlags.map(text).join(', ')}],
  bindings = [(name = "UPSTREAM", text = ${text(upstream)})],
  globalOutbound = "net",
);
`,
    );
    const child = spawn(binary, ['serve', join(dir, 'config.capnp'), '--experimental'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor(url, () => child.exitCode === null);
    stop = () => {
      child.once('exit', () => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
      child.kill('SIGTERM');
    };
  } else {
    throw new Error(`unknown peer ${peer}`);
  }
  await waitFor(url, () => true);
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
