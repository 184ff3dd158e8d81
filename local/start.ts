/**
 * `npm start`: the whole product locally, in one terminal. Starts the stack (local/stack.ts),
 * makes sure a local admin key exists, then serves every function on http://localhost:8001 as
 * deployed: the `wrangler deploy --dry-run` bundle on the bare workerd binary (local/workerd.ts).
 * `npm run dev` (`--dev`) serves the sources under `wrangler dev` instead, reloading on every
 * change. Ctrl-C stops everything it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { bundledMcp } from '../shared/config/compiled.ts';
import { needsDemoUpstream } from './demo/needs-demo.ts';
import { formatDotEnv, loadDotEnv } from './dotenv.ts';
import { createApiKey, isKeyActive } from './keys.ts';
import { DATA_DIR, MIGRATIONS_DIR, STACK_FILE } from './local-database.ts';
import { connectNodePostgres } from './node-postgres.ts';
import { freePort, isPortTaken, waitFor } from './ports.ts';
import { stopChild } from './processes.ts';
import { type Stack, startStack } from './stack.ts';
import { workerSettings } from './worker-settings.ts';
import { bundleFunctions, startWorkerd } from './workerd.ts';

const say = (service: string, message: string) => console.log(`[mas] ${service.padEnd(11)} ${message}`);
const fail = (message: string): never => {
  console.error(`[mas] error       ${message}`);
  process.exit(1);
};

/** wrangler's request log line (`[wrangler:info] GET /path 200 OK (3ms)`), colours or not. */
const REQUEST_LINE =
  /^\[wrangler:info\] (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE|QUERY) \S* \d{3}\b/;

function forwardWithoutRequestLines(from: Readable, to: Writable): void {
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    if (!REQUEST_LINE.test(stripVTControlCharacters(line))) to.write(`${line}\n`);
  });
}

/** `npm run dev`: wrangler dev with live reload instead of the deploy bundle on bare workerd. */
const dev = process.argv.includes('--dev');

loadDotEnv();
const port = Number(process.env.PORT ?? 8001);
if (!Number.isInteger(port) || port <= 0 || port > 65535)
  fail(`PORT=${process.env.PORT} is not a port number`);
if (await isPortTaken(port)) {
  fail(`port ${port} is already in use (another \`npm start\`?). Stop it, or run with PORT=<free port>.`);
}
mkdirSync(DATA_DIR, { recursive: true });

let stack: Stack | undefined;
let demoUpstream: { url: string; close(): Promise<void> } | undefined;
let demoMcp: { url: string; close(): Promise<void> } | undefined;
let server: { name: string; child: ChildProcess; stop(): Promise<void> } | undefined;
const stopBundling = new AbortController(); // Ctrl-C while it builds stops the build too
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('stop', 'stopping…');
  stopBundling.abort();
  await server?.stop();
  await demoUpstream?.close();
  await demoMcp?.close();
  await stack?.stop();
  rmSync(STACK_FILE, { force: true });
  say('stop', 'stopped');
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

// The deploy bundle builds while the stack comes up (npm start; npm run dev bundles its own).
const bundleDir = join(DATA_DIR, 'dist');
const bundleStarted = performance.now();
const bundling = dev
  ? Promise.resolve(0)
  : bundleFunctions(bundleDir, stopBundling.signal).then(() => performance.now() - bundleStarted);
bundling.catch(() => undefined); // awaited (and reported) below

try {
  stack = await startStack({ env: process.env, dataDir: DATA_DIR, migrationsDir: MIGRATIONS_DIR, log: say });
} catch (err) {
  fail((err as Error).message);
}
const running = stack!;

// A local admin key, so a fresh clone can call every route at once.
const adminKeyFile = join(DATA_DIR, 'admin-key');
if (!process.env.MAS_API_KEYS) {
  const db = await connectNodePostgres(running.databaseUrl);
  try {
    const saved = existsSync(adminKeyFile) ? readFileSync(adminKeyFile, 'utf8').trim() : '';
    if (!saved || !(await isKeyActive(db.client, saved))) {
      const created = await createApiKey(db.client, 'local-admin', 'admin');
      writeFileSync(adminKeyFile, `${created.key}\n`, { mode: 0o600 });
      chmodSync(adminKeyFile, 0o600);
      say('auth', `created a local admin key in ${adminKeyFile} (principal local-admin)`);
    } else {
      say('auth', `local admin key in ${adminKeyFile} (principal local-admin)`);
    }
  } finally {
    await db.close();
  }
} else {
  say('auth', 'keys from MAS_API_KEYS (and the auth.api_keys table)');
}

