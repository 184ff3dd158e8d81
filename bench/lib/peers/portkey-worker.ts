/**
 * Portkey's gateway as a Worker, for the `portkey-workerd` peer: what a real gateway costs on the
 * same bare workerd as ours. Portkey deploys to Cloudflare Workers from its source (its repo's
 * `wrangler deploy src/index.ts`); the npm package holds only its Node build, build/start-server.js,
 * one minified ESM file that builds the same Hono app (its `getRuntimeKey()` branches pick the
 * workerd paths at run time) and then serves it with @hono/node-server. So at bench time that file
 * is bundled with esbuild (wrangler's own) into bench/.dist/portkey-workerd/worker.js, with:
 * - `@hono/node-server` replaced by a module whose `serve({ fetch })` keeps the app's fetch and
 *   exports it as the Worker's default: the app Portkey's Worker exports;
 * - `--headless` in `process.argv`, as the Node peer is started (no log UI routes);
 * - the tail after `serve()` cut (console.clear(), a one-second start-up spinner on timers, the
 *   banner and process.on handlers): start-up output only, and timers at a Worker's top level are
 *   refused;
 * - stubs for what only its Node paths reach: ws and @hono/node-ws (its Node /v1/realtime route;
 *   on workerd it registers its WebSocketPair route first) and ioredis (constructed only for
 *   REDIS_CONNECTION_STRING on Node, or a `redis` cache backend; the bench sets neither);
 * - the other node builtins (fs, path, https Agent, and avsc's util/stream/zlib…) left to
 *   workerd's nodejs_compat, a `require()` of one turned into an import as wrangler does.
 * Minified, as Portkey's deploy script (`wrangler deploy --minify`) ships it. Nothing of Portkey's
 * is committed: the installed @portkey-ai/gateway is the input.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';

const require = createRequire(import.meta.url);

/** The installed Node build of Portkey's gateway. */
export function portkeyEntry(): string {
  return join(require.resolve('@portkey-ai/gateway/package.json'), '..', 'build', 'start-server.js');
}

const SHIMS: Record<string, string> = {
  '@hono/node-server': `let app;
export function serve(options) { app = options.fetch; return {}; }
export default {
  fetch(request, env, ctx) {
    if (!app) throw new Error('portkey-workerd: the gateway never called serve()');
    return app(request, env, ctx);
  },
};`,
  '@hono/node-ws': `export function createNodeWebSocket() {
  return { injectWebSocket() {}, upgradeWebSocket: () => (c) => c.text('no Node WebSocket on workerd', 501) };
}`,
  ws: `export default class WebSocket { constructor() { throw new Error('ws is not available on workerd'); } }`,
  ioredis: `export default class Redis { constructor() { throw new Error('ioredis is not available on workerd'); } }`,
};

/**
 * start-server.js as a Worker module: `--headless` set before its body reads argv (its imports run
 * first, none reads argv), the start-up tail cut, the captured app exported. Throws when the file
 * is not shaped as 1.15.2's is, rather than bundle something else.
 */
export function workerSource(source: string): string {
  const cut = ',console.clear(),';
  const at = source.indexOf(cut);
  if (at < 0 || source.indexOf(cut, at + 1) >= 0) {
    throw new Error('portkey-workerd: build/start-server.js has not exactly one console.clear() to cut at');
  }
  const head = source.slice(0, at);
  const tail = source.slice(at);
  if (!/\(\{fetch:\w+\.fetch,port:\w+\}\)\)$/.test(head)) {
    throw new Error('portkey-workerd: console.clear() does not follow the serve({fetch, port}) call');
  }
  // What is cut must be start-up output only: no routes or middleware.
  if (/\.(get|post|put|delete|use|all|route)\(["'/]/.test(tail)) {
    throw new Error('portkey-workerd: the cut tail of build/start-server.js registers routes');
  }
  const headless =
    "while(process.argv.length<2)process.argv.push('');process.argv.splice(2,1/0,'--headless');";
  return `${headless}\n${head.replace(/^#!.*\n/, '')};\nexport { default } from '@hono/node-server';\n`;
}

function portkeyWorkerPlugin(entry: string): Plugin {
  const builtins = new Set(builtinModules);
  return {
    name: 'portkey-workerd',
    setup(build) {
      build.onResolve({ filter: /^(@hono\/node-server|@hono\/node-ws|ws|ioredis)$/ }, (a) => ({
        path: a.path,
        namespace: 'portkey-shim',
      }));
      build.onLoad({ filter: /.*/, namespace: 'portkey-shim' }, (a) => ({
        contents: SHIMS[a.path]!,
        loader: 'js',
      }));
      build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (a) => {
        const name = a.path.replace(/^node:/, '');
        if (!builtins.has(name)) return undefined;
        // A CommonJS require() of a builtin (avsc's): an ESM import of it, as wrangler does.
        if (a.kind === 'require-call') return { path: `node:${name}`, namespace: 'node-require' };
        return { path: `node:${name}`, external: true };
      });
      build.onLoad({ filter: /.*/, namespace: 'node-require' }, (a) => ({
        contents: `import m from ${JSON.stringify(a.path)}; module.exports = m;`,
        loader: 'js',
      }));
      build.onLoad({ filter: /start-server\.js$/ }, (a) =>
        a.path === entry ? { contents: workerSource(readFileSync(a.path, 'utf8')), loader: 'js' } : undefined,
      );
    },
  };
}

/** Bundles Portkey's gateway as one Worker module into `outDir`; returns its file name. */
export async function buildPortkeyWorker(outDir: string): Promise<string> {
  // wrangler's own esbuild (the one that bundles ours), wherever npm placed it.
  const esbuild = (await import(
    createRequire(require.resolve('wrangler/package.json')).resolve('esbuild')
  )) as typeof import('esbuild');
  const entry = portkeyEntry();
  mkdirSync(outDir, { recursive: true });
  const file = 'worker.js';
  await esbuild.build({
    entryPoints: [entry],
    outfile: join(outDir, file),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    minify: true,
    logLevel: 'error',
    plugins: [portkeyWorkerPlugin(entry)],
  });
  return file;
}
