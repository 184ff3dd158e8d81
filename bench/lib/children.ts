/**
 * The bench runs every server (fake upstream, stack, runtime under test) in its own child process,
 * so the load generator owns the parent's event loop and each server's CPU time can be read from
 * /proc. A child announces itself with one JSON line on stdout; everything after goes to stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The Node every server runs on: the project's pinned `node` devDependency (Node 24), whatever
 * Node started the bench, so ours, the floors and Portkey always compare on the same runtime.
 */
export function pinnedNode(): string {
  const pinned = 'node_modules/node/bin/node';
  return existsSync(pinned) ? pinned : process.execPath;
}

/**
 * The script (and its arguments) that serves ours on `runtime` in a child process: `node-bundle`
 * is plain JavaScript (bench/lib/serve-node.mjs: node/serve.mjs and the deploy bundle, no
 * TypeScript stripper in the process, as in Portkey's), every other runtime bench/lib/serve.ts.
 */
export function serveCommand(runtime: string, bundleDir: string): [string, string[]] {
  if (runtime === 'node-bundle') return ['bench/lib/serve-node.mjs', [`${bundleDir}/index.js`]];
  return ['bench/lib/serve.ts', [runtime, bundleDir]];
}

/**
 * Bounds a bench script: whatever hangs, it ends after `seconds` with code 2 (the children are
 * killed on exit). `tag` prefixes the message, as the script's own log lines.
 */
export function giveUpAfter(tag: string, seconds: number): void {
  setTimeout(() => {
    console.error(`[${tag}] gave up after ${seconds} s`);
    process.exit(2);
  }, seconds * 1000).unref();
}

export interface Child<T> {
  pid: number;
  info: T;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let hooked = false;

/** Signals a child's whole process group (it was spawned detached), so grandchildren go too. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const child of running) signalGroup(child, 'SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Starts `node <script> <args>` and resolves with the first JSON line it prints. */
export function startChild<T>(
  name: string,
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; quiet?: boolean } = {},
): Promise<Child<T>> {
  killAllOnExit();
  const child = spawn(pinnedNode(), [script, ...args], {
    stdio: ['ignore', 'pipe', options.quiet ? 'ignore' : 'inherit'],
    env: { ...process.env, ...options.env },
    // Its own process group: an abrupt exit here can still take down what it started.
    detached: true,
  });
  running.add(child);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(force);
        running.delete(child);
        signalGroup(child, 'SIGKILL'); // stragglers it left behind
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within ${(options.timeoutMs ?? 120_000) / 1000} s`));
    }, options.timeoutMs ?? 120_000);
    const lines = createInterface({ input: child.stdout! });
    let announced = false;
    lines.on('line', (line) => {
      if (announced) return void process.stderr.write(`[${name}] ${line}\n`);
      if (!line.startsWith('{')) return void process.stderr.write(`[${name}] ${line}\n`);
      announced = true;
      clearTimeout(timer);
      resolve({ pid: child.pid!, info: JSON.parse(line) as T, stop });
    });
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (!announced) {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`));
      }
    });
  });
}
