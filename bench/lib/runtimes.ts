/**
 * The runtimes a function can be benchmarked on. Each starts the combined function (every route
 * on one origin) with the given vars on a free loopback port:
 *   workerd-dev  `wrangler dev` as users run it (wrangler's unstable_dev: dev proxy + Miniflare)
 *   workerd      the `wrangler deploy --dry-run` bundle loaded by one Miniflare, workerd serving
 *                its own HTTP socket, no dev proxy (Miniflare's entry worker still in front)
 *   workerd-raw  the leanest: the same bundle in the bare workerd binary, a generated capnp config,
 *                the socket straight to our worker
 *   npm-start    `node local/start.ts` itself (its own bundle on bare workerd, its scheduler and
 *                Neon proxy) on the given stack: what `npm start` serves, measured as a whole
 *   node         @hono/node-server serving functions/index.ts in Node 24
 *   node-bundle  @hono/node-server serving the deploy bundle (bench/.dist/all/index.js) in Node 24
 *   deno         `deno run` of the Deno entry, when the project has one and deno is installed
 * `serve.ts` runs one of these in a child process; `startMiniflare` is also used in-process to
 * time isolate starts.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type FirstRequest, HEALTH, sendFirst } from './first-requests.ts';

export const RUNTIMES = [
  'workerd',
  'workerd-raw',
  'workerd-dev',
  'npm-start',
  'node',
  'node-bundle',
  'deno',
] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface Server {
  url: string;
  close(): Promise<void>;
}

import { workerdBinary, wranglerCompat } from '../../local/workerd.ts';

export { workerdBinary, wranglerCompat };

/**
 * A module that allocates `kb` KiB of garbage on workerd's heap and drops it (bench:isolate-start
 * --young puts it before a bundle). workerd's V8 compresses pointers (4 bytes an element), so a
 * 1 KiB piece is an array of 250 small integers: 16 bytes of array, 8 of its store's header and
 * 1000 of elements (--trace-gc-nvp: 1029 bytes a piece, with what the loop itself allocates);
 * 125 elements, as Node's 8-byte elements would need, are 524 bytes there.
 */
export function garbagePad(kb: number): string {
  return `for (let i = 0; i < ${kb}; i++) globalThis.__pad = new Array(250).fill(i);\nglobalThis.__pad = undefined;\n`;
}

/**
 * The capnp config of the bench's bare-workerd setups: one Worker of `modules` (files beside the
 * config, the first the entry; .yaml as text) with the project's compatibility date and flags,
 * `bindings` as text, on 127.0.0.1:`port`, outbound to the network; `v8Flags` for V8 (e.g.
 * `--trace-gc`, which `spawnTracedWorkerd` reads).
 */
