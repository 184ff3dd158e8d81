import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/auth/api-keys.ts';
import { startIntegrationsFake } from '../fakes/integrations-fake.ts';
import { type NpmStart, startNpmStart } from './npm-start.ts';

const AGENT_KEY = 'mas_sdk_test_agent_key_0123456789abcdef';
const APPROVER_KEY = 'mas_sdk_test_approver_key_0123456789abcdef';
const PYTHON_DIR = resolve(import.meta.dirname, '../../clients/python');
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

  it('python3 -m unittest: the snippet, the gate, the wait, a rejection, integrations (nothing skipped)', async () => {
    const run = await runPython(['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], {
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
  }, 240_000);
});

/** Runs python3 in clients/python; a missing python3 fails the test (it is required, not optional). */
function runPython(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn('python3', args, {
      cwd: PYTHON_DIR,
      env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
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
      fail(new Error(`python3 could not be started (${err.message}); the Python client's tests need it`)),
    );
    child.once('close', (code) => done({ code: code ?? -1, output }));
  });
}
