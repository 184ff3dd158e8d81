/**
 * The runtimes a function can be benchmarked on. Each starts the combined function (every route
 * on one origin) with the given vars on a free loopback port:
 *   workerd-dev  `wrangler dev` as users run it (wrangler's unstable_dev: dev proxy + Miniflare)
 *   workerd      the `wrangler deploy --dry-run` bundle loaded by one Miniflare, workerd serving
 *                its own HTTP socket, no dev proxy (Miniflare's entry worker still in front)
 *   workerd-raw  the leanest: the same bundle in the bare workerd binary, a generated capnp config,
 *                the socket straight to our worker
 *   node         @hono/node-server serving functions/index.ts in Node 24
 *   deno         `deno run` of the Deno entry, when the project has one and deno is installed
 * `serve.ts` runs one of these in a child process; `startMiniflare` is also used in-process to
 * time isolate starts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

export const RUNTIMES = ['workerd', 'workerd-raw', 'workerd-dev', 'node', 'deno'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface Server {
  url: string;
  close(): Promise<void>;
}

/** compatibility_date and compatibility_flags of wrangler.toml's top level. */
export function wranglerCompat(root = '.'): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const top = toml.split(/^\[/m)[0] ?? '';
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(top)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(top)?.[1];
  if (!date) throw new Error('wrangler.toml has no compatibility_date');
  return {
    compatibilityDate: date,
    compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) : [],
  };
}

/** A `wrangler deploy --dry-run` bundle (index.js + the YAML text modules) in one Miniflare. */
export async function startMiniflare(bundleDir: string, vars: Record<string, string>): Promise<Server> {
  const miniflare = (await import('miniflare')) as typeof import('miniflare') & {
    convertV4MiniflareOptions?: (o: unknown) => unknown;
  };
  const { Miniflare, Log, LogLevel } = miniflare;
  // Miniflare 5 takes a new options shape; wrangler itself converts Miniflare 4's, as here.
  const convert = miniflare.convertV4MiniflareOptions ?? ((o: unknown) => o);
  const options = {
    ...wranglerCompat(),
    modulesRoot: resolve(bundleDir),
    modules: [
      { type: 'ESModule', path: resolve(bundleDir, 'index.js') },
      ...readdirSync(bundleDir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => ({ type: 'Text', path: resolve(bundleDir, f) })),
    ],
    bindings: vars,
    host: '127.0.0.1',
    port: 0,
    // No request.cf lookup (it would fetch from the internet at start).
    cf: false,
    log: new Log(LogLevel.WARN),
  };
  const mf = new Miniflare(convert(options) as ConstructorParameters<typeof Miniflare>[0]);
  const url = await mf.ready;
  return { url: url.origin, close: () => mf.dispose() };
}

/** The bundle under the bare `workerd serve` with a generated config: nothing in front of it. */
async function startWorkerdRaw(bundleDir: string, vars: Record<string, string>): Promise<Server> {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, writeFileSync, copyFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { freePort } = await import('../../local/ports.ts');
  const require = createRequire(import.meta.url);
  const binary = join(require.resolve('workerd/package.json'), '..', 'bin', 'workerd');
  const dir = mkdtempSync(join(tmpdir(), 'mas-workerd-'));
  const modules = readdirSync(bundleDir).filter((f) => /\.(m?js|yaml)$/.test(f));
  for (const f of modules) copyFileSync(join(bundleDir, f), join(dir, f));
  const port = await freePort();
  const { compatibilityDate, compatibilityFlags } = wranglerCompat();
  const text = (v: string) => JSON.stringify(v); // capnp text literals take JSON's escapes
  writeFileSync(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const mainWorker :Workerd.Worker = (
  modules = [${modules
    .map((f) => `(name = ${text(f)}, ${f.endsWith('.yaml') ? 'text' : 'esModule'} = embed ${text(f)})`)
    .sort((a) => (a.includes('"index.js"') ? -1 : 1))
    .join(', ')}],
  compatibilityDate = ${text(compatibilityDate)},
  compatibilityFlags = [${compatibilityFlags.map(text).join(', ')}],
  bindings = [${Object.entries(vars)
    .map(([k, v]) => `(name = ${text(k)}, text = ${text(v)})`)
    .join(', ')}],
  globalOutbound = "net",
);
`,
  );
  const child = spawn(binary, ['serve', join(dir, 'config.capnp'), '--experimental'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited (code ${child.exitCode}): ${stderr}`);
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`workerd did not answer within 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    close: () =>
      new Promise<void>((done) => {
        const finish = () => {
          rmSync(dir, { recursive: true, force: true });
          done();
        };
        if (child.exitCode !== null) return finish();
        child.once('exit', finish);
        child.kill('SIGTERM');
      }),
  };
}

async function startWranglerDev(vars: Record<string, string>): Promise<Server> {
  const { startDevWorker } = await import('../../test/node/dev-worker.ts');
  const worker = await startDevWorker(undefined, vars);
  return { url: `http://${worker.address}:${worker.port}`, close: () => worker.stop() };
}