export function bareWorkerdConfig(
  port: number,
  modules: string[],
  bindings: Record<string, string>,
  v8Flags: string[] = [],
): string {
  const { compatibilityDate, compatibilityFlags } = wranglerCompat();
  const text = (v: string) => JSON.stringify(v); // capnp text literals take JSON's escapes
  const kind = (f: string) => (f.endsWith('.yaml') ? 'text' : 'esModule');
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w), (name = "net", network = (allow = ["public", "private", "local"]))],${
    v8Flags.length ? `\n  v8Flags = [${v8Flags.map(text).join(', ')}],` : ''
  }
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [${modules.map((f) => `(name = ${text(f)}, ${kind(f)} = embed ${text(f)})`).join(', ')}],
  compatibilityDate = ${text(compatibilityDate)},
  compatibilityFlags = [${compatibilityFlags.map(text).join(', ')}],
  bindings = [${Object.entries(bindings)
    .map(([name, value]) => `(name = ${text(name)}, text = ${text(value)})`)
    .join(', ')}],
  globalOutbound = "net",
);
`;
}

/**
 * workerd serving `configPath` with its stdout unbuffered: V8 prints a `--trace-gc` trace there,
 * which a pipe would hold back. stdout and stderr are piped for the caller to read (or resume).
 */
export function spawnTracedWorkerd(configPath: string) {
  return spawn('stdbuf', ['-o0', workerdBinary(), 'serve', configPath, '--experimental'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * One fresh isolate, timed: Miniflare started with the bundle, then its first request twice (by
 * default `GET /health`; `request` gives another, bench:isolate-start --first real, made anew for
 * each of the two); wall ms of the start, the first request (a new isolate's) and the second (a
 * warm one). The bench's isolate cell and `bench:isolate-start` both take their samples here.
 */
export async function isolateSample(
  bundleDir: string,
  name: string,
  o: { vars?: Record<string, string>; request?: () => Promise<FirstRequest> } = {},
): Promise<{ startMs: number; firstMs: number; warmMs: number }> {
  const next = o.request ?? (async () => HEALTH);
  const [firstSpec, secondSpec] = [await next(), await next()];
  const t0 = performance.now();
  const mf = await startMiniflare(bundleDir, o.vars ?? { LOG_LEVEL: 'warn' });
  try {
    const t1 = performance.now();
    await sendFirst(mf.url, firstSpec, `${name}, first request`);
    const t2 = performance.now();
    await sendFirst(mf.url, secondSpec, `${name}, second request`);
    const t3 = performance.now();
    return { startMs: t1 - t0, firstMs: t2 - t1, warmMs: t3 - t2 };
  } finally {
    await mf.close();
  }
}

/**
 * A bundle folder holding the empty Worker (`fetch` answers 'ok', nothing else), removed when the
 * process exits: the runtime's (and Miniflare's) own first request, beside which ours' is judged.
 */
export function emptyWorkerBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mas-empty-worker-'));
  writeFileSync(join(dir, 'index.js'), "export default { fetch: () => new Response('ok') };\n");
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A bundle folder holding the I/O floor Worker (bench/lib/peers/io-floor-worker.ts: the
 * passthrough plus the gateway's Redis and Postgres I/O, made as ours makes it) as its index.js,
 * removed when the process exits: the runtime's own first _real_ request (its first fetch, its
 * first Upstash REST command, its first Postgres connection), beside which ours' is judged.
 * It needs the UPSTREAM binding (the fake upstream's origin) with the stack's Redis and Postgres.
 */
export function ioFloorWorkerBundle(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mas-io-floor-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const build = join(dir, 'build');
  const files = bundleWorker(join(import.meta.dirname, 'peers', 'io-floor-worker.ts'), build, 'io-floor');
  if (files.length !== 1) throw new Error(`the I/O floor bundled into ${files.length} modules: ${files}`);
  copyFileSync(join(build, files[0]!), join(dir, 'index.js'));
  return dir;
}

/**
 * `wrangler deploy --dry-run` of one Worker entry into `dir` (the project's compatibility date
 * and flags, minified as the deploys are); returns the module files written there.
 */
export function bundleWorker(entry: string, dir: string, name: string): string[] {
  const { compatibilityDate, compatibilityFlags } = wranglerCompat();
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'wrangler.toml');
  writeFileSync(
    config,
    [
      `name = ${JSON.stringify(name)}`,
      `main = ${JSON.stringify(entry)}`,
      `compatibility_date = ${JSON.stringify(compatibilityDate)}`,
      `compatibility_flags = ${JSON.stringify(compatibilityFlags)}`,
      'minify = true',
      'keep_names = false',
      '',
    ].join('\n'),
  );
  const out = join(dir, 'bundle');
  // On this Node (wrangler's bin script would start the system's, which may be older).
  const wrangler = join(
    createRequire(import.meta.url).resolve('wrangler/package.json'),
    '..',
    'bin',
    'wrangler.js',
  );
  const args = [wrangler, 'deploy', '--dry-run', '--config', config, '--outdir', out];
  const result = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (result.status !== 0) throw new Error(`bundling ${entry}: ${result.stderr || result.stdout}`);
  const files = readdirSync(out).filter((f) => /\.m?js$/.test(f));
  for (const f of files) copyFileSync(join(out, f), join(dir, f));
  return files;
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
  const { mkdtempSync, writeFileSync, copyFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { freePort } = await import('../../local/ports.ts');
  const dir = mkdtempSync(join(tmpdir(), 'mas-workerd-'));
  const modules = readdirSync(bundleDir)
    .filter((f) => /\.(m?js|yaml)$/.test(f))
    .sort((a, b) => Number(b === 'index.js') - Number(a === 'index.js'));
  for (const f of modules) copyFileSync(join(bundleDir, f), join(dir, f));
  const port = await freePort();
  writeFileSync(join(dir, 'config.capnp'), bareWorkerdConfig(port, modules, vars));
  // bench/profile.ts profiles the isolate through workerd's inspector (the DevTools protocol).
  const inspector = process.env.BENCH_INSPECTOR_PORT;
  const serveArgs = ['serve', join(dir, 'config.capnp'), '--experimental'];
  if (inspector) serveArgs.push(`--inspector-addr=127.0.0.1:${inspector}`);
  const child = spawn(workerdBinary(), serveArgs, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChild(child, dir);
  await untilHealthy(url, child, 'workerd', { ms: 60_000, stop, detail: () => stderr });
  return { url, close: stop };
}

async function startWranglerDev(vars: Record<string, string>): Promise<Server> {
  const { startDevWorker } = await import('../../test/node/dev-worker.ts');
  const worker = await startDevWorker(undefined, vars);
  return { url: `http://${worker.address}:${worker.port}`, close: () => worker.stop() };
}

