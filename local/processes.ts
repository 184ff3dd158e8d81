import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort, tcpAnswers, waitFor } from './ports.ts';

/** The absolute path of `binary` on PATH (plus the sbin dirs Debian puts daemons in), or undefined. */
export function findBinary(binary: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface ManagedProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a helper daemon and waits until `ready()` says it serves. Its output is kept (last
 * lines) and shown only if it fails to start, so the terminal stays readable.
 */
export async function startProcess(options: {
  name: string;
  command: string;
  args: string[];
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}): Promise<ManagedProcess> {
  const child = spawn(options.command, options.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString().split('\n').filter(Boolean));
    if (tail.length > 20) tail.splice(0, tail.length - 20);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const ok = await waitFor(async () => !exited && (await options.ready()), options.timeoutMs ?? 10_000);
  if (!ok) {
    child.kill('SIGKILL');
    throw new Error(`${options.name} did not start: ${tail.slice(-3).join(' | ') || 'no output'}`);
  }
  return { child, stop: () => stopChild(child) };
}

export type RedisServer = ManagedProcess & { url: string };

/**
 * A throwaway redis-server on a free loopback port, nothing persisted (the local stack's, and the
 * tests' that need a real Redis when REDIS_URL is not set), or undefined when it is not installed.
 */
export async function startRedisServer(): Promise<RedisServer | undefined> {
  const binary = findBinary('redis-server');
  if (!binary) return undefined;
  const port = await freePort();
  const proc = await startProcess({
    name: 'redis-server',
    command: binary,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ready: () => tcpAnswers(port),
  });
  return { ...proc, url: `redis://127.0.0.1:${port}` };
}

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