async function startNode(vars: Record<string, string>): Promise<Server> {
  const { registerBenchHooks } = await import('./node-hooks.ts');
  registerBenchHooks();
  const { serve } = await import('@hono/node-server');
  const app = (await import('../../functions/index.ts')).default as {
    fetch: (req: Request, env: unknown, ctx: unknown) => Response | Promise<Response>;
  };
  const ctx = {
    waitUntil: (p: Promise<unknown>) => void p.catch(() => undefined),
    passThroughOnException() {},
    props: {},
  };
  const env = { ...vars };
  return new Promise((resolveServer) => {
    const server = serve(
      { fetch: (req: Request) => app.fetch(req, env, ctx), hostname: '127.0.0.1', port: 0 },
      (info) =>
        resolveServer({
          url: `http://127.0.0.1:${info.port}`,
          close: () => new Promise<void>((done) => server.close(() => done())),
        }),
    );
  });
}

/** The deno binary: PATH, else the `deno` npm package's. */
export function findDeno(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'deno'))) return join(dir, 'deno');
  }
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('deno/package.json');
    for (const candidate of ['bin/deno', 'deno', 'bin.cjs']) {
      const path = join(pkg, '..', candidate);
      if (existsSync(path)) return path;
    }
  } catch {
    // not installed
  }
  return undefined;
}

/** The Deno entry serving every function, if the project has one. */
export function findDenoEntry(): string | undefined {
  for (const candidate of ['deno/all.ts', 'deno/index.ts']) if (existsSync(candidate)) return candidate;
  return undefined;
}

/** Why a runtime cannot run here, or undefined when it can. */
export function unavailable(runtime: Runtime): string | undefined {
  if (runtime === 'deno') {
    if (!findDeno()) return 'deno not installed';
    if (!findDenoEntry()) return 'no Deno entry (deno/all.ts) in this checkout';
  }
  return undefined;
}

async function startDeno(vars: Record<string, string>): Promise<Server> {
  const { spawn } = await import('node:child_process');
  const { freePort } = await import('../../local/ports.ts');
  const port = await freePort();
  const args = ['run', '-A'];
  if (existsSync('deno.json')) args.push('--config', 'deno.json');
  const child = spawn(findDeno()!, [...args, findDenoEntry()!], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...vars, PORT: String(port), HOST: '127.0.0.1' },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`deno exited (code ${child.exitCode})`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    close: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

export function startRuntime(
  runtime: Runtime,
  vars: Record<string, string>,
  bundleDir: string,
): Promise<Server> {
  switch (runtime) {
    case 'workerd':
      return startMiniflare(bundleDir, vars);
    case 'workerd-raw':
      return startWorkerdRaw(bundleDir, vars);
    case 'workerd-dev':
      return startWranglerDev(vars);
    case 'node':
      return startNode(vars);
    case 'deno':
      return startDeno(vars);
  }
}
