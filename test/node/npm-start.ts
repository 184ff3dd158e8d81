import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { freePort } from '../../local/ports.ts';

export interface NpmStart {
  /** http://127.0.0.1:<port> once `ready` resolved. */
  readonly url: string;
  output(): string;
  /** Resolves once its migrations ran (so a second instance on the same database can start). */
  migrated: Promise<void>;
  /** Resolves once it serves; rejects with its output if it exits or takes too long. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../..');
const ATTEMPTS = 3;

/**
 * The product as `npm start` runs it (local/start.ts: the stack, a local admin key, the demo LLM
 * upstream, every function as the deploy bundle on bare workerd), or as `npm run dev` does
 * (`dev`: under `wrangler dev`), on a free port with its own data dir. `env` is what a user would
 * export first; DATABASE_URL / REDIS_URL pass through when set, as they would.
 * The free port can be taken by someone else before the server binds it (a busy shared machine):
 * then it starts again on another, up to 3 times.
 */
export function startNpmStart(env: Record<string, string>, options: { dev?: boolean } = {}): NpmStart {
  const dataDir = mkdtempSync(join(tmpdir(), 'mas-npm-start-'));
  let current: Launched | undefined;
  let url = '';
  const stop = async () => {
    await current?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let markMigrated: () => void = () => undefined;
  const migrated = new Promise<void>((r) => {
    markMigrated = r;
  });
  const ready = (async () => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      current = launch(port, dataDir, env, options.dev ?? false);
      const launched = current;
      const served = await until(launched, async () => {
        if (/\[mas\] postgres /.test(launched.output())) markMigrated();
        return /\[mas\] serving/.test(launched.output()) && (await fetch(`${url}/health`)).ok;
      });
      if (served) return;
      await launched.stop();
      const lostPort = /address already in use/i.test(launched.output());
      if (!lostPort || attempt >= ATTEMPTS) {
        rmSync(dataDir, { recursive: true, force: true });
        throw new Error(`npm start on ${url} did not come up:\n${launched.output()}`);
      }
    }
  })();
  ready.catch(() => markMigrated()); // a failed start must not leave the next instance waiting
  return {
    get url() {
      return url;
    },
    output: () => current?.output() ?? '',
    migrated,
    ready,
    stop,
  };
}

interface Launched {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function launch(port: number, dataDir: string, env: Record<string, string>, dev: boolean): Launched {
  const pass = (name: string) => (process.env[name] ? { [name]: process.env[name] as string } : {});
  let output = '';
  const child = spawn(process.execPath, ['local/start.ts', ...(dev ? ['--dev'] : [])], {
    cwd: ROOT,
    detached: true, // its own process group: a failed test can still take workerd (and wrangler) down
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: [join(ROOT, 'node_modules/.bin'), process.env.PATH].join(delimiter),
      HOME: process.env.HOME ?? tmpdir(),
      ...pass('DATABASE_URL'),
      ...pass('REDIS_URL'),
      PORT: String(port),
      MAS_DATA_DIR: dataDir,
      // A developer's .env must not point the test at real models: empty values win over it.
      OPENAI_API_KEY: '',
      GOOGLE_API_KEY: '',
      ANTHROPIC_API_KEY: '',
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
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT'); // start.ts stops the server and the stack it started
    const clean = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!clean && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  return { child, output: () => output, stop };
}

/** Polls `done` until true (resolves true), or the process exits or 180 s pass (resolves false). */
async function until(launched: Launched, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 180_000;
  while (!(await done().catch(() => false))) {
    const { child } = launched;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
