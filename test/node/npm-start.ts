import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { freePort } from '../../local/ports.ts';

export interface NpmStart {
  url: string;
  output(): string;
  /** Resolves once its migrations ran (so a second instance on the same database can start). */
  migrated: Promise<void>;
  /** Resolves once it serves; rejects with its output if it exits or takes too long. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The product as `npm start` runs it (local/start.ts: the stack, a local admin key, the demo LLM
 * upstream, every function under `wrangler dev`), on a free port with its own data dir. `env` is
 * what a user would export first; DATABASE_URL / REDIS_URL pass through when set, as they would.
 */
export async function startNpmStart(env: Record<string, string>): Promise<NpmStart> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'mas-npm-start-'));
  const root = resolve(import.meta.dirname, '../..');
  const pass = (name: string) => (process.env[name] ? { [name]: process.env[name] as string } : {});
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['local/start.ts'], {
    cwd: root,
    detached: true, // its own process group: a failed test can still take wrangler and workerd down
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: [join(root, 'node_modules/.bin'), process.env.PATH].join(delimiter),
      HOME: process.env.HOME ?? tmpdir(),
      ...pass('DATABASE_URL'),
      ...pass('REDIS_URL'),
      PORT: String(port),
      MAS_DATA_DIR: dataDir,
      // A developer's .env must not point the test at real models: empty values win over it.
      OPENAI_API_KEY: '',
      GOOGLE_API_KEY: '',
      LLM_BASE_URL: '',
      WRANGLER_LOG_LEVEL: 'warn',
      NO_COLOR: '1',
      ...env,
    },
  });
  const keep = (chunk: Buffer) => {
    output = `${output}${chunk}`.slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // start.ts stops wrangler and the stack it started
      const clean = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
      if (!clean && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const until = async (what: string, done: () => Promise<boolean>) => {
    const deadline = Date.now() + 180_000;
    while (!(await done().catch(() => false))) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`npm start on ${url} stopped before ${what}:\n${output}`);
      }
      await sleep(200);
    }
  };
  const migrated = until('its migrations', async () => /\[mas\] postgres /.test(output));
  const ready = migrated.then(() =>
    until('serving', async () => /\[mas\] serving/.test(output) && (await fetch(`${url}/health`)).ok),
  );
  ready.catch(() => undefined);
  return { url, output: () => output, migrated, ready, stop };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
