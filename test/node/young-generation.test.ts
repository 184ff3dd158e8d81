import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinnedNode, startChild } from '../../bench/lib/children.ts';

// node/young-generation.mjs: the Node entry execs itself once with an 8 MiB young generation,
// unless the operator set a size or the process has an IPC channel the exec would lose. Run as
// real programs (not through vitest's module runner), as an operator starts them.

interface Seen {
  pid: number;
  execArgv: string[];
  send: string;
}

// What the served process was started with, from inside it; with an IPC channel it also says so
// over process.send.
let dir: string;
let entry: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mas-node-young-'));
  entry = join(dir, 'index.js');
  writeFileSync(
    entry,
    `export default { fetch() {
       process.send?.({ pid: process.pid });
       return Response.json({ pid: process.pid, execArgv: process.execArgv, send: typeof process.send });
     } };`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `node [nodeArgs] node/serve.mjs <entry>` (forked when `ipc`), one request, then stopped. */
async function serveProgram(
  options: { nodeArgs?: string[]; env?: Record<string, string>; ipc?: boolean } = {},
): Promise<{ pid: number; seen: Seen; messages: unknown[] }> {
  const child = spawn(pinnedNode(), [...(options.nodeArgs ?? []), 'node/serve.mjs', entry], {
    stdio: ['ignore', 'pipe', 'inherit', ...(options.ipc ? (['ipc'] as const) : [])],
    env: { ...process.env, NODE_OPTIONS: '', PORT: '0', ...options.env },
  });
  const messages: unknown[] = [];
  child.on('message', (m) => messages.push(m));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const listening = /^mas on (\S+)/.exec(line);
        if (listening) resolve(listening[1]!);
      });
      child.once('exit', (code) => reject(new Error(`node/serve.mjs exited (${code}) before listening`)));
    });
    const seen = (await (await fetch(url)).json()) as Seen;
    if (options.ipc) await expect.poll(() => messages.length).toBeGreaterThan(0);
    return { pid: child.pid!, seen, messages };
  } finally {
    const exited = new Promise((done) => child.once('exit', done));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  }
}

const sized = (execArgv: string[]) =>
  execArgv.filter((a) => a.replaceAll('_', '-').startsWith('--max-semi-space-size'));

describe('node/serve.mjs young generation', () => {
  it('starts again, same pid, with an 8 MiB semi-space when none was set', async () => {
    const { pid, seen } = await serveProgram();
    expect(seen.pid).toBe(pid);
    expect(seen.execArgv).toContain('--max-semi-space-size=8');
  });

  it.each([
    ['NODE_OPTIONS, dashes', { env: { NODE_OPTIONS: '--max-semi-space-size=32' } }, []],
    ['NODE_OPTIONS, underscores', { env: { NODE_OPTIONS: '--max_semi_space_size=32' } }, []],
    ['the command line, dashes', { nodeArgs: ['--max-semi-space-size=32'] }, ['--max-semi-space-size=32']],
    [
      'the command line, underscores',
      { nodeArgs: ['--max_semi_space_size=32'] },
      ['--max_semi_space_size=32'],
    ],
  ])("leaves an operator's own size alone (%s)", async (_, options, own) => {
    const { seen } = await serveProgram(options);
    expect(sized(seen.execArgv)).toEqual(own);
  });

  it('keeps the IPC channel of a forked server (PM2 fork mode, process.send): no exec', async () => {
    const { pid, seen, messages } = await serveProgram({ ipc: true });
    expect(seen.send).toBe('function');
    expect(messages).toEqual([{ pid }]);
    expect(sized(seen.execArgv)).toEqual([]);
  });
});

describe('bench/lib/serve-node.mjs young generation', () => {
  it('execs to the same flag before loading node/serve.mjs', async () => {
    const child = await startChild<{ url: string }>('serve-node', 'bench/lib/serve-node.mjs', [entry], {
      env: { BENCH_VARS: '{}', NODE_OPTIONS: '' },
    });
    try {
      const seen = (await (await fetch(child.info.url)).json()) as Seen;
      expect(seen.pid).toBe(child.pid);
      expect(seen.execArgv).toContain('--max-semi-space-size=8');
    } finally {
      await child.stop();
    }
  });
});
