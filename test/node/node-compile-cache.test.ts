import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinnedNode } from '../../bench/lib/children.ts';
import { COMPILE_CACHE_DIR } from '../../node/serve.mjs';

// node/serve.mjs run as a program keeps Node's compile cache in the project's folder and writes it
// once listening, so a server killed without a clean exit (SIGKILL, a crash) still leaves it for
// its restart. Node's own debug log (NODE_DEBUG_NATIVE=COMPILE_CACHE) says where it reads the
// cache from and whether V8 accepted the entry's code from it.

let dir: string;
let entry: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mas-node-compile-cache-'));
  entry = join(dir, 'index.js');
  // Unique source: no other run's cache can hold this module.
  writeFileSync(entry, `export default { fetch() { return new Response(${JSON.stringify(dir)}); } };`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `node node/serve.mjs <entry>`, answers one request, then SIGKILLs it; its debug log. */
async function startAndKill(env: Record<string, string> = {}): Promise<string> {
  const child = spawn(pinnedNode(), ['node/serve.mjs', entry], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', PORT: '0', NODE_DEBUG_NATIVE: 'COMPILE_CACHE', ...env },
  });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise((done) => child.once('exit', done));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const listening = /^mas on (\S+)/.exec(line);
        if (listening) resolve(listening[1]!);
      });
      child.once('exit', (code) => reject(new Error(`node/serve.mjs exited (${code}) before listening`)));
    });
    expect(await (await fetch(url)).text()).toBe(dir);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  return log;
}

const accepted = () => `V8 code cache for ESM ${pathToFileURL(entry).href} was accepted`;

describe('node/serve.mjs compile cache', () => {
  it('is written once listening, so a restart after SIGKILL compiles the entry from it', async () => {
    const first = await startAndKill();
    expect(first).toContain(`reading cache from ${COMPILE_CACHE_DIR}/`);
    expect(first).not.toContain(accepted());
    const second = await startAndKill();
    expect(second).toContain(accepted());
  });

  it("keeps the operator's NODE_COMPILE_CACHE folder", async () => {
    const own = join(dir, 'operator-cache');
    const log = await startAndKill({ NODE_COMPILE_CACHE: own });
    expect(log).toContain(`reading cache from ${own}/`);
    expect(log).not.toContain(`reading cache from ${COMPILE_CACHE_DIR}/`);
  });
});
