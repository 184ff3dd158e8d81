/**
 * Process start to first answer: spawns a fresh server process on a known port and polls one
 * request at it (every 2 ms while the port refuses) until the first 2xx; the time from before
 * `spawn` to that answer's end is the cold start: Node's own start, module loading, listening and
 * the first request's work. The process group is killed after each try.
 */
import { spawn } from 'node:child_process';
import type { RequestSpec } from './loadgen.ts';
import { sleep } from './loadgen.ts';

export async function coldStartMs(
  command: string,
  args: string[],
  request: RequestSpec,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<number> {
  const t0 = performance.now();
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited (${child.exitCode})`);
      if (performance.now() - t0 > timeoutMs) throw new Error(`no answer within ${timeoutMs} ms`);
      const res = await fetch(request.url, {
        method: request.method,
        headers: request.headers ?? {},
        ...(request.body ? { body: request.body } : {}),
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (res) {
        await res.arrayBuffer();
        if (res.ok) return performance.now() - t0;
        throw new Error(`${request.url} answered ${res.status} on a cold start`);
      }
      await sleep(2);
    }
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
  }
}
