/**
 * Child process: one peer or floor beside the gateway, on the fake upstream `<url>`, printing
 * `{"url", "pid"}` (pid: the process that serves, whose tree CPU and RSS are read from).
 *   node bench/lib/peer-process.ts passthrough-workerd|io-floor-workerd|passthrough-node|portkey <upstream url>
 * passthrough-workerd: bench/lib/peers/passthrough-worker.js under the bare workerd binary (the one
 * the workerd and workerd-raw runtimes run), a generated capnp config, the socket straight to it.
 * io-floor-workerd: bench/lib/peers/io-floor-worker.ts (the passthrough plus the gateway's Redis and
 * Postgres I/O, made as ours makes it), bundled by wrangler, the same way; the stack's Redis and
 * Postgres come from BENCH_VARS (the function's vars).
 * passthrough-node: bench/lib/peers/passthrough-node.ts on @hono/node-server in this process.
 * portkey: Portkey's open-source gateway (@portkey-ai/gateway, its published Node build) on the
 * pinned Node, headless; requests name the fake with x-portkey-custom-host (see portkeyHeaders).
 * portkey-workerd: the same package's gateway bundled as a Worker (bench/lib/peers/portkey-worker.ts,
 * into bench/.dist/portkey-workerd) under the same bare workerd, the same headers.
 * SIGTERM stops it.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import './memory-report.mjs';
import { freePort } from '../../local/ports.ts';
import { pinnedNode } from './children.ts';
import { buildPortkeyWorker } from './peers/portkey-worker.ts';
import { bareWorkerdConfig, bundleWorker, workerdBinary } from './runtimes.ts';

type Peer = 'passthrough-workerd' | 'io-floor-workerd' | 'passthrough-node' | 'portkey' | 'portkey-workerd';

/** The command that starts Portkey's gateway on `port` (also used for its cold start). */
export function portkeyCommand(port: number): [string, string[]] {
  const require = createRequire(import.meta.url);
  const entry = join(require.resolve('@portkey-ai/gateway/package.json'), '..', 'build', 'start-server.js');
  // --headless: no log UI (its /log/stream clients and the per-request log fan-out for them).
  return [pinnedNode(), [entry, `--port=${port}`, '--headless']];
}

/** What a client sends Portkey to reach an OpenAI-compatible upstream at `upstream` (its /v1). */
export function portkeyHeaders(upstream: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream}/v1` };
}

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
  let pid = process.pid;
  if (peer === 'passthrough-node') {
    const { servePassthrough } = await import('./peers/passthrough-node.ts');
    const server = servePassthrough(upstream, port);
    stop = () => server.close(() => process.exit(0));
  } else if (peer === 'portkey') {
    const [command, args] = portkeyCommand(port);
    // Its banner goes to stdout (ignored); warnings to our stderr.
    // Preloaded: answers the bench's memory question after the cells (bench/lib/memory-report.mjs).
    const report = pathToFileURL(join(import.meta.dirname, 'memory-report.mjs')).href;
    const child = spawn(command, [`--import=${report}`, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    pid = child.pid!;
    await waitFor(url, () => child.exitCode === null);
    stop = () => {
      child.once('exit', () => process.exit(0));
      child.kill('SIGTERM');
    };
  } else if (peer === 'passthrough-workerd' || peer === 'io-floor-workerd' || peer === 'portkey-workerd') {
    const dir = mkdtempSync(join(tmpdir(), 'mas-peer-'));
    const bindings: Record<string, string> = { UPSTREAM: upstream };
    let modules: string[];
    if (peer === 'passthrough-workerd') {
      copyFileSync(join(import.meta.dirname, 'peers', 'passthrough-worker.js'), join(dir, 'worker.js'));
      modules = ['worker.js'];
    } else if (peer === 'portkey-workerd') {
      const out = join(import.meta.dirname, '..', '.dist', 'portkey-workerd');
      const file = await buildPortkeyWorker(out);
      copyFileSync(join(out, file), join(dir, file));
      modules = [file];
    } else {
      // Bundled as a deploy would be (it imports the driver and the usage statement of ours).
      modules = bundleWorker(join(import.meta.dirname, 'peers', 'io-floor-worker.ts'), dir, 'io-floor');
      const vars = JSON.parse(process.env.BENCH_VARS ?? '{}') as Record<string, string>;
      for (const k of ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'DATABASE_URL']) {
        if (vars[k]) bindings[k] = vars[k];
      }
    }
    writeFileSync(join(dir, 'config.capnp'), bareWorkerdConfig(port, modules, bindings));
    const child = spawn(workerdBinary(), ['serve', join(dir, 'config.capnp'), '--experimental'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    pid = child.pid!;
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
  process.stdout.write(`${JSON.stringify({ url, pid })}\n`);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.main) await main();
