/**
 * `npm start`'s server: the functions bundled as a deploy bundles them (`wrangler deploy
 * --dry-run`), served by the bare `workerd` binary from a generated config. Nothing sits in front
 * of the worker (no dev proxy, no file watcher, no request-line logging), so what runs locally is
 * what runs deployed, at the runtime's own cost. `npm run dev` keeps `wrangler dev` for live reload.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stopChild } from './processes.ts';

/** compatibility_date and compatibility_flags of wrangler.toml's top level (what deploy uses). */
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

/** The combined deployment (wrangler.toml's top level) as `wrangler deploy` would upload it. */
export function bundleFunctions(outdir: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrangler', ['deploy', '--dry-run', '--outdir', outdir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      ...(signal ? { signal } : {}),
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = `${output}${chunk}`.slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`wrangler deploy --dry-run failed (code ${code}):\n${output}`)),
    );
  });
}

/** The workerd binary wrangler itself runs (the `workerd` package). */
export function workerdBinary(): string {
  const require = createRequire(import.meta.url);
  return join(require.resolve('workerd/package.json'), '..', 'bin', 'workerd');
}

// Fires the main worker's scheduled handler in the same isolate (a service binding's
// scheduled(), as Miniflare's /__scheduled does), on a loopback socket of its own: deployed
// Workers have no such route, so :8001 does not either.
const SCHEDULER = `export default {
  async fetch(request, env) {
    const cron = new URL(request.url).searchParams.get('cron') ?? '* * * * *';
    const result = await env.MAIN.scheduled({ cron, scheduledTime: Date.now() });
    return Response.json(result, { status: result.outcome === 'ok' ? 200 : 500 });
  },
};
`;

// Cap'n Proto text literals take C escapes; JSON.stringify's output is one for the ASCII names
// and file names used here. Setting values never go into the file (see bindings below).
const text = (v: string) => JSON.stringify(v);

export interface WorkerdServer {
  child: ChildProcess;
  /** GET here (optionally `?cron=...`) runs the scheduled handler once. */
  schedulerUrl: string;
  stop(): Promise<void>;
}

/**
 * Serves the bundle in `bundleDir` on `host:port`. Each setting is a binding read from workerd's
 * own environment (`fromEnvironment`), so values reach the worker byte for byte, with no file
 * format to quote them in, and no secret is written to disk. Its output (the functions' JSON
 * access log and errors) goes to ours.
 */
export function startWorkerd(options: {
  bundleDir: string;
  vars: Record<string, string>;
  port: number;
  schedulerPort: number;
  host?: string;
}): WorkerdServer {
  const host = options.host ?? '127.0.0.1';
  const { compatibilityDate, compatibilityFlags } = wranglerCompat();
  const modules = readdirSync(options.bundleDir)
    .filter((f) => /\.(m?js|wasm|yaml)$/.test(f))
    .sort((a, b) => (a === 'index.js' ? -1 : b === 'index.js' ? 1 : a.localeCompare(b)));
  const kind = (f: string) => (f.endsWith('.wasm') ? 'wasm' : f.endsWith('.yaml') ? 'text' : 'esModule');
  writeFileSync(join(options.bundleDir, 'scheduler.js'), SCHEDULER);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "scheduler", worker = .schedulerWorker),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
    (name = "http", address = ${text(`${host}:${options.port}`)}, http = (), service = "main"),
    (name = "scheduler", address = ${text(`127.0.0.1:${options.schedulerPort}`)}, http = (), service = "scheduler"),
  ],
);
const mainWorker :Workerd.Worker = (
  modules = [${modules.map((f) => `(name = ${text(f)}, ${kind(f)} = embed ${text(f)})`).join(', ')}],
  compatibilityDate = ${text(compatibilityDate)},
  compatibilityFlags = [${compatibilityFlags.map(text).join(', ')}],
  bindings = [${Object.keys(options.vars)
    .map((k) => `(name = ${text(k)}, fromEnvironment = ${text(k)})`)
    .join(', ')}],
  globalOutbound = "net",
);
const schedulerWorker :Workerd.Worker = (
  modules = [(name = "scheduler.js", esModule = embed "scheduler.js")],
  compatibilityDate = ${text(compatibilityDate)},
  compatibilityFlags = ["service_binding_extra_handlers"],
  bindings = [(name = "MAIN", service = "main")],
);
`;
  const configFile = join(options.bundleDir, 'workerd.capnp');
  writeFileSync(configFile, config);
  // --experimental: service_binding_extra_handlers (the scheduler's scheduled() call).
  const child = spawn(workerdBinary(), ['serve', configFile, '--experimental'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...options.vars },
  });
  return {
    child,
    schedulerUrl: `http://127.0.0.1:${options.schedulerPort}/`,
    stop: () => stopChild(child),
  };
}
