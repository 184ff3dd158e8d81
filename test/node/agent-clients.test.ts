import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Client from '../../clients/ts/src/index.ts';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startIntegrationsFake } from '../fakes/integrations-fake.ts';
import { type NpmStart, startNpmStart } from './npm-start.ts';

const AGENT_KEY = 'mas_sdk_test_agent_key_0123456789abcdef';
const APPROVER_KEY = 'mas_sdk_test_approver_key_0123456789abcdef';
const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON_DIR = resolve(ROOT, 'clients/python');
const DENO = resolve(ROOT, 'node_modules/.bin/deno'); // the `deno` devDependency
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// The Python suite's size: fewer tests ran means some were not found or not collected.
const MIN_PYTHON_TESTS = 20;

/**
 * Issue #24's "done when": the agent clients against the product as `npm start` runs it. Two
 * instances share the database: one with APPROVAL_REQUIRED=false (the issue's snippet, literally),
 * one with the gate on. The integration fake stands in for MINDEX, NatureOS and Website.
 */
describe('agent clients against npm start', () => {
  let fake: Awaited<ReturnType<typeof startIntegrationsFake>>;
  let open: NpmStart | undefined;
  let gated: NpmStart | undefined;

  beforeAll(async () => {
    fake = await startIntegrationsFake();
    const env = {
      // agent-1 is the principal of the snippet (`agent_id="agent-1"`).
      MAS_API_KEYS: `agent-1:agent:${await sha256Hex(AGENT_KEY)},sdk-approver:approver:${await sha256Hex(APPROVER_KEY)}`,
      MINDEX_API_URL: `${fake.url}/mindex`,
      MINDEX_API_KEY: 'mindex-sdk-test-key-000000',
      NATUREOS_API_URL: `${fake.url}/natureos`,
      NATUREOS_API_KEY: 'natureos-sdk-test-key-000000',
      WEBSITE_API_URL: `${fake.url}/website`,
      WEBSITE_API_KEY: 'website-sdk-test-key-000000',
      RATE_LIMIT_REQUESTS: '1000000',
    };
    // One after the other's migrations: two first runs against a fresh database would race.
    open = startNpmStart({ ...env, APPROVAL_REQUIRED: 'false' });
    await open.migrated;
    gated = startNpmStart({ ...env, APPROVAL_REQUIRED: 'true' });
    await Promise.all([open.ready, gated.ready]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([open?.stop(), gated?.stop()]);
    await fake?.close();
  }, 60_000);

  // The standard-library transport, then the httpx one (Debian's python3-httpx, which .ci/run
  // installs): the same suite, so both paths are held to the same behaviour.
  it.each([
    ['urllib', 'python3'],
    ['httpx', 'a python3 with httpx'],
  ])(
    'Python (%s): python3 -m unittest: the snippet, the gate, the wait, a rejection, integrations (nothing skipped)',
    async (transport, interpreter) => {
      const python = transport === 'httpx' ? await pythonWithHttpx() : 'python3';
      expect(python, `no ${interpreter} (apt-get install python3-httpx)`).toBeDefined();
      const run = await runPython(python!, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], {
        MAS_HTTP_CLIENT: transport,
        MAS_TEST_OPEN_URL: open!.url,
        MAS_TEST_GATED_URL: gated!.url,
        MAS_TEST_AGENT_KEY: AGENT_KEY,
        MAS_TEST_APPROVER_KEY: APPROVER_KEY,
        MAS_TEST_FAKE_URL: fake.url,
      });
      if (process.env.MAS_TEST_VERBOSE) console.log(run.output);
      const summary = `exit ${run.code}\n${run.output.slice(-6000)}`;
      expect(run.code, summary).toBe(0);
      const ran = Number(/^Ran (\d+) tests? in/m.exec(run.output)?.[1] ?? 0);
      expect(ran, summary).toBeGreaterThanOrEqual(MIN_PYTHON_TESTS);
      expect(run.output, summary).toMatch(/^OK$/m); // "OK (skipped=n)" would not match
      expect(run.output, summary).not.toMatch(/\bskipped\b|expected failure|unexpected success/i);
    },
    240_000,
  );

  it.each([
    ['Node', process.execPath, ['test/node/ts-client-smoke.ts']],
    ['Deno', DENO, ['run', '--allow-net', '--allow-env', '--allow-read', 'test/node/ts-client-smoke.ts']],
  ])(
    'the TypeScript client on %s, configured by MAS_BASE_URL / MAS_API_KEY only',
    async (runtime, command, args) => {
      const run = await runCommand(command, args, ROOT, {
        MAS_BASE_URL: gated!.url,
        MAS_API_KEY: AGENT_KEY,
        NO_COLOR: '1',
      });
      expect(run.code, run.output).toBe(0);
      const printed = JSON.parse(run.output.trim().split('\n').at(-1)!);
      expect(printed).toMatchObject({
        runtime: runtime.toLowerCase(),
        baseUrl: gated!.url,
        actionStatus: 'completed',
        reply: { role: 'assistant', content: 'Hello from the demo upstream.' },
        member: 'members',
        held: { approvalId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
      });
    },
    120_000,
  );

  it("npm start's demo MCP server answers through /mcp as server demo", async () => {
    const mcp = (id: number, method: string, params?: unknown) =>
      fetch(`${gated!.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${AGENT_KEY}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      }).then((r) => r.json() as Promise<{ result?: Record<string, unknown> }>);
    const listed = await mcp(1, 'tools/list');
    const names = ((listed.result?.tools ?? []) as Array<{ name: string }>).map((t) => t.name).sort();
    expect(names).toEqual(['demo__delete_file', 'demo__read_file', 'demo__transfer_funds']);
    const read = await mcp(2, 'tools/call', { name: 'demo__read_file', arguments: { path: '/notes.txt' } });
    expect(JSON.stringify(read.result?.content)).toContain('/notes.txt');
    expect(read.result?.isError).toBeFalsy();
  }, 60_000);

  it('the TypeScript client in headless Chromium: its build, loaded as ES modules by a page of the gateway', async () => {
    expect(CHROMIUM, 'chromium is needed (apt-get install chromium)').toBeDefined();
    // The package exactly as it ships (tsc's output), served to the page from the gateway's
    // origin, so the browser's own fetch, URL and AbortSignal do the work (no CORS involved).
    const dist = mkdtempSync(join(tmpdir(), 'mas-client-browser-'));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    try {
      execFileSync(
        process.execPath,
        [
          join(ROOT, 'node_modules/typescript/bin/tsc'),
          '-p',
          'clients/ts/tsconfig.build.json',
          '--outDir',
          dist,
        ],
        { cwd: ROOT, stdio: 'pipe' },
      );
      const page = await browser.newPage();
      await page.route('**/__mas_client/**', (route) =>
        route.fulfill({
          contentType: 'text/javascript',
          body: readFileSync(
            join(dist, new URL(route.request().url()).pathname.replace('/__mas_client/', '')),
          ),
        }),
      );
      await page.goto(`${gated!.url}/health`);
      // A module script, as a web app would load it (a string: the test runner rewrites import()).
      await page.addScriptTag({
        type: 'module',
        content: "import * as client from '/__mas_client/index.js'; globalThis.MasClient = client;",
      });
      await page.waitForFunction(() => 'MasClient' in globalThis);
      const result = await page.evaluate(
        async ({ key }) => {
          const origin = (globalThis as unknown as { location: { origin: string } }).location.origin;
          const { createClient, ApprovalPending } = (globalThis as unknown as { MasClient: typeof Client })
            .MasClient;
          const mas = createClient({ baseUrl: origin, apiKey: key, agent: { id: 'agent-1' } });
          const done = await mas.gated({ action_type: 'lookup', category: 'read', inputs: {} }, () => 'ran');
          const reply = await mas.llm.chat({ messages: [{ role: 'user', content: 'hi' }] });
          const held = await mas.integrations.mindex
            .deleteResource('projects', 'browser')
            .catch((e: unknown) => e);
          return {
            done,
            content: reply.choices[0]?.message.content,
            held: held instanceof ApprovalPending,
            userAgent: navigator.userAgent,
          };
        },
        { key: AGENT_KEY },
      );
      expect(result).toMatchObject({ done: 'ran', content: 'Hello from the demo upstream.', held: true });
      expect(result.userAgent).toMatch(/HeadlessChrome|Chrome/);
    } finally {
      await browser.close();
      rmSync(dist, { recursive: true, force: true });
    }
  }, 120_000);
});

function runPython(python: string, args: string[], env: Record<string, string>) {
  return runCommand(python, args, PYTHON_DIR, {
    ...env,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  });
}

/** python3 from PATH if it has httpx, else Debian's (/usr/bin/python3 with python3-httpx). */
async function pythonWithHttpx(): Promise<string | undefined> {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = await runCommand(python, ['-c', 'import httpx'], PYTHON_DIR, {}).catch(() => undefined);
    if (probe?.code === 0) return python;
  }
  return undefined;
}

/** Runs a command; one that cannot start (python3 missing) fails the test: it is required, not optional. */
function runCommand(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.once('error', (err) =>
      fail(new Error(`${command} could not be started (${err.message}); these tests need it`)),
    );
    child.once('close', (code) => done({ code: code ?? -1, output }));
  });
}
