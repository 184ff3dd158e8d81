/**
 * Serves a Workers-style handler (`{ fetch(request, env, ctx) }`: functions/index.ts, or the deploy
 * bundle wrangler builds from it) on Node with @hono/node-server. The same code the Workers run:
 * `env` is the process environment read once (settings are parsed once per env object), and a
 * minimal execution context whose `waitUntil` lets background work run on after the response.
 *
 *   node node/serve.mjs dist/all/index.js        # PORT (8001) and HOST (127.0.0.1) from the env
 *
 * Run as a program it starts again with an 8 MiB young generation unless one was set
 * (node/young-generation.mjs: RSS and GC pauses under load); not when started with an IPC channel
 * (child_process.fork, PM2's fork mode, a cluster worker), which passes the flag itself.
 * Its outgoing calls go through node/fetch.mjs (plain calls over node:http; MAS_NODE_FETCH=native
 * keeps Node's fetch): undici's fetch was the largest single part of a chat request's CPU here.
 * It keeps Node's compile cache in node_modules/.cache/mas-node-compile, written once listening,
 * so a restart compiles the bundle from it (useCompileCache below).
 * Plain JavaScript on purpose: a `.ts` entry makes Node load its TypeScript stripper (~17 MiB of
 * RSS and ~30 ms of start-up CPU on Node 24) before anything of ours runs, which a bundle does not
 * need. No cron here: the scheduled handler (approval expiry, ledger checkpoints) is for the
 * Workers cron or `npm start`'s scheduler.
 */
// First, so it evaluates before anything else here: run as a program, the process starts again
// with an 8 MiB young generation unless one was set (node/young-generation.mjs says why).
import './young-generation.mjs';
import { enableCompileCache, flushCompileCache } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { installLeanFetch } from './fetch.mjs';

/** @typedef {{ fetch(request: Request, env: object, ctx: object): Response | Promise<Response> }} Handler */

/** How long close() waits for background work: the Workers runtime's own waitUntil limit. */
const DRAIN_MS = 30_000;

/**
 * One context for every request of a server: `waitUntil` keeps nothing alive but the promise
 * itself, and remembers it until it settles, so close() can let pending work (a usage batch, the
 * rate limiter's hits) finish before the process exits instead of dropping it.
 */
function executionContext() {
  /** @type {Set<Promise<unknown>>} */
  const pending = new Set();
  return {
    pending,
    ctx: {
      /** @param {Promise<unknown>} promise */
      waitUntil(promise) {
        const settled = Promise.resolve(promise).then(
          () => undefined,
          () => undefined,
        );
        pending.add(settled);
        void settled.then(() => pending.delete(settled));
      },
      passThroughOnException() {},
      props: {},
    },
  };
}

/** Resolves once every pending promise has settled, or after `ms`, whichever is first. */
async function drain(pending, ms) {
  let timer;
  const cap = new Promise((done) => {
    timer = setTimeout(done, ms);
    timer.unref?.();
  });
  // Work started while draining (a flush that schedules the next) is waited for too.
  while (pending.size > 0) {
    const all = Promise.all([...pending]);
    if ((await Promise.race([all.then(() => 'drained'), cap.then(() => 'cap')])) === 'cap') break;
  }
  clearTimeout(timer);
}

/**
 * Listens with `handler`; resolves once listening, with the origin and a close() that stops
 * listening and then waits (up to 30 s) for the background work requests left with waitUntil.
 * `fetch: 'lean'` (the default) makes node/fetch.mjs the process's fetch for as long as the server
 * runs (plain calls over node:http, the rest to Node's fetch); `'native'` leaves Node's.
 * @param {Handler} handler
 * @param {{ env: object, port?: number, hostname?: string, fetch?: 'lean' | 'native' }} options
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export function serveNode(handler, { env, port = 8001, hostname = '127.0.0.1', fetch = 'lean' }) {
  const { ctx, pending } = executionContext();
  const restoreFetch = fetch === 'native' ? () => undefined : installLeanFetch();
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: (request) => handler.fetch(request, env, ctx), hostname, port }, (info) =>
      resolve({
        url: `http://${hostname}:${info.port}`,
        // Stop taking requests, then let the background work of those answered finish.
        close: async () => {
          await new Promise((done) => server.close(() => done(undefined)));
          await drain(pending, DRAIN_MS);
          restoreFetch();
        },
      }),
    );
    server.once('error', reject);
  });
}

/**
 * `cloudflare:` modules a deploy bundle imports at its top (esbuild hoists them out of the lazy
 * imports that use them) but that Node never reaches: shared/db/postgres.ts takes the
 * `cloudflare:sockets` socket only under workerd and node:net here. Stubbed so the bundle loads;
 * a call would say why it fails.
 */
const WORKERD_ONLY = {
  'cloudflare:sockets': `export function connect() { throw new Error('cloudflare:sockets is workerd-only; on Node the driver uses node:net'); }`,
};
let hooked = false;
async function stubWorkerdModules() {
  if (hooked) return;
  hooked = true;
  const { registerHooks } = await import('node:module');
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const source = WORKERD_ONLY[specifier];
      if (source === undefined) return nextResolve(specifier, context);
      return {
        url: `data:text/javascript,${encodeURIComponent(source)}`,
        format: 'module',
        shortCircuit: true,
      };
    },
  });
}

/** Where the program keeps Node's compile cache: the project's own folder, not a shared /tmp. */
export const COMPILE_CACHE_DIR = fileURLToPath(
  new URL('../node_modules/.cache/mas-node-compile', import.meta.url),
);

/**
 * Node's compile cache (V8's code cache of each module loaded after this call, on disk, checked
 * against the module's source) for the program: a restart compiles the bundle from its cache
 * instead of from source (process start to first chat answer, the deploy bundle, median of 7:
 * 194 → 159 ms; bench/README.md, session 12). Kept under the project: a cache in the
 * world-writable /tmp could be planted by another local user. NODE_COMPILE_CACHE (the operator's
 * folder) wins, NODE_DISABLE_COMPILE_CACHE=1 turns it off, and a folder that cannot be written
 * only leaves it off: all Node's own rules.
 */
export function useCompileCache() {
  enableCompileCache(COMPILE_CACHE_DIR);
}

/**
 * Writes what was compiled so far: Node writes the cache only at a clean exit, which a server
 * stopped by SIGKILL (or a crash) never reaches. Called once listening, so the modules are in.
 */
export function saveCompileCache() {
  flushCompileCache();
}

/** The module's default export, resolved against the working directory. */
export async function loadHandler(path) {
  const { resolve } = await import('node:path');
  await stubWorkerdModules();
  return /** @type {{ default: Handler }} */ (await import(pathToFileURL(resolve(path)).href)).default;
}

if (import.meta.main) {
  const path = process.argv[2];
  if (!path) {
    console.error('usage: node node/serve.mjs <module with a Workers-style default export>');
    process.exit(2);
  }
  useCompileCache();
  const handler = await loadHandler(path);
  const env = { ...process.env };
  const server = await serveNode(handler, {
    env,
    port: Number(env.PORT ?? 8001),
    hostname: env.HOST ?? '127.0.0.1',
    // The escape hatch: Node's own fetch for every outgoing call.
    fetch: env.MAS_NODE_FETCH === 'native' ? 'native' : 'lean',
  });
  saveCompileCache();
  console.log(`mas on ${server.url} (Node ${process.versions.node})`);
  const stop = () => void server.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
