/**
 * Brings up what a bench or load run needs, each in its own process: the stack (local/stack.ts,
 * as `npm start` does: DATABASE_URL / REDIS_URL when set, else embedded PGlite and a spawned
 * redis-server), the fast fake upstream, and the combined function on one runtime.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Child, serveCommand, startChild } from './children.ts';
import { findDescendants, findPostmaster } from './cpu.ts';
import type { FakeUpstreamOptions } from './fake-upstream.ts';
import { functionVars } from './keys.ts';
import type { Runtime } from './runtimes.ts';

export interface StackInfo {
  settings: Record<string, string>;
  databaseUrl: string;
  embeddedPostgres: boolean;
  redis: 'ok' | 'off';
}

export interface BenchEnv {
  stack: Child<StackInfo>;
  upstream: Child<{ url: string }>;
  /** The fake MCP server (the `mcp` cell's floor and upstream). */
  mcp: Child<{ url: string }>;
  fn: Child<{ url: string }>;
  /** The vars the function was started with (for more instances of it: other runtimes, cold starts). */
  vars: Record<string, string>;
  /**
   * Process trees to read CPU from: fn is the runtime's whole tree, workerd its workerd processes;
   * postgres is a local server's postmaster tree when DATABASE_URL points at one (shared with
   * anything else using that server: noisy).
   */
  watch: { fn: number; workerd: number[]; upstream: number; stack: number; postgres?: number };
  stop(): Promise<void>;
}

export interface SetupOptions {
  runtime: Runtime;
  upstream: FakeUpstreamOptions;
  /** The `all` bundle dir (workerd runtime). */
  bundleDir: string;
  redis: boolean;
  logLevel: string;
  log: (line: string) => void;
  /** More environment for the function's process (bench/profile.ts: NODE_OPTIONS=--cpu-prof). */
  fnEnv?: NodeJS.ProcessEnv;
}

export async function setupBench(o: SetupOptions): Promise<BenchEnv> {
  const started: Array<Child<unknown>> = [];
  const stopAll = async () => {
    for (const c of started.reverse()) await c.stop();
    started.length = 0;
  };
  try {
    const t0 = performance.now();
    const stack = await startChild<StackInfo>('stack', 'bench/lib/stack-process.ts', []);
    started.push(stack);
    o.log(
      `stack: ${stack.info.embeddedPostgres ? 'embedded PGlite' : 'DATABASE_URL'}, redis ${stack.info.redis}` +
        ` (${Math.round(performance.now() - t0)} ms)`,
    );
    const upstream = await startChild<{ url: string }>('upstream', 'bench/lib/fake-upstream.ts', [
      JSON.stringify(o.upstream),
    ]);
    started.push(upstream);
    o.log(`fake upstream: ${upstream.info.url} ${JSON.stringify(o.upstream)}`);
    const mcp = await startChild<{ url: string }>('mcp', 'test/fakes/mcp-fake.ts', []);
    started.push(mcp);
    o.log(`fake MCP server: ${mcp.info.url}`);
    const vars = functionVars({
      stackSettings: stack.info.settings,
      upstreamUrl: upstream.info.url,
      mcpUrl: mcp.info.url,
      redis: o.redis,
      logLevel: o.logLevel,
    });
    const t1 = performance.now();
    const [script, scriptArgs] = serveCommand(o.runtime, o.bundleDir);
    const fn = await startChild<{ url: string }>('fn', script, scriptArgs, {
      env: { BENCH_VARS: JSON.stringify(vars), WRANGLER_SEND_METRICS: 'false', ...o.fnEnv },
    });
    started.push(fn);
    o.log(`function on ${o.runtime}: ${fn.info.url} (${Math.round(performance.now() - t1)} ms to listen)`);
    const local = /@(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(stack.info.databaseUrl);
    const postmaster = !stack.info.embeddedPostgres && local ? findPostmaster() : undefined;
    return {
      stack,
      upstream,
      mcp,
      fn,
      vars,
      watch: {
        fn: fn.pid,
        workerd: findDescendants(fn.pid, /^workerd/),
        upstream: upstream.pid,
        stack: stack.pid,
        ...(postmaster ? { postgres: postmaster } : {}),
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Builds deployments with local/build-bundles.ts, `parallel` at a time, each in its own process. */
export async function buildBundles(
  deployments: string[],
  outRoot: string,
  parallel = 2,
): Promise<Array<{ deployment: string; rawBytes: number; gzipBytes: number; buildMs: number }>> {
  const queue = [...deployments];
  const results: Array<{ deployment: string; rawBytes: number; gzipBytes: number; buildMs: number }> = [];
  const worker = async () => {
    for (let d = queue.shift(); d; d = queue.shift()) {
      const t0 = performance.now();
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            '-e',
            `import('./local/build-bundles.ts').then((m) => console.log(JSON.stringify(m.buildBundle(${JSON.stringify(d)}, ${JSON.stringify(outRoot)}))))`,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b) => (stdout += b));
        child.stderr.on('data', (b) => (stderr += b));
        child.once('exit', (code) =>
          code === 0 ? resolve(stdout) : reject(new Error(`build ${d}: ${stderr}`)),
        );
      });
      results.push({
        ...JSON.parse(out.trim().split('\n').pop()!),
        buildMs: Math.round(performance.now() - t0),
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return deployments.map((d) => results.find((r) => r.deployment === d)!);
}

/** The deployments wrangler.toml defines: `all` plus one per [env.<name>]. */
export function deploymentsOf(root = '.'): string[] {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  return ['all', ...[...toml.matchAll(/^\[env\.([a-z0-9_-]+)\]\s*$/gm)].map((m) => m[1]!)];
}