/**
 * `npm start` on the bench's stack: its DATABASE_URL and Upstash settings are used as a user's
 * would be. PATH holds only node and node_modules/.bin, so it spawns no Pushgateway of its own
 * (the bench's stack runs none: pushes would add background requests to every figure).
 */
async function startNpmStartRuntime(vars: Record<string, string>): Promise<Server> {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { dirname } = await import('node:path');
  const { freePort } = await import('../../local/ports.ts');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'mas-bench-npm-start-'));
  const child = spawn(process.execPath, ['local/start.ts'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      HOME: process.env.HOME,
      PATH: [resolve('node_modules/.bin'), dirname(process.execPath)].join(':'),
      ...vars,
      PORT: String(port),
      MAS_DATA_DIR: dataDir,
      WRANGLER_SEND_METRICS: 'false',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  // SIGINT: local/start.ts stops its own children on it, as on a user's Ctrl-C.
  const stop = () => stopChild(child, dataDir, 'SIGINT');
  await untilHealthy(url, child, 'npm start', { ms: 120_000, stop, everyMs: 200 });
  return { url, close: stop };
}

/**
 * `node`: functions/index.ts from source (Node strips the TypeScript as it loads, esbuild the JSX);
 * `node-bundle`: the deploy bundle itself (`wrangler deploy --dry-run`'s minified index.js, what
 * workerd runs), like for like with Portkey's published build. Both through node/serve.mjs, the
 * project's Node entry; the bench starts `node-bundle` as plain JavaScript (bench/lib/serve-node.mjs,
 * see serveCommand) so no TypeScript stripper sits in the measured process.
 */
async function startNode(vars: Record<string, string>, bundleDir?: string): Promise<Server> {
  const { loadHandler, saveCompileCache, serveNode, useCompileCache } = await import('../../node/serve.mjs');
  let app: import('../../node/serve.mjs').Handler;
  // As node/serve.mjs run as a program: Node's compile cache for what loads from here on.
  useCompileCache();
  if (bundleDir) {
    app = await loadHandler(resolve(bundleDir, 'index.js'));
  } else {
    const { registerBenchHooks } = await import('./node-hooks.ts');
    registerBenchHooks();
    app = (await import('../../functions/index.ts')).default;
  }
  // A fixed port for the cold-start cell (polled from before the process exists).
  const server = await serveNode(app, { env: { ...vars }, port: Number(process.env.BENCH_PORT ?? 0) });
  saveCompileCache();
  return server;
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
  const stop = () => stopChild(child);
  await untilHealthy(url, child, 'deno', { ms: 60_000, stop, everyMs: 200 });
  return { url, close: stop };
}

/** SIGTERM to a server of the bench, resolved once it has exited, and its scratch folder removed. */
export function stopChild(
  child: ChildProcess,
  dir?: string,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  return new Promise<void>((done) => {
    const finish = () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      done();
    };
    if (child.exitCode !== null || child.signalCode !== null) return finish();
    child.once('exit', finish);
    child.kill(signal);
  });
}

/**
 * Polls until the child's server answers (by default `url`/health with a 2xx). When the child exits
 * first or the deadline passes, it stops the child (and removes its folder) before throwing, so a
 * failed start leaves no server running and no scratch folder behind.
 */
export async function untilHealthy(
  url: string,
  child: ChildProcess,
  what: string,
  o: {
    ms: number;
    stop: () => Promise<void>;
    detail?: () => string;
    /**
     * Did it answer? `signal` ends at the deadline: a server that takes the connection and never
     * answers cannot hold the wait past it.
     */
    probe?: (url: string, signal: AbortSignal) => Promise<boolean>;
    everyMs?: number;
  },
): Promise<void> {
  const probe =
    o.probe ??
    ((u, signal) =>
      fetch(`${u}/health`, { signal }).then(
        (r) => r.ok,
        () => false,
      ));
  const deadline = Date.now() + o.ms;
  for (;;) {
    let failure: string | undefined;
    if (child.exitCode !== null || child.signalCode !== null)
      failure = `${what} exited (${child.signalCode ?? `code ${child.exitCode}`})`;
    else if (await probe(url, AbortSignal.timeout(Math.max(1, deadline - Date.now())))) return;
    else if (Date.now() > deadline) failure = `${what} did not answer within ${o.ms / 1000} s`;
    if (failure !== undefined) {
      await o.stop();
      const more = o.detail?.();
      throw new Error(more ? `${failure}: ${more}` : failure);
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100));
  }
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
    case 'npm-start':
      return startNpmStartRuntime(vars);
    case 'node':
      return startNode(vars);
    case 'node-bundle':
      return startNode(vars, bundleDir);
    case 'deno':
      return startDeno(vars);
  }
}