// Signs approval receipts and approvals-page sessions; one per local data dir, kept across restarts.
if (!process.env.APPROVAL_SECRET) {
  const secretFile = join(DATA_DIR, 'approval-secret');
  if (!existsSync(secretFile))
    writeFileSync(secretFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  process.env.APPROVAL_SECRET = readFileSync(secretFile, 'utf8').trim();
}

// A local webhook receiver or ledger witness (http://127.0.0.1:...) is the usual local setup:
// allow private targets here, explicitly; deployments keep the default (refused).
process.env.APPROVAL_WEBHOOK_ALLOW_PRIVATE ??= 'true';
process.env.LEDGER_WITNESS_ALLOW_PRIVATE ??= 'true';

// Signs ledger checkpoints; one per local data dir, kept across restarts (like the admin key).
if (!process.env.LEDGER_SIGNING_KEY) {
  const keyFile = join(DATA_DIR, 'ledger-signing-key');
  if (!existsSync(keyFile)) {
    const { generateSignerKey } = await import('../shared/audit/ledger-note.ts');
    const key = await generateSignerKey('mas-functions.local/ledger');
    writeFileSync(keyFile, `${key.signer}\n`, { mode: 0o600 });
    say('ledger', `created a local ledger signing key in ${keyFile} (public key: ${key.verifier})`);
  }
  process.env.LEDGER_SIGNING_KEY = readFileSync(keyFile, 'utf8').trim();
}

// No key and no LLM_BASE_URL: a newcomer still sees the whole flow against a clearly labelled
// demo upstream (local/demo/llm-upstream.ts: canned answers, no real model, keeps nothing).
if (needsDemoUpstream(process.env)) {
  const { startDemoUpstream } = await import('./demo/llm-upstream.ts');
  demoUpstream = await startDemoUpstream();
  process.env.LLM_BASE_URL = `${demoUpstream.url}/v1`;
  process.env.LLM_DEFAULT_PROVIDER = 'openai_compatible';
  for (const role of ['PLANNING', 'EXECUTION', 'FAST', 'FALLBACK'])
    process.env[`LLM_MODEL_${role}`] ??= 'demo';
  process.env.LLM_MODEL_EMBEDDING ??= 'demo-embed-768';
  say(
    'llm',
    `no OPENAI_API_KEY, GOOGLE_API_KEY, ANTHROPIC_API_KEY or LLM_BASE_URL: every role answers from a DEMO upstream on ${demoUpstream.url} (canned replies, not a model)`,
  );
} else {
  say(
    'llm',
    process.env.LLM_BASE_URL
      ? `LLM_BASE_URL ${process.env.LLM_BASE_URL}`
      : 'providers from config/models.yaml with the keys set',
  );
}

// No MCP server configured: a clearly labelled demo one (local/demo/mcp-server.ts, built with the
// SDK), so the README's gated tool call works on a fresh clone. docs/MCP.md configures real ones.
if (!process.env.MAS_MCP_YAML && Object.keys(bundledMcp.servers).length === 0) {
  const { startDemoMcpServer, DEMO_MCP_TOOLS } = await import('./demo/mcp-server.ts');
  demoMcp = await startDemoMcpServer();
  const tools = Object.entries(DEMO_MCP_TOOLS);
  process.env.MAS_MCP_YAML = JSON.stringify({
    wait_seconds: 10,
    servers: {
      demo: {
        url: `${demoMcp.url}/mcp`,
        allow: tools.map(([name]) => name),
        tools: Object.fromEntries(tools.map(([name, category]) => [name, { category }])),
      },
    },
  });
  say(
    'mcp',
    `no MCP servers in config/mcp.yaml: /mcp fronts a DEMO MCP server on ${demoMcp.url} (server "demo")`,
  );
}

// A YAML MAS_MODELS_YAML / MAS_MCP_YAML from .env becomes the JSON the workers read; text that is
// not YAML either stops here, naming the variable, rather than at the first request.
let vars: Record<string, string> = {};
try {
  vars = workerSettings(process.env, running.settings, { EXPOSE_METRICS: 'true' });
} catch (err) {
  console.error(`[mas] error       ${(err as Error).message}`);
  await shutdown(1);
}
writeFileSync(
  STACK_FILE,
  JSON.stringify({
    pid: process.pid,
    databaseUrl: running.databaseUrl,
    embeddedPostgres: running.embeddedPostgres,
    port,
  }),
);

const varsFile = join(DATA_DIR, 'dev.vars');
let fireScheduled: () => Promise<Response>;
if (dev) {
  try {
    writeFileSync(varsFile, formatDotEnv(vars), { mode: 0o600 });
  } catch (err) {
    console.error(`[mas] error       ${(err as Error).message}`);
    await shutdown(1);
  }
  say('functions', `starting wrangler dev (live reload) on http://localhost:${port} …`);
  const child = spawn(
    'wrangler',
    [
      'dev',
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--env-file',
      varsFile,
      '--show-interactive-dev-session=false',
      // Exposes /__scheduled, which the timer below calls once a minute like the deployed cron.
      '--test-scheduled',
      '--log-level',
      process.env.WRANGLER_LOG_LEVEL ?? 'log',
      '--persist-to',
      join(DATA_DIR, 'wrangler'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  // wrangler prints a line per request with the raw path (`GET /v1/integrations/x/sk-... 200 OK`)
  // and has no switch for it: drop those; the functions' own access log (route pattern, no path,
  // no query) already has one redacted JSON line per request.
  forwardWithoutRequestLines(child.stdout!, process.stdout);
  forwardWithoutRequestLines(child.stderr!, process.stderr);
  server = { name: 'wrangler dev', child, stop: () => stopChild(child) };
  fireScheduled = () => fetch(`http://127.0.0.1:${port}/__scheduled?cron=*+*+*+*+*`);
} else {
  // A dev.vars left by an earlier `npm run dev` holds secrets this run does not use.
  rmSync(varsFile, { force: true });
  let bundleMs = 0;
  try {
    bundleMs = await bundling;
  } catch (err) {
    if (!stopping) console.error(`[mas] error       ${(err as Error).message}`);
    await shutdown(1);
    await new Promise(() => undefined); // a Ctrl-C stopped the build: its shutdown exits
  }
  const workerd = startWorkerd({ bundleDir, vars, port, schedulerPort: await freePort() });
  server = { name: 'workerd', ...workerd };
  fireScheduled = () => fetch(workerd.schedulerUrl);
  say(
    'functions',
    `serving the deploy bundle (${bundleDir}, built in ${Math.round(bundleMs)} ms) on bare workerd, http://localhost:${port} …`,
  );
}
server.child.once('exit', (code) => {
  if (!stopping) {
    console.error(`[mas] error       ${server?.name} exited (code ${code}); see its output above`);
    void shutdown(1);
  }
});

const base = `http://127.0.0.1:${port}`;
const up = await waitFor(async () => (await fetch(`${base}/health`)).ok, 90_000, 250);
if (!up) {
  console.error('[mas] error       functions did not answer /health within 90 s');
  await shutdown(1);
}
const ready = await fetch(`${base}/ready`)
  .then(
    (r) =>
      r.json() as Promise<{ status: string; checks: Record<string, { status: string; error?: string }> }>,
  )
  .catch(() => undefined);
const checks = ready
  ? Object.entries(ready.checks)
      .map(([name, c]) => `${name}=${c.status}`)
      .join(' ')
  : 'unknown';
say('ready', `${ready?.status ?? 'unknown'} (${checks})`);
say(
  'serving',
  `http://localhost:${port}  (GET /health, /ready, /metrics, /approvals; /v1/audit/…, /v1/approvals/…)`,
);
say(
  'try',
  `make health | make ready | curl -H "authorization: Bearer $(cat ${adminKeyFile})" ${base}/v1/models`,
);
say('stop', 'Ctrl-C stops everything');

// Neither wrangler dev nor bare workerd runs crons: fire the scheduled handler each minute
// (approval expiry, ledger sealing and checkpoints), as the deployed trigger does.
setInterval(() => {
  fireScheduled().then(
    (r) => r.body?.cancel(),
    () => undefined,
  );
}, 60_000).unref();
